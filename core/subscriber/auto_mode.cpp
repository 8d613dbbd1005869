// The subscriber's health probes, check targets and auto mode: choosing a
// gateway, leaving one that fails, the switches kept (connection.hpp).
#include "os/interfaces.hpp"
#include "probe/reach.hpp"
#include "subscriber/connection.hpp"
#include "util/json_text.hpp"
#include "util/net.hpp"
#include "util/text.hpp"

#include <boost/asio/post.hpp>

#include <algorithm>

namespace mnigs {

void ConnectionManager::start_probing(const Connection& c) {
  prober_.reset();
  auto config = config_.get();
  probe::ProberOptions o;
  o.interval = std::chrono::milliseconds(config->get_int("subscriber", "probeInterval"));
  o.down_after = std::max(std::chrono::milliseconds(config->get_int("subscriber", "downAfter")),
                          3 * o.interval);
  o.device = c.device;
  auto target = probe_target(c);
  if (!target) return;
  prober_ = std::make_unique<probe::Prober>(
      strand_, probe_clock(),
      boost::asio::ip::udp::endpoint(*target, static_cast<std::uint16_t>(c.gateway_port)), o,
      [this](probe::Health h, const std::string& why) { on_health(h, why); });
  if (auto error = prober_->start(); !error.empty()) {
    log_.warn(error, "; the connection is not watched");
    prober_.reset();
  }
  no_internet_rounds_ = 0;
  checks_ = Json::Value();
  schedule_checks(std::chrono::seconds(config->get_int("subscriber", "checkInterval")));
}

void ConnectionManager::schedule_checks(std::chrono::seconds in) {
  if (!check_timer_) check_timer_ = probe_clock().make_timer(strand_);
  check_timer_->expires_after(in);
  check_timer_->async_wait([this](const boost::system::error_code& ec) {
    if (!ec) run_checks();
  });
}

void ConnectionManager::run_checks() {
  if (stopped_ || state_ != State::connected || !connection_) return;
  auto config = config_.get();
  const auto next = std::chrono::seconds(config->get_int("subscriber", "checkInterval"));
  auto targets = config->get_list("subscriber", "checkTargets");
  if (targets.empty()) return schedule_checks(next);
  const auto round = ++check_round_;
  const std::string session = connection_->session_id;
  probe::check_reach(
      strand_, targets, std::chrono::seconds(3),
      [this, round, session, next](std::vector<probe::Reach> reach) {
        if (round != check_round_ || state_ != State::connected || !connection_ ||
            connection_->session_id != session || stopped_)
          return;
        bool any_valid = false, any_reached = false;
        std::string details;
        for (const auto& r : reach) {
          if (r.outcome == probe::Reach::Outcome::invalid) continue;
          any_valid = true;
          if (r.outcome != probe::Reach::Outcome::unreachable) any_reached = true;
          details += (details.empty() ? "" : "; ") + r.target + ": " + r.detail;
        }
        checks_ = probe::to_json(reach);
        no_internet_rounds_ = any_valid && !any_reached ? no_internet_rounds_ + 1 : 0;
        // The tunnel answers (else the probes decide) but nothing beyond it does.
        if (no_internet_rounds_ >= 2 && prober_ && prober_->health() == probe::Health::up) {
          Json::Value event(Json::objectValue);
          event["gateway"] = connection_->gateway_address;
          event["reason"] = "no check target reachable: " + details;
          log_.warn("gateway ", connection_->gateway_address, " has no Internet (", details, ")");
          publish("subscriber.degraded", event);
          if (auto_active()) return leave("the gateway has no Internet: " + details);
        }
        schedule_checks(next);
      });
}

std::optional<boost::asio::ip::address> ConnectionManager::probe_target(
    const Connection& c) const {
  // Through the tunnel: the gateway's tunnel address where the tunnel has
  // one, else its mesh address (forwarding: the mesh is the tunnel).
  std::optional<boost::asio::ip::address> target;
  for (const char* key : {"gateway4", "gateway6"})
    if (!target && c.tunnel[key].isString()) target = parse_address(c.tunnel[key].asString());
  if (!target) target = parse_address(c.gateway_address);
  return target;
}

void ConnectionManager::on_health(probe::Health h, const std::string& why) {
  if (state_ != State::connected || !connection_ || stopped_) return;
  if (testing_temporary_) return;  // a test's own connection: the test reports
  const std::string gateway = connection_->gateway_address;
  Json::Value event(Json::objectValue);
  event["gateway"] = gateway;
  event["reason"] = why;
  switch (h) {
    case probe::Health::up:
      log_.info("gateway ", gateway, " is up: ", why);
      publish("subscriber.up", event);
      return;
    case probe::Health::unknown: return;
    case probe::Health::down:
      log_.warn("gateway ", gateway, " is down: ", why);
      publish("subscriber.down", event);
      if (auto_active()) return leave("gateway down: " + why);
      log_.info("the connection is pinned (manual connect): staying with ", gateway);
      return;
    case probe::Health::degraded:
      log_.warn("gateway ", gateway, " is degraded: ", why);
      publish("subscriber.degraded", event);
      // A test's transfers fill the queues on purpose: not the gateway's fault.
      if (testing_) return;
      if (auto_active()) return leave("gateway degraded: " + why);
      return;
  }
}

bool ConnectionManager::auto_active() const {
  return !pinned_ && config_.get()->get_bool("subscriber", "auto");
}

void ConnectionManager::set_pinned(bool pinned) {
  pinned_ = pinned;
  kv_.put("pinned", pinned ? "1" : "0");
}

void ConnectionManager::auto_changed(bool unpin) {
  boost::asio::post(strand_, [this, unpin] {
    if (unpin && pinned_) set_pinned(false);
    if (auto_active()) {
      log_.info("auto mode on");
      // A gateway known to be failing is left now: its prober will not
      // say so again.
      if (state_ == State::connected && prober_ &&
          (prober_->health() == probe::Health::down ||
           prober_->health() == probe::Health::degraded))
        return leave(std::string("gateway ") + probe::to_string(prober_->health()) +
                     " when auto mode was turned on");
      schedule_consider(std::chrono::milliseconds(0));
    } else {
      auto_timer_->cancel();
    }
    // subscriber.auto or subscriber.standby changed, or a pin was lifted.
    if (standby_wanted()) {
      schedule_standby(std::chrono::milliseconds(0));
      schedule_review();
    } else
      drop_standby("no standby wanted now (auto mode off, pinned, or subscriber.standby 0)");
  });
}

void ConnectionManager::leave(const std::string& reason) {
  if (!connection_) return;
  if (promote_standby(reason)) return;
  const std::string from = connection_->gateway_address;
  hold_down(from);
  pending_from_ = from;
  pending_reason_ = reason;
  // The session is given back: the gateway need not hold it until it expires.
  give_back(*connection_);
  tear_down(reason);
}

void ConnectionManager::schedule_consider(std::chrono::milliseconds in) {
  if (stopped_ || !auto_active()) return;
  auto_timer_->expires_after(in);
  auto_timer_->async_wait([this](const boost::system::error_code& ec) {
    if (!ec) consider();
  });
}

void ConnectionManager::consider() {
  if (!auto_active() || stopped_ || state_ != State::idle || considering_ || testing_temporary_)
    return;
  if (!env_.list_gateways) {
    last_error_ = "auto mode: no gateway list to choose from";
    return;
  }
  considering_ = true;
  env_.list_gateways([this](Json::Value gateways) {
    boost::asio::post(strand_, [this, gateways = std::move(gateways)] {
      if (!auto_active() || stopped_ || state_ != State::idle) {
        considering_ = false;
        return;
      }
      std::vector<std::string> skipped;
      std::vector<GatewayChoice> usable = usable_choices(gateways, skipped);
      if (usable.empty()) {
        considering_ = false;
        std::string why = gateways.isArray() && gateways.size()
                              ? "auto mode: no usable gateway (" + join(skipped, "; ", "none") + ")"
                              : "auto mode: no gateway known yet; scanning";
        if (why != last_error_) log_.info(why);
        last_error_ = why;
        // A scan probes every node of the mesh: at most one a minute from here.
        if ((!gateways.isArray() || gateways.empty()) && env_.request_scan &&
            clock_() - last_scan_request_ >= 60) {
          last_scan_request_ = clock_();
          env_.request_scan();
        }
        return schedule_consider(std::chrono::seconds(2));
      }
      try_choices(std::move(usable), 0);
    });
  });
}

void ConnectionManager::hold_down(const std::string& address) {
  // The clock counts whole seconds: held through the whole second
  // now + holdDown, so never for less than holdDown seconds.
  held_down_[address] = clock_() + config_.get()->get_int("subscriber", "holdDown");
}

std::vector<GatewayChoice> ConnectionManager::usable_choices(const Json::Value& gateways,
                                                             std::vector<std::string>& skipped) {
  auto config = config_.get();
  ChoiceRules rules;
  rules.our_suites = plugins_.suites();
  rules.max_price = static_cast<double>(config->get_int("subscriber", "maxPrice"));
  rules.prefer = config->get_list("subscriber", "prefer");
  rules.avoid = config->get_list("subscriber", "avoid");
  for (const auto& a : os::routable_addresses()) rules.own_addresses.push_back(a);
  auto ranked = rank_gateways(gateways, rules, quality_, &skipped);
  const std::int64_t now = clock_();
  std::erase_if(held_down_, [now](const auto& h) { return h.second < now; });
  std::vector<GatewayChoice> usable;
  for (auto& c : ranked) {
    if (held_down_.count(c.address))
      skipped.push_back(c.address + ": left or failed less than subscriber.holdDown ago");
    else
      usable.push_back(std::move(c));
  }
  return usable;
}

void ConnectionManager::try_choices(std::vector<GatewayChoice> choices, std::size_t next) {
  // A few per pass: every one tried and failed is held down, so the next
  // pass goes on with the others, and an address that never answers costs
  // a call's timeout once per holdDown, not one per gateway in the list.
  constexpr std::size_t kPerPass = 3;
  if (stopped_ || !auto_active() || state_ != State::idle || next >= choices.size() ||
      next >= kPerPass) {
    considering_ = false;
    if (!stopped_) schedule_consider(std::chrono::seconds(2));
    return;
  }
  const GatewayChoice c = choices[next];
  log_.info("auto mode: connecting to ", c.address, c.name.empty() ? "" : " (" + c.name + ")",
            ", score ", static_cast<long>(c.score));
  Json::Value params(Json::objectValue);
  params["address"] = c.address;
  params["port"] = c.port;
  std::weak_ptr<int> alive = alive_;
  Responder reply([this, alive, choices = std::move(choices), next, c](bool ok,
                                                                       Json::Value payload) {
    if (alive.expired()) return;
    boost::asio::post(strand_, [this, choices, next, c, ok, payload] {
      if (ok) {
        considering_ = false;
        last_error_.clear();
        return;
      }
      hold_down(c.address);
      last_error_ = "auto mode: " + c.address + ": " + payload["message"].asString();
      try_choices(choices, next + 1);
    });
  });
  start_connect(params, reply, false);
}

void ConnectionManager::record_switch(const std::string& from, const std::string& to,
                                      const std::string& reason) {
  Json::Value s(Json::objectValue);
  s["time"] = static_cast<Json::Int64>(clock_());
  s["from"] = from;
  s["to"] = to;
  s["reason"] = reason;
  switches_.append(s);
  while (switches_.size() > kMaxSwitches) {
    Json::Value removed;
    switches_.removeIndex(0, &removed);
  }
  kv_.put("switches", to_json_text(switches_));
  log_.info("switched from ", from, " to ", to, ": ", reason);
  publish("subscriber.switched", s);
  hooks_.fire("subscriber.onSwitch", {{"FROM", from}, {"TO", to}, {"REASON", reason}});
}

void ConnectionManager::publish(const std::string& topic, Json::Value data) {
  if (env_.events) env_.events->publish(topic, std::move(data));
}

}  // namespace mnigs
