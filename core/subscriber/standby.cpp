// Auto mode's warm standby (connection.hpp): a second session, to the next
// best gateway with the active connection's suite, whose tunnel is up with
// routing "none"; when the active gateway fails it is connected again with
// the configured routing, which moves the default route in one step
// (TunnelPlugin::supports_standby), and the old session is given back.
#include "subscriber/connection.hpp"
#include "subscriber/grant.hpp"
#include "util/once.hpp"

#include <boost/asio/post.hpp>

#include <algorithm>

namespace mnigs {

namespace {

// The standby is probed less often than the active gateway: it carries no
// traffic, and a second of delay in noticing that it died costs nothing
// until it is needed.
constexpr auto kStandbyProbeInterval = std::chrono::milliseconds(1000);
constexpr auto kStandbyDownAfter = std::chrono::milliseconds(3000);
// After a failed attempt, or with no candidate, the next look.
constexpr auto kStandbyRetry = std::chrono::seconds(5);
// How often the standby and the active gateway are weighed against the rest.
constexpr auto kReviewInterval = std::chrono::seconds(5);
// A score this much lower (ms of round trip, or 1 % of loss) at least, on
// top of 20 %: at round trips of a few ms a fifth is noise.
constexpr double kMinScoreGain = 10;
// A standby that lost more than this share of its recent probes is not
// switched to by choice.
constexpr double kSteadyLoss = 0.05;

// Whether listGateways' `gateways` say that `address` offers `suite`.
bool has_suite(const Json::Value& gateways, const std::string& address, const std::string& suite) {
  if (!gateways.isArray()) return false;
  for (const auto& g : gateways) {
    if (!g.isObject() || g["address"] != address || !g["suites"].isArray()) continue;
    for (const auto& s : g["suites"])
      if (s == suite) return true;
  }
  return false;
}

// Whether `a` is clearly better than `b`: before it on subscriber.prefer,
// or on the same entry (or neither on the list) with a score at most 80 %
// of its and kMinScoreGain lower. A small difference in round trips is no
// reason to move.
bool clearly_better(const GatewayChoice& a, const GatewayChoice& b, std::string* why) {
  if (a.prefer_at != b.prefer_at) {
    if (a.prefer_at > b.prefer_at) return false;
    *why = "before " + b.address + " on subscriber.prefer";
    return true;
  }
  if (a.score <= 0.8 * b.score && b.score - a.score >= kMinScoreGain) {
    *why = "score " + std::to_string(static_cast<long>(a.score)) + " against " +
           std::to_string(static_cast<long>(b.score)) + " of " + b.address;
    return true;
  }
  return false;
}

}  // namespace

bool ConnectionManager::standby_wanted() const {
  return !stopped_ && auto_active() && config_.get()->get_int("subscriber", "standby") > 0 &&
         state_ == State::connected && connection_ && !testing_temporary_;
}

void ConnectionManager::schedule_standby(std::chrono::milliseconds in) {
  if (!standby_wanted()) return;
  standby_timer_->expires_after(in);
  standby_timer_->async_wait([this](const boost::system::error_code& ec) {
    if (!ec) find_standby();
  });
}

void ConnectionManager::find_standby() {
  if (!standby_wanted() || standby_ || standby_busy_ || !env_.list_gateways) return;
  standby_busy_ = true;
  const auto round = ++standby_round_;
  // Only a standby of the active connection's own suite, so that one
  // tunnel plugin holds both and moves the route between them.
  plugins_.with_tunnel(connection_->tunnel_method(), [this, round](TunnelPlugin* t) {
    const bool supported = t && t->supports_standby();
    boost::asio::post(strand_, [this, round, supported] {
      if (round != standby_round_ || !standby_wanted() || !supported) {
        if (round == standby_round_) standby_busy_ = false;
        return;
      }
      env_.list_gateways([this, round](Json::Value gateways) {
        boost::asio::post(strand_, [this, round, gateways = std::move(gateways)] {
          if (round != standby_round_ || !standby_wanted()) {
            if (round == standby_round_) standby_busy_ = false;
            return;
          }
          std::vector<std::string> skipped;
          auto usable = usable_choices(gateways, skipped);
          const std::string active = connection_->gateway_address;
          const std::int64_t now = clock_();
          std::erase_if(standby_skip_, [now](const auto& s) { return s.second < now; });
          // Only gateways of the active connection's suite, and none that
          // failed as a standby lately.
          std::erase_if(usable, [&](const GatewayChoice& c) {
            return c.address == active || standby_skip_.count(c.address) ||
                   !has_suite(gateways, c.address, connection_->suite);
          });
          if (usable.empty()) {
            standby_busy_ = false;
            return schedule_standby(kStandbyRetry);
          }
          const GatewayChoice choice = usable.front();
          Connection c;
          c.gateway_address = choice.address;
          c.gateway_port = choice.port;
          acquire(c, connection_->suite, *standby_retry_,
                  [this, round, choice](std::optional<Connection> c, int, std::string error) {
                    if (round != standby_round_ || !standby_wanted()) {
                      if (c) give_back(*c);
                      if (round == standby_round_) standby_busy_ = false;
                      return;
                    }
                    if (!c) {
                      standby_busy_ = false;
                      log_.info("auto mode: no standby at ", choice.address, ": ", error);
                      // Left out as a standby only: as the active gateway
                      // it may still do.
                      skip_as_standby(choice.address);
                      return schedule_standby(kStandbyRetry);
                    }
                    standby_acquired(*c);
                  });
        });
      });
    });
  });
}

void ConnectionManager::standby_acquired(Connection c) {
  const auto round = standby_round_;
  plugins_.with_tunnel(c.tunnel_method(), [this, c, round](TunnelPlugin* t) {
    auto finish = once([this, c, round](std::string error, std::string device) mutable {
      c.device = std::move(device);
      boost::asio::post(strand_, [this, c, round, error] {
        if (round != standby_round_ || !standby_wanted() || !error.empty()) {
          if (error.empty()) {
            plugins_.with_tunnel(c.tunnel_method(), [this, c](TunnelPlugin* t) {
              if (t) t->disconnect(tunnel_session(c, true), [](std::string) {});
            });
          } else {
            log_.info("auto mode: no standby at ", c.gateway_address, ": ", error);
            skip_as_standby(c.gateway_address);
          }
          give_back(c);
          if (round != standby_round_) return;
          standby_busy_ = false;
          return schedule_standby(kStandbyRetry);
        }
        standby_busy_ = false;
        standby_ = std::make_unique<Standby>();
        standby_->c = c;
        if (auto target = probe_target(c)) {
          probe::ProberOptions o;
          o.interval = kStandbyProbeInterval;
          o.down_after = kStandbyDownAfter;
          o.device = c.device;
          standby_->prober = std::make_unique<probe::Prober>(
              strand_, probe_clock(),
              boost::asio::ip::udp::endpoint(*target, static_cast<std::uint16_t>(c.gateway_port)),
              o, [this](probe::Health h, const std::string& why) { on_standby_health(h, why); });
          if (auto error = standby_->prober->start(); !error.empty()) {
            log_.warn(error, "; the standby is not watched");
            standby_->prober.reset();
          }
        }
        log_.info("standby: ", c.gateway_address,
                  c.gateway_name.empty() ? "" : " (" + c.gateway_name + ")", ", session ",
                  c.session_id, ", ready to take over");
        Json::Value event(Json::objectValue);
        event["gateway"] = c.gateway_address;
        publish("subscriber.standby", event);
        renew_standby_in(std::chrono::seconds(std::max<std::int64_t>(1, c.timeout / 3)));
      });
    });
    if (!t) return finish("tunnel " + c.tunnel_method() + " is not running", "");
    open_tunnel(t, c.tunnel_method(), tunnel_session(c, true), finish);
  });
}

void ConnectionManager::skip_as_standby(const std::string& address) {
  if (standby_skip_.size() >= 256) standby_skip_.clear();
  standby_skip_[address] = clock_() + config_.get()->get_int("subscriber", "holdDown");
}

void ConnectionManager::renew_standby_in(std::chrono::seconds in) {
  standby_renewal_->expires_after(in);
  standby_renewal_->async_wait([this](const boost::system::error_code& ec) {
    if (!ec) renew_standby();
  });
}

void ConnectionManager::renew_standby() {
  if (!standby_ || stopped_) return;
  const Connection c = standby_->c;
  call_rpc(
      strand_, c.gateway_address, static_cast<std::uint16_t>(c.gateway_port), "renewConnection",
      credentials(c), kCallTimeout, [this, c](RpcReply r) {
        if (!standby_ || standby_->c.session_id != c.session_id) return;
        const std::int64_t now = clock_();
        if (r.ok()) {
          if (auto why = check_renewal(r.result); !why.empty()) {
            r.kind = RpcReply::Kind::transport;
            r.message = "the gateway's reply to renewConnection is unusable: " + why;
          }
        }
        if (r.ok()) {
          standby_->c.timeout = r.result["timeout"].asInt64();
          standby_->c.expires = now + standby_->c.timeout;
          if (r.result["uplink"].isBool() && !r.result["uplink"].asBool())
            return drop_standby("its uplink is down");
          return renew_standby_in(
              std::chrono::seconds(std::max<std::int64_t>(1, standby_->c.timeout / 3)));
        }
        if (r.kind == RpcReply::Kind::error &&
            (r.code == rpc_error::not_found || r.code == rpc_error::unauthorized))
          return drop_standby("the gateway refused to renew the session: " + r.message, false);
        if (now >= standby_->c.expires)
          return drop_standby("no renewal until the session expired (" + r.message + ")", false);
        renew_standby_in(
            std::chrono::seconds(std::clamp<std::int64_t>((standby_->c.expires - now) / 3, 1, 5)));
      });
}

void ConnectionManager::on_standby_health(probe::Health h, const std::string& why) {
  if (!standby_) return;
  if (h == probe::Health::down) {
    hold_down(standby_->c.gateway_address);
    drop_standby("it is down: " + why);
  } else if (h == probe::Health::degraded) {
    log_.info("standby ", standby_->c.gateway_address, " is degraded: ", why);
  }
}

void ConnectionManager::drop_standby(const std::string& reason, bool release) {
  ++standby_round_;  // an attempt in flight gives its session back
  standby_busy_ = false;
  better_since_.reset();
  standby_retry_->cancel();
  if (!standby_) return;
  std::unique_ptr<Standby> s = std::move(standby_);
  standby_renewal_->cancel();
  s->prober.reset();
  const Connection c = s->c;
  log_.info("standby ", c.gateway_address, " dropped: ", reason);
  plugins_.with_tunnel(c.tunnel_method(), [this, c](TunnelPlugin* t) {
    if (!t) return;
    t->disconnect(tunnel_session(c, true), [this](std::string error) {
      if (!error.empty()) log_.warn("taking the standby's tunnel down: ", error);
    });
  });
  if (release) give_back(c);
  schedule_standby(kStandbyRetry);
}

bool ConnectionManager::promote_standby(const std::string& reason) {
  if (!standby_ || !connection_ || state_ != State::connected) return false;
  // Only a standby known to answer: one not heard from yet is no better bet
  // than a cold switch, which chooses among all.
  if (!standby_->prober || standby_->prober->health() != probe::Health::up) return false;
  if (standby_->c.expires <= clock_()) return false;  // renewals failed until it expired
  std::unique_ptr<Standby> s = std::move(standby_);
  ++standby_round_;
  standby_busy_ = false;
  standby_renewal_->cancel();
  s->prober.reset();
  const Connection old = *connection_;
  Connection next = s->c;
  stop_watching();
  hold_down(old.gateway_address);
  state_ = State::connecting;
  log_.info("leaving ", old.gateway_address, " for the standby ", next.gateway_address, ": ",
            reason);
  plugins_.with_tunnel(next.tunnel_method(), [this, old, next, reason](TunnelPlugin* t) {
    auto finish = once([this, old, next, reason](std::string error, std::string device) mutable {
      next.device = std::move(device);
      boost::asio::post(strand_, [this, old, next, reason, error] {
        if (stopped_) {
          // Shut down meanwhile: the old connection's record stays for the
          // next start (which finds what became of it); the standby's
          // session goes back.
          state_ = State::idle;
          give_back(next);
          return;
        }
        if (!error.empty()) {
          // Neither works: the standby's session goes back, and the old
          // connection ends the cold way (the next best is chosen then).
          log_.warn("the standby ", next.gateway_address, " could not take over: ", error);
          plugins_.with_tunnel(next.tunnel_method(), [this, next](TunnelPlugin* t) {
            if (t) t->disconnect(tunnel_session(next, true), [](std::string) {});
          });
          give_back(next);
          state_ = State::connected;
          pending_from_ = old.gateway_address;
          pending_reason_ = reason;
          give_back(old);
          return tear_down(reason);
        }
        // The route is the standby's now: the old tunnel goes without
        // touching it, and its session is given back.
        plugins_.with_tunnel(old.tunnel_method(), [this, old](TunnelPlugin* t) {
          if (!t) return;
          t->disconnect(tunnel_session(old), [this](std::string error) {
            if (!error.empty()) log_.warn("taking the old tunnel down: ", error);
          });
        });
        give_back(old);
        log_.info("connection to ", old.gateway_address, " ended: ", reason);
        hooks_.fire("subscriber.onDisconnect", {{"SESSION_ID", old.session_id},
                                                {"GATEWAY", old.gateway_address},
                                                {"SUITE", old.suite},
                                                {"REASON", reason}});
        connection_ = next;
        state_ = State::connected;
        last_error_.clear();
        persist(next);
        start_probing(next);
        if (env_.connected) env_.connected(next.gateway_address);
        record_switch(old.gateway_address, next.gateway_address, reason + " (standby took over)");
        // Renewed on its own schedule until now, maybe retried close to its
        // expiry: the next renewal within a third of what is left.
        const std::int64_t left = std::max<std::int64_t>(0, next.expires - clock_());
        schedule_renewal(
            std::chrono::seconds(std::max<std::int64_t>(1, std::min(next.timeout, left) / 3)));
        log_.info("connected to ", next.gateway_address, " (", next.gateway_name, ") with ",
                  next.suite, ", session ", next.session_id, ", the standby");
        hooks_.fire("subscriber.onConnect", {{"SESSION_ID", next.session_id},
                                             {"GATEWAY", next.gateway_address},
                                             {"SUITE", next.suite},
                                             {"NAME", next.gateway_name},
                                             {"EXPIRES", std::to_string(next.expires)}});
        better_since_.reset();
        schedule_standby(std::chrono::milliseconds(0));
        schedule_review();
      });
    });
    if (!t) return finish("tunnel " + next.tunnel_method() + " is not running", "");
    open_tunnel(t, next.tunnel_method(), tunnel_session(next), finish);
  });
  return true;
}

void ConnectionManager::note_quality(const std::string& address, const probe::Prober* prober) {
  if (!prober || !prober->median_rtt_ms()) return;
  if (quality_.size() >= 256) quality_.clear();  // gateways come and go: keep it small
  quality_[address] = GatewayQuality{prober->median_rtt_ms(), prober->loss()};
}

void ConnectionManager::schedule_review() {
  if (!standby_wanted()) return;
  review_timer_->expires_after(kReviewInterval);
  review_timer_->async_wait([this](const boost::system::error_code& ec) {
    if (!ec) review();
  });
}

void ConnectionManager::review() {
  if (!standby_wanted() || !env_.list_gateways) return;
  note_quality(connection_->gateway_address, prober_.get());
  if (standby_) note_quality(standby_->c.gateway_address, standby_->prober.get());
  env_.list_gateways([this](Json::Value gateways) {
    boost::asio::post(strand_, [this, gateways = std::move(gateways)] {
      if (!standby_wanted()) return;
      std::vector<std::string> skipped;
      const auto usable = usable_choices(gateways, skipped);
      auto index = [&](const std::string& address) -> std::optional<std::size_t> {
        for (std::size_t i = 0; i < usable.size(); ++i)
          if (usable[i].address == address) return i;
        return std::nullopt;
      };
      const auto active_at = index(connection_->gateway_address);
      std::optional<std::size_t> best_other;
      for (std::size_t i = 0; i < usable.size() && !best_other; ++i)
        if (usable[i].address != connection_->gateway_address) best_other = i;
      std::string why;
      if (standby_ && best_other) {
        // A gateway clearly better than the standby (one back from its
        // hold-down, say) takes its place. A standby missing from the
        // ranking (full, counting our own session) stays: its renewals say
        // when it is gone.
        const auto standby_at = index(standby_->c.gateway_address);
        if (standby_at && *best_other < *standby_at &&
            has_suite(gateways, usable[*best_other].address, connection_->suite) &&
            clearly_better(usable[*best_other], usable[*standby_at], &why)) {
          const std::string better = usable[*best_other].address;
          drop_standby(better + " is better, " + why);
          schedule_standby(std::chrono::milliseconds(0));
          return schedule_review();
        }
      }
      const bool steady = standby_ && standby_->prober &&
                          standby_->prober->health() == probe::Health::up &&
                          standby_->prober->loss() <= kSteadyLoss;
      const auto standby_at = standby_ ? index(standby_->c.gateway_address) : std::nullopt;
      if (!steady || !active_at || !standby_at ||
          !clearly_better(usable[*standby_at], usable[*active_at], &why)) {
        better_since_.reset();
        return schedule_review();
      }
      const std::int64_t now = clock_();
      if (!better_since_) better_since_ = now;
      auto config = config_.get();
      const std::int64_t last_switch =
          switches_.empty() ? 0 : switches_[switches_.size() - 1]["time"].asInt64();
      if (now - *better_since_ < config->get_int("subscriber", "switchAfter") ||
          now - last_switch < config->get_int("subscriber", "holdDown"))
        return schedule_review();
      // Not failed, so not held down: the gateway left may be the standby.
      const std::string left = connection_->gateway_address;
      if (promote_standby("a clearly better gateway (" + why + ")"))
        held_down_.erase(left);
      else
        schedule_review();
    });
  });
}

Json::Value ConnectionManager::describe_standby() const {
  if (!standby_) return Json::Value();
  Json::Value v = standby_->c.describe();
  v["health"] = standby_->prober ? standby_->prober->figures() : Json::Value();
  return v;
}

}  // namespace mnigs
