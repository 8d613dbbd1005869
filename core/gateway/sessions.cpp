#include "gateway/sessions.hpp"

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

Json::Value GatewaySession::describe() const {
  Json::Value v(Json::objectValue);
  v["sessionId"] = id;
  v["subscriber"] = subscriber_address;
  v["gatewayAddress"] = gateway_address;
  v["name"] = name;
  v["port"] = port;
  v["suite"] = suite;
  v["created"] = static_cast<Json::Int64>(created);
  v["expires"] = static_cast<Json::Int64>(expires);
  return v;
}

namespace {

std::map<std::string, std::string> hook_details(const GatewaySession& s) {
  return {{"SESSION_ID", s.id},   {"SUBSCRIBER", s.subscriber_address},
          {"GATEWAY", s.gateway_address}, {"SUITE", s.suite},
          {"NAME", s.name},       {"EXPIRES", std::to_string(s.expires)}};
}

TunnelSession tunnel_session(const GatewaySession& s) {
  return TunnelSession{s.id, s.suite, s.subscriber_address, s.gateway_address, s.tunnel};
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
      timer_(strand_) {}

void SessionManager::start(std::function<void()> done) {
  store_.query<std::vector<GatewaySession>>(
      [](sqlite3* db) {
        std::vector<GatewaySession> out;
        Statement st(db,
                     "SELECT id, secret, subscriber_address, gateway_address, name, port, suite, "
                     "tunnel, created, expires FROM gateway_sessions");
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
          out.push_back(std::move(s));
        }
        return out;
      },
      strand_,
      [this, done](std::vector<GatewaySession> stored) {
        auto remaining = std::make_shared<std::size_t>(stored.size() + 1);
        auto one_done = [this, remaining, done] {
          if (--*remaining == 0) {
            ready_ = true;
            schedule_expiry();
            boost::asio::post(io_, done);
          }
        };
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
          // Resume: the tunnel end was removed by the reset at start.
          plugins_.with_tunnel(s.tunnel_method(), [this, s, one_done](TunnelPlugin* t) {
            if (!t) {
              boost::asio::post(strand_, [this, s, one_done] {
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
                  if (!stopped_) forget(s.id);
                } else {
                  s.tunnel = params;
                  sessions_[s.id] = s;
                  tell_holders(s, false);
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
    // The records stay for the next start. The tunnel ends are not closed
    // one by one: the reset of every tunnel plugin that follows at shutdown
    // removes all of them at once (one by one, 1000 sessions took about
    // 20 s of commands here).
    boost::asio::post(io_, done);
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
    for (const char* key : {"suite", "method", "name"})
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
    auto offered = plugins_.suites();
    if (offered.empty()) return reply.error(rpc_error::failed, "this gateway offers no suite");
    if (suite.empty()) suite = offered.front();
    if (std::find(offered.begin(), offered.end(), suite) == offered.end()) {
      return reply.error(rpc_error::invalid_params,
                         "suite \"" + suite + "\" is not offered here; offered: " + join(offered));
    }
    if (p["name"].asString().size() > 64)
      return reply.error(rpc_error::invalid_params, "name must be a string of at most 64 bytes");

    // A subscriber that asks again (it lost its state) replaces its session.
    for (auto it = sessions_.begin(); it != sessions_.end(); ++it) {
      if (same_address(it->second.subscriber_address, caller.remote_address)) {
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
    const std::int64_t timeout = config->get_int("gateway", "subscriberTimeout");
    ++pending_;
    in_flight_.insert(s.subscriber_address);
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
          // Recorded first, then announced: a crash in between leaves a
          // session that the restart resumes or expires (running onRelease),
          // never an onRegister without a record.
          // The subscriber's address stays in flight until then.
          persist(s, [this, s, reply, timeout] {
            in_flight_.erase(s.subscriber_address);
            announce(s, reply, timeout);
          });
        });
      });
      if (!t) return finish("tunnel " + s.tunnel_method() + " is not running", Json::Value());
      t->open_session(tunnel_session(s), finish);
    });
  });
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
    reply.result(r);
  });
}

void SessionManager::release(const Json::Value& params, const CallInfo& caller, Responder reply) {
  boost::asio::post(strand_, [this, params, caller, reply] {
    GatewaySession* s = authorize(params, caller, reply, "releaseConnection");
    if (!s) return;
    GatewaySession copy = *s;
    sessions_.erase(copy.id);
    end_session(copy, "released by the subscriber");
    schedule_expiry();
    Json::Value r(Json::objectValue);
    r["sessionId"] = copy.id;
    r["released"] = true;
    reply.result(r);
  });
}

void SessionManager::list(std::function<void(Json::Value)> done) {
  boost::asio::post(strand_, [this, done] {
    Json::Value out(Json::arrayValue);
    for (const auto& [id, s] : sessions_) out.append(s.describe());
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
  log_.info("session ", s.id, " of ", s.subscriber_address, " ended: ", why);
  tell_holders(s, true);
  forget(s.id);
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
               "gateway_address, name, port, suite, tunnel, created, expires) "
               "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
  st.bind_text(1, s.id)
      .bind_text(2, s.secret)
      .bind_text(3, s.subscriber_address)
      .bind_text(4, s.gateway_address)
      .bind_text(5, s.name)
      .bind_int64(6, s.port)
      .bind_text(7, s.suite)
      .bind_text(8, to_json_text(s.tunnel))
      .bind_int64(9, s.created)
      .bind_int64(10, s.expires);
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
