#include "gateway/sessions.hpp"

#include "dht/offer.hpp"

#include "store/sqlite.hpp"
#include "util/json_text.hpp"
#include "util/net.hpp"
#include "util/text.hpp"
#include "util/once.hpp"
#include "util/token.hpp"

#include <boost/asio/post.hpp>

#include <algorithm>

namespace mnigs {

std::string GatewaySession::tunnel_method() const { return suite_part(suite, 1); }

Json::Value usage(const GatewaySession& s, std::int64_t now) {
  Json::Value u(Json::objectValue);
  u["bytesOut"] = static_cast<Json::Int64>(s.used.out);
  u["bytesIn"] = static_cast<Json::Int64>(s.used.in);
  u["seconds"] = static_cast<Json::Int64>(std::max<std::int64_t>(0, now - s.created));
  return u;
}

Json::Value GatewaySession::describe(std::int64_t now) const {
  Json::Value v(Json::objectValue);
  v["sessionId"] = id;
  v["subscriber"] = subscriber_address;
  v["gatewayAddress"] = gateway_address;
  v["name"] = name;
  v["port"] = port;
  v["suite"] = suite;
  if (!subscriber_key.empty()) v["subscriberKey"] = subscriber_key;
  v["created"] = static_cast<Json::Int64>(created);
  v["expires"] = static_cast<Json::Int64>(expires);
  v["used"] = usage(*this, now);
  return v;
}

namespace {

// The payment part of a session's record.
Json::Value payment_record(const GatewaySession& s) {
  Json::Value p(Json::objectValue);
  p["charged"] = s.charged;
  p["portal"] = s.portal;
  p["portalPort"] = s.portal_port;
  Json::Value ids(Json::arrayValue);
  for (auto id : s.vouchers) ids.append(static_cast<Json::Int64>(id));
  p["vouchers"] = ids;
  return p;
}

// Reads it back; a record that does not hold one leaves the session charged
// with no voucher (unpaid, never refilled).
void read_payment_record(const Json::Value& p, GatewaySession& s) {
  s.charged = !p.isObject() || !p["charged"].isBool() || p["charged"].asBool();
  if (!p.isObject()) return;
  if (p["portal"].isString()) s.portal = p["portal"].asString();
  if (p["portalPort"].isInt() && p["portalPort"].asInt() > 0 && p["portalPort"].asInt() < 65536)
    s.portal_port = static_cast<std::uint16_t>(p["portalPort"].asInt());
  if (p["vouchers"].isArray())
    for (const auto& id : p["vouchers"])
      if (id.isInt64()) s.vouchers.push_back(id.asInt64());
}

std::map<std::string, std::string> hook_details(const GatewaySession& s) {
  return {{"SESSION_ID", s.id},   {"SUBSCRIBER", s.subscriber_address},
          {"GATEWAY", s.gateway_address}, {"SUITE", s.suite},
          {"NAME", s.name},       {"EXPIRES", std::to_string(s.expires)}};
}

TunnelSession tunnel_session(const GatewaySession& s) {
  return TunnelSession{s.id,     s.suite,  s.subscriber_address, s.gateway_address,
                       s.tunnel, s.subscriber_key};
}

bool same_address(const std::string& a, const std::string& b) {
  auto x = parse_address(a), y = parse_address(b);
  return x && y && unmap(*x) == unmap(*y);
}

}  // namespace

SessionManager::SessionManager(boost::asio::io_context& io, const ConfigHolder& config,
                               Store& store, PluginHost& plugins, Hooks& hooks, Clock clock)
    : io_(io),
      strand_(boost::asio::make_strand(io)),
      config_(config),
      store_(store),
      plugins_(plugins),
      hooks_(hooks),
      clock_(std::move(clock)),
      timer_(strand_),
      meter_timer_(strand_),
      policy_timer_(strand_) {}

void SessionManager::start(std::function<void()> done) {
  if (!meter_) return load({}, std::move(done));
  meter_->start([this, done](MeterReading left) {
    meter_->set_uplinks(config_.get()->get_list("gateway", "uplinks"));
    boost::asio::post(strand_, [this, done, left = std::move(left)] { load(left, done); });
  });
}

void SessionManager::load(MeterReading left, std::function<void()> done) {
  struct Stored {
    std::vector<GatewaySession> sessions;
    std::vector<Voucher> vouchers;
    std::vector<std::string> bad;  // rows that could not be read, and why
  };
  store_.query<Stored>(
      [](sqlite3* db) {
        Stored stored;
        stored.vouchers = load_vouchers(db, &stored.bad);
        std::vector<GatewaySession>& out = stored.sessions;
        Statement st(db,
                     "SELECT id, secret, subscriber_address, gateway_address, name, port, suite, "
                     "tunnel, created, expires, bytes_out, bytes_in, payment, subscriber_key "
                     "FROM gateway_sessions");
        while (st.step()) {
          GatewaySession s;
          s.id = st.column_text(0);
          s.secret = st.column_text(1);
          s.subscriber_address = st.column_text(2);
          s.gateway_address = st.column_text(3);
          s.name = st.column_text(4);
          s.port = static_cast<int>(st.column_int64(5));
          s.suite = st.column_text(6);
          s.tunnel = from_json_text(st.column_text(7));
          s.created = st.column_int64(8);
          s.expires = st.column_int64(9);
          s.stored_expires = s.expires;
          s.used = {st.column_int64(10), st.column_int64(11)};
          read_payment_record(from_json_text(st.column_text(12)), s);
          s.subscriber_key = st.column_text(13);
          out.push_back(std::move(s));
        }
        return stored;
      },
      strand_,
      [this, done, left](Stored all) {
        for (const auto& why : all.bad) log_.warn(why);
        for (auto& v : all.vouchers) {
          if (auto it = left.accounts.find(v.id); it != left.accounts.end()) {
            v.used_bytes += it->second;
            vouchers_changed_.insert(v.id);
          }
          voucher_codes_[v.code] = v.id;
          vouchers_[v.id] = std::move(v);
        }
        std::vector<GatewaySession>& stored = all.sessions;
        auto remaining = std::make_shared<std::size_t>(stored.size() + 1);
        auto one_done = [this, remaining, done] {
          if (--*remaining == 0) {
            ready_ = true;
            schedule_expiry();
            schedule_reading();
            persist_usage();
            apply_policies();
            boost::asio::post(io_, done);
          }
        };
        // What went through after the last reading before a kill -9.
        for (auto& s : stored) {
          if (auto it = left.sessions.find(s.id); it != left.sessions.end()) {
            s.used.out += it->second.out;
            s.used.in += it->second.in;
            s.used_changed = true;
          }
        }
        const std::int64_t now = clock_();
        for (auto& s : stored) {
          if (s.expires <= now) {
            log_.info("session ", s.id, " of ", s.subscriber_address,
                      " expired while mnigsd was not running");
            forget(s.id);
            hooks_.fire("gateway.onRelease", hook_details(s));
            one_done();
            continue;
          }
          // Resume: the tunnel end was removed by the reset at start. The
          // meter holds the session (by the addresses it was given before)
          // first, so that nothing goes through the tunnel end unmetered.
          meter(s, [](bool) {});
          plugins_.with_tunnel(s.tunnel_method(), [this, s, one_done](TunnelPlugin* t) {
            if (!t) {
              boost::asio::post(strand_, [this, s, one_done] {
                unmeter(s.id);
                // Shutting down meanwhile: keep the record for the next start.
                if (!stopped_) {
                  log_.warn("session ", s.id, ": tunnel ", s.tunnel_method(),
                            " is not running; the session is dropped");
                  forget(s.id);
                }
                one_done();
              });
              return;
            }
            t->open_session(tunnel_session(s), once([this, s, one_done](std::string error,
                                                                        Json::Value params) {
              boost::asio::post(strand_, [this, s, one_done, error, params]() mutable {
                if (!error.empty()) {
                  log_.warn("session ", s.id, " could not be resumed: ", error);
                  unmeter(s.id);
                  if (!stopped_) forget(s.id);
                } else {
                  const bool moved = params != s.tunnel;
                  s.tunnel = params;
                  sessions_[s.id] = s;
                  tell_holders(s, false);
                  // Other tunnel addresses this time: metered by those.
                  if (moved) meter(s, [](bool) {});
                  log_.info("session ", s.id, " of ", s.subscriber_address, " resumed");
                }
                one_done();
              });
            }));
          });
        }
        one_done();
      },
      [done, this](std::string error) {
        log_.error("cannot load gateway sessions: ", error);
        boost::asio::post(io_, done);
      });
}

void SessionManager::stop(std::function<void()> done) {
  boost::asio::post(strand_, [this, done] {
    stopped_ = true;
    timer_.cancel();
    meter_timer_.cancel();
    policy_timer_.cancel();
    // The records stay for the next start. The tunnel ends are not closed
    // one by one: the reset of every tunnel plugin that follows at shutdown
    // removes all of them at once (one by one, 1000 sessions took about
    // 20 s of commands here).
    if (!meter_ || !ready_) return boost::asio::post(io_, done);
    // The last reading is written. The table stays until the tunnels are
    // gone (Daemon::shutdown), so nothing goes through unmetered meanwhile.
    meter_->read([this, done](MeterReading r) {
      boost::asio::post(strand_, [this, done, r = std::move(r)] {
        account(r);
        boost::asio::post(io_, done);
      });
    });
  });
}

void SessionManager::request(const Json::Value& params, const CallInfo& caller, Responder reply) {
  boost::asio::post(strand_, [this, params, caller, reply] {
    auto config = config_.get();
    if (stopped_) return reply.error(rpc_error::unavailable, "mnigsd is shutting down");
    if (!config->get_bool("gateway", "enabled"))
      return reply.error(rpc_error::failed, "this node is not a gateway (gateway.enabled is false)");
    if (uplink_up_ && !uplink_up_())
      return reply.error(rpc_error::unavailable,
                         "this gateway's uplink is down (gateway.uplinkCheck); try another");
    if (!params.isObject() && !params.isNull())
      return reply.error(rpc_error::invalid_params,
                         "requestConnection params must be an object: {\"suite\", \"name\", "
                         "\"port\"}");
    const Json::Value p = params.isNull() ? Json::Value(Json::objectValue) : params;
    // Types first: asString()/asInt() throw on anything else, and this is
    // input from any node on the mesh.
    for (const char* key : {"suite", "method", "name", "subscriberKey"})
      if (p.isMember(key) && !p[key].isString())
        return reply.error(rpc_error::invalid_params, std::string(key) + " must be a string");
    if (p.isMember("port") && (!p["port"].isInt() || p["port"].asInt() < 1 ||
                               p["port"].asInt() > 65535))
      return reply.error(rpc_error::invalid_params, "port must be an integer 1..65535");
    if (!ready_)
      return reply.error(rpc_error::unavailable, "the gateway is starting; try again shortly");
    if (in_flight_.count(caller.remote_address))
      return reply.error(rpc_error::conflict,
                         "a request from " + caller.remote_address + " is already in progress");
    std::string suite = p.isMember("suite") ? p["suite"].asString() : p["method"].asString();
    auto offered = plugins_.offered_suites(config->get_list("gateway", "payments"));
    if (offered.empty()) return reply.error(rpc_error::failed, "this gateway offers no suite");
    if (suite.empty()) suite = offered.front();
    if (std::find(offered.begin(), offered.end(), suite) == offered.end()) {
      return reply.error(rpc_error::invalid_params,
                         "suite \"" + suite + "\" is not offered here; offered: " + join(offered));
    }
    if (p["name"].asString().size() > 64)
      return reply.error(rpc_error::invalid_params, "name must be a string of at most 64 bytes");
    // Only the syntax here: what the key must be is the tunnel's to say.
    const std::string subscriber_key = p["subscriberKey"].asString();
    if (p.isMember("subscriberKey"))
      if (auto why = check_tunnel_key(suite_part(suite, 1), subscriber_key); !why.empty())
        return reply.error(rpc_error::invalid_params, "subscriberKey: " + why);

    // A subscriber that asks again (it lost its state) replaces its session.
    // Not at a web page's word: any site a visitor opens could then end the
    // session of the visitor's address (CORS); such a page renews
    // or releases with the secret instead.
    for (auto it = sessions_.begin(); it != sessions_.end(); ++it) {
      if (same_address(it->second.subscriber_address, caller.remote_address)) {
        if (caller.cross_origin)
          // Its id is not told: a page of any site may be asking.
          return reply.error(rpc_error::conflict,
                             "a session of " + caller.remote_address +
                                 " is live; a page from another origin cannot replace it: "
                                 "renew it, or release it with its secret first");
        log_.info("session ", it->first, " of ", caller.remote_address,
                  " replaced by a new request");
        end_session(it->second, "replaced");
        sessions_.erase(it);
        break;
      }
    }
    auto limit = static_cast<std::size_t>(config->get_int("gateway", "maxConnections"));
    if (sessions_.size() + pending_ >= limit)
      return reply.error(rpc_error::capacity,
                         "gateway full: " + std::to_string(limit) +
                             " sessions (gateway.maxConnections) are in use; try later or "
                             "another gateway");

    GatewaySession s;
    s.id = random_hex(16);
    s.secret = random_hex(32);
    s.subscriber_address = caller.remote_address;
    s.gateway_address = caller.local_address;
    s.name = p["name"].asString();
    s.port = p.isMember("port") ? p["port"].asInt() : 65533;
    s.suite = suite;
    s.subscriber_key = subscriber_key;
    const std::int64_t timeout = config->get_int("gateway", "subscriberTimeout");
    ++pending_;
    in_flight_.insert(s.subscriber_address);
    // The payment method says whether the session must be paid for.
    plugins_.with_payment(suite_part(suite, 2), [this, s, reply, timeout](PaymentPlugin* pay) {
      GatewaySession with = s;
      bool found = pay != nullptr;
      try {
        if (pay) {
          with.charged = pay->charges();
          with.portal = pay->portal(s.gateway_address);
          with.portal_port = pay->portal_port();
        }
      } catch (const std::exception&) {
        found = false;  // answered below; the plugin is not asked again
      }
      boost::asio::post(strand_, [this, with, reply, timeout, found] {
        if (found) return grant(with, reply, timeout);
        --pending_;
        in_flight_.erase(with.subscriber_address);
        reply.error(rpc_error::failed,
                    "payment method " + suite_part(with.suite, 2) + " is not running here");
      });
    });
  });
}

void SessionManager::grant(GatewaySession s, Responder reply, std::int64_t timeout) {
  {
    plugins_.with_tunnel(s.tunnel_method(), [this, s, reply, timeout](TunnelPlugin* t) mutable {
      // Once only: a plugin that throws after answering must not free the slot twice.
      auto finish = once([this, s, reply, timeout](std::string error, Json::Value params) mutable {
        boost::asio::post(strand_, [this, s, reply, timeout, error, params]() mutable {
          --pending_;
          if (!error.empty() || stopped_) in_flight_.erase(s.subscriber_address);
          if (!error.empty())
            return reply.error(rpc_error::failed, "the tunnel could not be set up: " + error);
          if (stopped_) return reply.error(rpc_error::unavailable, "mnigsd is shutting down");
          s.tunnel = params;
          s.created = clock_();
          s.expires = s.created + timeout;
          s.stored_expires = s.expires;
          sessions_[s.id] = s;
          tell_holders(s, false);
          schedule_expiry();
          log_.info("session ", s.id, " for ", s.subscriber_address, " (", s.name, ") with ",
                    s.suite, ", expires in ", timeout, " s");
          // Metered, recorded, then announced: the subscriber's first packet
          // meets its policy, and a crash in between leaves a session that
          // the restart resumes or expires (running onRelease), never an
          // onRegister without a record. The subscriber's address stays in
          // flight until then.
          meter(s, [this, s, reply, timeout](bool metered) {
            if (!metered) {
              in_flight_.erase(s.subscriber_address);
              return reply.error(rpc_error::failed,
                                 "the session could not be metered; try again later");
            }
            persist(s, [this, s, reply, timeout] {
              in_flight_.erase(s.subscriber_address);
              announce(s, reply, timeout);
            });
          });
        });
      });
      if (!t) return finish("tunnel " + s.tunnel_method() + " is not running", Json::Value());
      t->open_session(tunnel_session(s), finish);
    });
  }
}

void SessionManager::announce(const GatewaySession& s, const Responder& reply,
                              std::int64_t timeout) {
  hooks_.fire("gateway.onRegister", hook_details(s));
  Json::Value r(Json::objectValue);
  r["sessionId"] = s.id;
  r["secret"] = s.secret;
  r["suite"] = s.suite;
  r["timeout"] = static_cast<Json::Int64>(timeout);
  r["expires"] = static_cast<Json::Int64>(s.expires);
  r["subscriberAddress"] = s.subscriber_address;
  r["gatewayAddress"] = s.gateway_address;
  r["tunnel"] = s.tunnel;
  r["payment"] = payment_of(s, clock_());
  reply.result(r);
}

GatewaySession* SessionManager::authorize(const Json::Value& params, const CallInfo& caller,
                                          const Responder& reply, const char* method) {
  if (!ready_) {
    // Sessions are still being loaded: "no such session" now would make a
    // subscriber drop a session that exists.
    reply.error(rpc_error::unavailable, "the gateway is starting; try again shortly");
    return nullptr;
  }
  if (!params.isObject() || !params["sessionId"].isString() || !params["secret"].isString()) {
    reply.error(rpc_error::invalid_params,
                std::string(method) + " needs {\"sessionId\": string, \"secret\": string}");
    return nullptr;
  }
  auto it = sessions_.find(params["sessionId"].asString());
  if (it == sessions_.end()) {
    reply.error(rpc_error::not_found,
                "no session " + params["sessionId"].asString() +
                    " here (it expired, was released, or never existed); request a new one");
    return nullptr;
  }
  GatewaySession& s = it->second;
  if (!same_address(s.subscriber_address, caller.remote_address) ||
      !constant_time_equal(s.secret, params["secret"].asString())) {
    log_.warn(method, " for session ", s.id, " from ", caller.remote_address,
              " refused: wrong secret or address");
    reply.error(rpc_error::unauthorized,
                std::string(method) +
                    " refused: the secret does not match, or the call does not come from the "
                    "session's subscriber address");
    return nullptr;
  }
  if (s.expires <= clock_()) {
    expire_due(clock_());
    reply.error(rpc_error::not_found, "the session expired; request a new one");
    return nullptr;
  }
  return &s;
}

void SessionManager::renew(const Json::Value& params, const CallInfo& caller, Responder reply) {
  boost::asio::post(strand_, [this, params, caller, reply] {
    GatewaySession* s = authorize(params, caller, reply, "renewConnection");
    if (!s) return;
    const std::int64_t timeout = config_.get()->get_int("gateway", "subscriberTimeout");
    const std::int64_t now = clock_();
    s->expires = now + timeout;
    // Subscribers renew every third of the timeout; each one written would
    // wear a router's flash, and a subscriber may renew far more often.
    // The record is written only once what it holds has less than half the
    // timeout left: a restart then still finds the session with time for
    // the next scheduled renewal.
    if (s->stored_expires - now < timeout / 2) {
      s->stored_expires = s->expires;
      persist(*s);
    }
    schedule_expiry();
    log_.debug("session ", s->id, " renewed for ", timeout, " s");
    Json::Value r(Json::objectValue);
    r["sessionId"] = s->id;
    r["timeout"] = static_cast<Json::Int64>(timeout);
    r["expires"] = static_cast<Json::Int64>(s->expires);
    r["uplink"] = !uplink_up_ || uplink_up_();
    // What the gateway metered, so the subscriber shows it whatever its tunnel.
    r["used"] = usage(*s, now);
    r["payment"] = payment_of(*s, now);
    reply.result(r);
  });
}

void SessionManager::release(const Json::Value& params, const CallInfo& caller, Responder reply) {
  boost::asio::post(strand_, [this, params, caller, reply] {
    GatewaySession* s = authorize(params, caller, reply, "releaseConnection");
    if (!s) return;
    release_now(*s, "released by the subscriber", reply);
  });
}

void SessionManager::release_now(GatewaySession s, const std::string& why,
                                 const Responder& reply) {
  sessions_.erase(s.id);
  end_session(s, why);
  schedule_expiry();
  Json::Value r(Json::objectValue);
  r["sessionId"] = s.id;
  r["released"] = true;
  reply.result(r);
}

void SessionManager::end_by_operator(const Json::Value& params, Responder reply) {
  boost::asio::post(strand_, [this, params, reply] {
    if (!params.isObject() || params.size() != 1 || !params["sessionId"].isString())
      return reply.error(rpc_error::invalid_params,
                         "releaseSession needs {\"sessionId\": string} (see listSessions)");
    auto it = sessions_.find(params["sessionId"].asString());
    if (it == sessions_.end())
      return reply.error(rpc_error::not_found, "no session " +
                                                   params["sessionId"].asString().substr(0, 64) +
                                                   " on this gateway (it may have ended)");
    release_now(it->second, "released by this gateway's operator", reply);
  });
}

void SessionManager::list(std::function<void(Json::Value)> done) {
  boost::asio::post(strand_, [this, done] {
    Json::Value out(Json::arrayValue);
    const std::int64_t now = clock_();
    for (const auto& [id, s] : sessions_) {
      Json::Value v = s.describe(now);
      v["payment"] = payment_of(s, now);
      out.append(v);
    }
    done(out);
  });
}

void SessionManager::count(std::function<void(std::size_t)> done) {
  boost::asio::post(strand_, [this, done] { done(sessions_.size()); });
}

std::int64_t SessionManager::expire_due(std::int64_t now) {
  std::vector<GatewaySession> due;
  for (const auto& [id, s] : sessions_)
    if (s.expires <= now) due.push_back(s);
  for (const auto& s : due) {
    sessions_.erase(s.id);
    end_session(s, "expired: not renewed within gateway.subscriberTimeout");
  }
  std::int64_t next = 0;
  for (const auto& [id, s] : sessions_)
    if (!next || s.expires < next) next = s.expires;
  return next;
}

void SessionManager::schedule_expiry() {
  if (stopped_) return;
  std::int64_t next = 0;
  for (const auto& [id, s] : sessions_)
    if (!next || s.expires < next) next = s.expires;
  timer_.cancel();
  if (!next) return;
  auto wait = std::chrono::seconds(std::max<std::int64_t>(0, next - clock_()));
  timer_.expires_after(wait);
  timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec) return;
    expire_due(clock_());
    schedule_expiry();
  });
}

void SessionManager::end_session(const GatewaySession& s, const std::string& why) {
  log_.info("session ", s.id, " of ", s.subscriber_address, " ended: ", why, " (",
            s.used.out, " bytes out, ", s.used.in, " in)");
  tell_holders(s, true);
  forget(s.id);
  unmeter(s.id);
  auto details = hook_details(s);
  details["REASON"] = why;
  hooks_.fire("gateway.onRelease", details);
  plugins_.with_tunnel(s.tunnel_method(), [this, s](TunnelPlugin* t) {
    if (!t) return;
    t->close_session(tunnel_session(s), [this, id = s.id](std::string error) {
      if (!error.empty()) log_.warn("session ", id, ": closing the tunnel end: ", error);
    });
  });
}

void SessionManager::meter(const GatewaySession& s, std::function<void(bool)> then) {
  if (!meter_) return then(true);
  MeteredSession m;
  m.id = s.id;
  auto text_of = [&](const char* key) {
    return s.tunnel[key].isString() ? s.tunnel[key].asString() : std::string();
  };
  for (const std::string& text : {s.subscriber_address, text_of("address4"), text_of("address6")})
    if (auto a = parse_address(text)) {
      // A link-local address is never forwarded, and its zone cannot go
      // into a map element.
      if (a->is_v6() && a->to_v6().is_link_local()) continue;
      m.addresses.push_back(unmap(*a));
    }
  std::vector<MeterAccount> accounts;
  m.policy = policy_of(s, clock_(), &accounts);
  if (auto it = sessions_.find(s.id); it != sessions_.end()) it->second.applied = m.policy;
  const bool charged = s.charged;
  meter_->add(std::move(m), std::move(accounts),
              [this, id = s.id, charged, then](std::string error) {
                boost::asio::post(strand_, [this, id, charged, then, error] {
                  if (error.empty()) return then(true);
                  // Fail closed: a charged session the kernel does not hold
                  // back would be free.
                  auto it = sessions_.find(id);
                  if (charged && it != sessions_.end()) {
                    GatewaySession copy = it->second;
                    sessions_.erase(it);
                    end_session(copy, "its limits could not be set in the kernel: " + error);
                    schedule_expiry();
                    return then(false);
                  }
                  then(true);
                });
              });
}

void SessionManager::unmeter(const std::string& id) {
  if (!meter_) return;
  meter_->remove(id, [this](MeterReading r) {
    boost::asio::post(strand_, [this, r = std::move(r)] { account(r); });
  });
}

void SessionManager::account(const MeterReading& reading) {
  for (const auto& [id, t] : reading.sessions) {
    auto it = sessions_.find(id);
    if (it == sessions_.end() || (t.out == 0 && t.in == 0)) continue;
    it->second.used.out += t.out;
    it->second.used.in += t.in;
    it->second.used_changed = true;
  }
  for (const auto& [id, bytes] : reading.accounts) {
    auto it = vouchers_.find(id);
    if (it == vouchers_.end() || bytes == 0) continue;
    it->second.used_bytes += bytes;
    vouchers_changed_.insert(id);
  }
  persist_usage();
  // A voucher whose bytes ran out: its sessions go back to the page.
  if (!reading.accounts.empty()) apply_policies();
}

void SessionManager::persist_usage() {
  std::vector<std::tuple<std::string, std::int64_t, std::int64_t>> rows;
  for (auto& [id, s] : sessions_) {
    if (!s.used_changed) continue;
    s.used_changed = false;
    rows.emplace_back(id, s.used.out, s.used.in);
  }
  std::vector<std::pair<std::int64_t, std::int64_t>> vouchers;
  for (auto id : vouchers_changed_)
    if (auto it = vouchers_.find(id); it != vouchers_.end())
      vouchers.emplace_back(id, it->second.used_bytes);
  vouchers_changed_.clear();
  if (rows.empty() && vouchers.empty()) return;
  store_.post([rows = std::move(rows), vouchers = std::move(vouchers)](sqlite3* db) {
    Transaction t(db);
    Statement st(db, "UPDATE gateway_sessions SET bytes_out = ?, bytes_in = ? WHERE id = ?");
    for (const auto& [id, out, in] : rows) {
      st.reset();
      st.bind_int64(1, out).bind_int64(2, in).bind_text(3, id);
      st.step();
    }
    Statement v(db, "UPDATE vouchers SET used_bytes = ? WHERE id = ?");
    for (const auto& [id, used] : vouchers) {
      v.reset();
      v.bind_int64(1, used).bind_int64(2, id);
      v.step();
    }
    t.commit();
  });
}

void SessionManager::schedule_reading() {
  if (stopped_ || !meter_) return;
  const auto interval = config_.get()->get_int("gateway", "meterInterval");
  meter_timer_.expires_after(std::chrono::seconds(interval));
  meter_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec || stopped_) return;
    meter_->read([this](MeterReading r) {
      boost::asio::post(strand_, [this, r = std::move(r)] {
        if (stopped_) return;
        account(r);
        schedule_reading();
      });
    });
  });
}

void SessionManager::tell_holders(const GatewaySession& s, bool ended) {
  if (!holders_) return;
  std::vector<boost::asio::ip::address> addresses;
  if (!ended) {
    for (const std::string& text :
         {s.subscriber_address,
          s.tunnel["address4"].isString() ? s.tunnel["address4"].asString() : "",
          s.tunnel["address6"].isString() ? s.tunnel["address6"].asString() : ""})
      if (auto a = parse_address(text)) addresses.push_back(*a);
  }
  holders_(s.id, std::move(addresses));
}

void SessionManager::persist(const GatewaySession& s, std::function<void()> then) {
  if (then) {
    store_.query<bool>(
        [s](sqlite3* db) {
          write(db, s);
          return true;
        },
        strand_, [then](bool) { then(); },
        [this, s, then](std::string error) {
          log_.error("session ", s.id, " could not be recorded: ", error);
          then();
        });
    return;
  }
  store_.post([s](sqlite3* db) { write(db, s); });
}

void SessionManager::write(sqlite3* db, const GatewaySession& s) {
  Statement st(db,
               "INSERT OR REPLACE INTO gateway_sessions (id, secret, subscriber_address, "
               "gateway_address, name, port, suite, tunnel, created, expires, bytes_out, "
               "bytes_in, payment, subscriber_key) "
               "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
  st.bind_text(1, s.id)
      .bind_text(2, s.secret)
      .bind_text(3, s.subscriber_address)
      .bind_text(4, s.gateway_address)
      .bind_text(5, s.name)
      .bind_int64(6, s.port)
      .bind_text(7, s.suite)
      .bind_text(8, to_json_text(s.tunnel))
      .bind_int64(9, s.created)
      .bind_int64(10, s.expires)
      .bind_int64(11, s.used.out)
      .bind_int64(12, s.used.in)
      .bind_text(13, to_json_text(payment_record(s)))
      .bind_text(14, s.subscriber_key);
  st.step();
}

void SessionManager::forget(const std::string& id) {
  store_.post([id](sqlite3* db) {
    Statement st(db, "DELETE FROM gateway_sessions WHERE id = ?");
    st.bind_text(1, id);
    st.step();
  });
}

}  // namespace mnigs
