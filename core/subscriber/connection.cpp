#include "subscriber/connection.hpp"

#include "dht/offer.hpp"
#include "gateways/gateway_list.hpp"
#include "os/interfaces.hpp"
#include "store/sqlite.hpp"
#include "subscriber/gateway_key.hpp"
#include "subscriber/grant.hpp"
#include "util/json_text.hpp"
#include "util/net.hpp"
#include "util/once.hpp"
#include "util/text.hpp"

#include <boost/asio/post.hpp>

#include <algorithm>
#include <cmath>
#include <utility>

namespace mnigs {

Json::Value ConnectionManager::credentials(const Connection& c) {
  Json::Value p(Json::objectValue);
  p["sessionId"] = c.session_id;
  p["secret"] = c.secret;
  return p;
}

std::string Connection::tunnel_method() const { return suite_part(suite, 1); }

namespace {

// A session's device and counters as listSessions shows them.
Json::Value to_json(const TunnelTraffic& t) {
  Json::Value v(Json::objectValue);
  v["device"] = t.device;
  v["counted"] = t.counted;
  if (!t.counted) return v;
  v["bytesOut"] = Json::UInt64(t.bytes_out);
  v["bytesIn"] = Json::UInt64(t.bytes_in);
  v["packetsOut"] = Json::UInt64(t.packets_out);
  v["packetsIn"] = Json::UInt64(t.packets_in);
  return v;
}

}  // namespace

bool Connection::payment_required() const {
  return payment.isObject() && payment["required"].asBool();
}

Json::Value Connection::describe() const {
  Json::Value v(Json::objectValue);
  v["gatewayAddress"] = gateway_address;
  v["gatewayPort"] = gateway_port;
  v["gatewayName"] = gateway_name;
  v["sessionId"] = session_id;
  v["suite"] = suite;
  v["timeout"] = static_cast<Json::Int64>(timeout);
  v["created"] = static_cast<Json::Int64>(created);
  v["expires"] = static_cast<Json::Int64>(expires);
  v["tunnel"] = tunnel;
  if (!gateway_key.empty()) {
    v["gatewayKey"] = gateway_key;
    v["gatewayKeySource"] = gateway_key_source;
  }
  if (!subscriber_key.empty()) v["subscriberKey"] = subscriber_key;
  if (metered.isObject()) v["meteredByGateway"] = metered;
  if (payment.isObject()) v["payment"] = payment;
  return v;
}

const char* ConnectionManager::to_string(State s) {
  switch (s) {
    case State::starting: return "starting";
    case State::idle: return "idle";
    case State::connecting: return "connecting";
    case State::connected: return "connected";
    case State::disconnecting: return "disconnecting";
  }
  return "?";
}

ConnectionManager::ConnectionManager(boost::asio::io_context& io, const ConfigHolder& config,
                                     Store& store, PluginHost& plugins, Hooks& hooks, Clock clock,
                                     os::Clock& timers)
    : io_(io),
      strand_(boost::asio::make_strand(io)),
      config_(config),
      store_(store),
      plugins_(plugins),
      hooks_(hooks),
      clock_(std::move(clock)),
      timer_(timers.make_timer(strand_)),
      retry_(timers.make_timer(strand_)),
      timers_(timers),
      kv_(store, "core.subscriber", strand_, log_),
      auto_timer_(timers.make_timer(strand_)),
      standby_timer_(timers.make_timer(strand_)),
      standby_renewal_(timers.make_timer(strand_)),
      standby_retry_(timers.make_timer(strand_)),
      review_timer_(timers.make_timer(strand_)) {}

void ConnectionManager::set_environment(Environment env) { env_ = std::move(env); }

TunnelSession ConnectionManager::tunnel_session(const Connection& c, bool standby) const {
  Json::Value params = c.tunnel;
  params["routing"] = standby ? "none" : config_.get()->get_string("subscriber", "routing");
  params["gatewayPort"] = c.gateway_port;
  // Only the core says what the gateway is pinned by, never the gateway's
  // own "tunnel" object.
  params.removeMember("gatewayKey");
  params.removeMember("gatewayKeySource");
  if (!c.gateway_key.empty()) {
    params["gatewayKey"] = c.gateway_key;
    params["gatewayKeySource"] = c.gateway_key_source;
  }
  return TunnelSession{c.session_id, c.suite, "", c.gateway_address, params, c.subscriber_key};
}

void ConnectionManager::start(std::function<void()> done) {
  kv_.get("pinned", [this, done](std::optional<std::string> pinned) {
    pinned_ = pinned && *pinned == "1";
    kv_.get("switches", [this, done](std::optional<std::string> switches) {
      if (switches) {
        Json::Value v = from_json_text(*switches);
        if (v.isArray()) switches_ = v;
      }
      resume_stored(done);
    });
  });
}

void ConnectionManager::resume_stored(std::function<void()> done) {
  store_.query<std::optional<Connection>>(
      [](sqlite3* db) -> std::optional<Connection> {
        Statement st(db,
                     "SELECT gateway_address, gateway_port, gateway_name, session_id, secret, "
                     "suite, tunnel, timeout, created, expires, gateway_key, "
                     "gateway_key_source, subscriber_key FROM subscriber_connection WHERE id = 1");
        if (!st.step()) return std::nullopt;
        Connection c;
        c.gateway_address = st.column_text(0);
        c.gateway_port = static_cast<int>(st.column_int64(1));
        c.gateway_name = st.column_text(2);
        c.session_id = st.column_text(3);
        c.secret = st.column_text(4);
        c.suite = st.column_text(5);
        c.tunnel = from_json_text(st.column_text(6));
        c.timeout = st.column_int64(7);
        c.created = st.column_int64(8);
        c.expires = st.column_int64(9);
        c.gateway_key = st.column_text(10);
        c.gateway_key_source = st.column_text(11);
        c.subscriber_key = st.column_text(12);
        return c;
      },
      strand_,
      [this, done](std::optional<Connection> stored) {
        if (!stored) {
          leave_starting(State::idle);
          schedule_consider(std::chrono::milliseconds(0));
          return boost::asio::post(io_, done);
        }
        // The record holds what the gateway sent: checked again, as the rules
        // may be newer than the record, and a record that cannot be resumed
        // is dropped with the reason, not tried at every start.
        std::string unusable = check_tunnel_params(stored->tunnel, stored->gateway_address,
                                                   os::routable_addresses());
        if (unusable.empty() && stored->tunnel_method().empty())
          unusable = "suite \"" + stored->suite + "\" names no tunnel";
        if (unusable.empty() && !stored->gateway_key.empty()) {
          unusable = check_tunnel_key(stored->tunnel_method(), stored->gateway_key);
          if (unusable.empty() && stored->gateway_key_source != "offer" &&
              stored->gateway_key_source != "nodeInfo")
            unusable = "the gateway key's source \"" + stored->gateway_key_source +
                       "\" is neither \"offer\" nor \"nodeInfo\"";
        }
        if (!unusable.empty() || stored->expires <= clock_()) {
          last_error_ = unusable.empty()
                            ? "the session with " + stored->gateway_address +
                                  " expired while mnigsd was not running; connect again"
                            : "the stored session with " + stored->gateway_address +
                                  " cannot be resumed (" + unusable + "); connect again";
          log_.warn(last_error_);
          forget();
          hooks_.fire("subscriber.onDisconnect", {{"SESSION_ID", stored->session_id},
                                                  {"GATEWAY", stored->gateway_address},
                                                  {"SUITE", stored->suite},
                                                  {"REASON", last_error_}});
          leave_starting(State::idle);
          schedule_consider(std::chrono::milliseconds(0));
          return boost::asio::post(io_, done);
        }
        leave_starting(State::connecting);
        connection_ = stored;
        Connection c = *stored;
        plugins_.with_tunnel(c.tunnel_method(), [this, c, done](TunnelPlugin* t) {
          auto finish = once([this, c, done](std::string error, std::string device) mutable {
            c.device = std::move(device);
            boost::asio::post(strand_, [this, c, done, error] {
              if (!error.empty()) {
                if (stopped_) {  // shutting down meanwhile: resume next time
                  state_ = State::idle;
                  return boost::asio::post(io_, done);
                }
                tear_down("resuming the tunnel to " + c.gateway_address + " failed: " + error,
                          [this, done] { boost::asio::post(io_, done); });
                return;
              }
              state_ = State::connected;
              if (connection_) connection_->device = c.device;
              start_probing(c);
              schedule_standby(std::chrono::milliseconds(0));
              schedule_review();
              log_.info("connection to ", c.gateway_address, " (session ", c.session_id,
                        ") resumed");
              renew();  // prove the session is still good at once
              boost::asio::post(io_, done);
            });
          });
          if (!t) return finish("tunnel " + c.tunnel_method() + " is not running", "");
          open_tunnel(t, c.tunnel_method(), tunnel_session(c), finish);
        });
      },
      [this, done](std::string error) {
        log_.error("cannot load the stored connection: ", error);
        leave_starting(State::idle);
        schedule_consider(std::chrono::milliseconds(0));
        boost::asio::post(io_, done);
      });
}

void ConnectionManager::leave_starting(State next) {
  state_ = next;
  for (auto& waiting : std::exchange(after_start_, {})) boost::asio::post(strand_, waiting);
}

void ConnectionManager::stop(std::function<void()> done) {
  boost::asio::post(strand_, [this, done] {
    stopped_ = true;
    timer_->cancel();
    retry_->cancel();
    auto_timer_->cancel();
    standby_timer_->cancel();
    review_timer_->cancel();
    // A standby is not resumed after a restart: its session goes back now,
    // as does a test's beside the connection.
    drop_standby("mnigsd stops");
    if (beside_) {
      const Connection side = *beside_;
      beside_.reset();
      plugins_.with_tunnel(side.tunnel_method(), [this, side](TunnelPlugin* t) {
        if (t) t->disconnect(tunnel_session(side, true), [](std::string) {});
      });
      give_back(side);
    }
    prober_.reset();
    test_prober_.reset();
    if (test_timer_) test_timer_->cancel();
    if (check_timer_) check_timer_->cancel();
    // Connects still waiting for the start are answered (shutting down).
    for (auto& waiting : std::exchange(after_start_, {})) boost::asio::post(strand_, waiting);
    if (state_ != State::connected || !connection_) return boost::asio::post(io_, done);
    Connection c = *connection_;
    plugins_.with_tunnel(c.tunnel_method(), [this, c, done](TunnelPlugin* t) {
      if (!t) return boost::asio::post(io_, done);
      t->disconnect(tunnel_session(c), [this, done](std::string error) {
        if (!error.empty()) log_.warn("taking the tunnel down: ", error);
        boost::asio::post(io_, done);
      });
    });
  });
}

void ConnectionManager::connect(const Json::Value& params, Responder reply) {
  boost::asio::post(strand_, [this, params, reply] { start_connect(params, reply, true); });
}

std::optional<ConnectionManager::GatewayParams> ConnectionManager::gateway_params(
    const Json::Value& params, const Responder& reply, const char* method) const {
  if (stopped_) {
    reply.error(rpc_error::unavailable, "mnigsd is shutting down");
    return std::nullopt;
  }
  auto refuse = [&](const std::string& why) {
    reply.error(rpc_error::invalid_params, why);
    return std::nullopt;
  };
  if (!params.isObject() || !params["address"].isString())
    return refuse(std::string(method) +
                  " needs {\"address\": gateway IP, \"port\": 65533, \"suite\": optional}");
  auto address = parse_address(params["address"].asString());
  if (!address)
    return refuse("\"" + params["address"].asString() + "\" is not an IPv4 or IPv6 address");
  GatewayParams g{unmap(*address).to_string(), 65533};
  if (params.isMember("port")) {
    if (!params["port"].isInt() || params["port"].asInt() < 1 || params["port"].asInt() > 65535)
      return refuse("port must be 1..65535");
    g.port = params["port"].asInt();
  }
  if (params.isMember("suite") && !params["suite"].isString())
    return refuse("suite must be a string");
  return g;
}

void ConnectionManager::start_connect(const Json::Value& params, Responder reply, bool pin) {
  {
    auto gateway = gateway_params(params, reply, "connect");
    if (!gateway) return;
    // Until the stored connection is resumed (or found gone), a second one
    // would race it for the tunnel and the record: it waits.
    if (state_ == State::starting) {
      if (after_start_.size() >= kMaxWaitingConnects)
        return reply.error(rpc_error::unavailable, "mnigsd is starting; try again shortly");
      after_start_.push_back([this, params, reply, pin] { start_connect(params, reply, pin); });
      return;
    }
    if (state_ != State::idle)
      return reply.error(rpc_error::conflict,
                         std::string("already ") + to_string(state_) +
                             (connection_ ? " to " + connection_->gateway_address : "") +
                             "; disconnect first");
    if (pin) pending_from_.clear();  // what follows is the operator's choice, not a switch
    if (pin && !pinned_ && config_.get()->get_bool("subscriber", "auto")) {
      set_pinned(true);
      auto_timer_->cancel();
      log_.info("manual connect: auto mode pauses until it is turned on again (--auto on)");
    }
    state_ = State::connecting;
    // Auto mode's attempts keep the last problem in view until one succeeds.
    if (pin) last_error_.clear();
    Connection c;
    c.gateway_address = gateway->address;
    c.gateway_port = gateway->port;
    acquire(c, params["suite"].asString(), *retry_,
            [this, reply](std::optional<Connection> c, int code, std::string error) {
              if (!c) return fail_connect(reply, code, std::move(error));
              bring_up(*c, reply);
            });
  }
}

void ConnectionManager::acquire(Connection c, std::string wanted_suite, os::Timer& retry,
                                Acquired done) {
  call_rpc(strand_, c.gateway_address, static_cast<std::uint16_t>(c.gateway_port), "nodeInfo",
           Json::Value(), kCallTimeout, [this, c, wanted_suite, &retry, done](RpcReply info) {
             on_node_info(c, wanted_suite, retry, done, std::move(info));
           });
}

void ConnectionManager::on_node_info(Connection c, std::string wanted, os::Timer& retry,
                                     Acquired done, RpcReply info) {
  auto fail = [done](int code, std::string message) {
    done(std::nullopt, code, std::move(message));
  };
  if (!info.ok())
    return fail(rpc_error::failed, "cannot reach the gateway: " +
                                       (info.kind == RpcReply::Kind::error ? info.message
                                                                           : info.message));
  // The reply comes from another node: check every type before use.
  const Json::Value& node = info.result;
  if (!node.isObject() || !node["gateway"].isBool() || !node["suites"].isArray())
    return fail(rpc_error::failed, c.gateway_address + " answered nodeInfo with something else");
  if (!node["gateway"].asBool())
    return fail(rpc_error::failed,
                node["uplink"].isBool() && !node["uplink"].asBool()
                    ? c.gateway_address + " is a gateway whose uplink is down: it offers "
                                          "nothing now"
                    : c.gateway_address + " is not a gateway");
  c.gateway_name = node["name"].isString() ? node["name"].asString() : "";
  std::vector<std::string> theirs, ours = plugins_.suites();
  for (const auto& s : node["suites"])
    if (s.isString()) theirs.push_back(s.asString());
  auto common = [&](const std::string& s) {
    return std::find(ours.begin(), ours.end(), s) != ours.end() &&
           std::find(theirs.begin(), theirs.end(), s) != theirs.end();
  };
  if (!wanted.empty()) {
    if (!common(wanted))
      return fail(rpc_error::invalid_params,
                  "suite \"" + wanted + "\" is not supported by both ends; the gateway offers " +
                      join(theirs, ", ", "none") + "; this node supports " + join(ours, ", ", "none"));
    c.suite = wanted;
  } else {
    // The gateway lists its suites in its order of preference.
    for (const auto& s : theirs)
      if (common(s)) {
        c.suite = s;
        break;
      }
    if (c.suite.empty())
      return fail(rpc_error::failed, "no suite in common: the gateway offers " + join(theirs, ", ", "none") +
                                         "; this node supports " + join(ours, ", ", "none"));
  }
  find_gateway_key(c, node, retry, done);
}

void ConnectionManager::find_gateway_key(Connection c, Json::Value node, os::Timer& retry,
                                         Acquired done) {
  auto chosen = [this, c, node, &retry, done](const Json::Value& offer) mutable {
    const GatewayKey key =
        choose_gateway_key(c.tunnel_method(), c.gateway_address, node, offer);
    if (!key.ignored.empty()) log_.warn(c.gateway_address, ": ", key.ignored);
    if (!key.error.empty()) return done(std::nullopt, rpc_error::failed, key.error);
    c.gateway_key = key.key;
    c.gateway_key_source = key.source;
    find_subscriber_key(c, retry, done);
  };
  // The offers the DHT service verified and keeps; only the one of the
  // identity the gateway names can speak for it.
  const std::string identity = offer_identity(node);
  if (identity.empty()) return chosen(Json::Value());
  const std::int64_t now = clock_();
  store_.query<Json::Value>(
      [identity, now](sqlite3* db) { return read_dht_offer(db, identity, now); }, strand_,
      chosen, [this, chosen](std::string error) mutable {
        log_.warn("the DHT offers heard could not be read: ", error);
        chosen(Json::Value());
      });
}

void ConnectionManager::find_subscriber_key(Connection c, os::Timer& retry, Acquired done) {
  auto found = [this, c, &retry, done](std::string error, std::string key) mutable {
    boost::asio::post(strand_, [this, c, &retry, done, error, key]() mutable {
      if (!error.empty())
        return done(std::nullopt, rpc_error::failed,
                    "the " + c.tunnel_method() + " tunnel has no key to be admitted by: " + error);
      if (!key.empty())
        if (auto why = check_tunnel_key(c.tunnel_method(), key); !why.empty())
          return done(std::nullopt, rpc_error::failed,
                      "the " + c.tunnel_method() + " tunnel's own key is unusable: " + why);
      c.subscriber_key = key;
      request_session(c, retry, done, 0);
    });
  };
  plugins_.with_tunnel(c.tunnel_method(), [found](TunnelPlugin* t) mutable {
    // No such tunnel: the request goes on without a key, and the connect
    // after it says that the tunnel is not running.
    if (!t) return found("", "");
    t->subscriber_key(once(found));
  });
}

void ConnectionManager::request_session(Connection c, os::Timer& retry, Acquired done,
                                        int attempt) {
  auto fail = [done](int code, std::string message) {
    done(std::nullopt, code, std::move(message));
  };
  Json::Value request(Json::objectValue);
  request["suite"] = c.suite;
  request["name"] = config_.get()->get_string("main", "name");
  request["port"] = static_cast<int>(config_.get()->get_int("daemon", "rpcport"));
  if (!c.subscriber_key.empty()) request["subscriberKey"] = c.subscriber_key;
  call_rpc(strand_, c.gateway_address, static_cast<std::uint16_t>(c.gateway_port),
           "requestConnection", request, kCallTimeout,
           [this, c, &retry, done, fail, attempt](RpcReply r) mutable {
             // A gateway that has just started answers "unavailable" until its
             // sessions are loaded: worth a few more tries, bounded.
             if (r.kind == RpcReply::Kind::error && r.code == rpc_error::unavailable &&
                 attempt < 10 && !stopped_) {
               retry.expires_after(std::chrono::milliseconds(300));
               retry.async_wait(
                   [this, c, &retry, done, attempt](const boost::system::error_code& ec) {
                     if (ec || stopped_)
                       return done(std::nullopt, rpc_error::unavailable, "mnigsd is shutting down");
                     request_session(c, retry, done, attempt + 1);
                   });
               return;
             }
             if (!r.ok())
               return fail(r.kind == RpcReply::Kind::error ? rpc_error::failed : rpc_error::failed,
                           "the gateway refused the session: " + r.message);
             const Json::Value& g = r.result;
             if (auto why = check_grant(g); !why.empty())
               return fail(rpc_error::failed,
                           "the gateway's reply to requestConnection is unusable: " + why);
             c.session_id = g["sessionId"].asString();
             c.secret = g["secret"].asString();
             if (auto why = check_tunnel_params(g["tunnel"], c.gateway_address,
                                                mesh_addresses());
                 !why.empty()) {
               give_back(c);
               return fail(rpc_error::failed,
                           "the gateway's tunnel parameters are refused: " + why);
             }
             c.tunnel = g["tunnel"];
             if (auto pay = check_payment(g["payment"])) c.payment = *pay;
             c.timeout = g["timeout"].asInt64();
             c.created = clock_();
             c.expires = c.created + c.timeout;
             done(c, 0, "");
           });
}

void ConnectionManager::payment_required(const Connection& c) {
  const std::string url = c.payment["url"].asString();
  log_.warn("gateway ", c.gateway_address, " requires payment before traffic goes through",
            url.empty() ? std::string() : ": open " + url);
  hooks_.fire("subscriber.onPaymentRequired", {{"SESSION_ID", c.session_id},
                                               {"GATEWAY", c.gateway_address},
                                               {"NAME", c.gateway_name},
                                               {"PAYMENT_URL", url}});
}

void ConnectionManager::fail_connect(const Responder& reply, int code, std::string message) {
  state_ = State::idle;
  last_error_ = std::move(message);
  log_.warn(last_error_);
  reply.error(code, last_error_);
  // Auto mode may have been turned on meanwhile: it looks again (its own
  // attempts go on in try_choices).
  if (!considering_ && !testing_) schedule_consider(std::chrono::milliseconds(0));
}

void ConnectionManager::give_back(const Connection& c) {
  // Released rather than left to hold a slot at the gateway until expiry.
  call_rpc(strand_, c.gateway_address, static_cast<std::uint16_t>(c.gateway_port),
           "releaseConnection", credentials(c), kCallTimeout, [](RpcReply) {});
}

void ConnectionManager::bring_up(Connection c, Responder reply) {
  // A gateway test's own session is not recorded: a restart must not take
  // it for the connection (the gateway lets it expire).
  if (testing_temporary_) return connect_tunnel(c, reply);
  // Recorded first, then the tunnel: if mnigsd dies in between, the next
  // start resumes the session (or finds it expired) instead of leaving it
  // held at the gateway with nobody knowing its secret, and onConnect runs
  // only for a connection that is on record.
  persist(c, [this, c, reply](std::string error) {
    if (!error.empty()) {
      give_back(c);
      return fail_connect(reply, rpc_error::failed,
                          "the connection could not be recorded: " + error);
    }
    connect_tunnel(c, reply);
  });
}

std::vector<std::string> ConnectionManager::mesh_addresses() const {
  std::vector<std::string> ours = os::routable_addresses();
  auto drop_tunnel_addresses = [&ours](const Connection& c) {
    for (const char* key : {"address4", "address6"}) {
      auto given = c.tunnel[key].isString() ? parse_address(c.tunnel[key].asString())
                                            : std::nullopt;
      if (!given) continue;
      std::erase_if(ours, [&](const std::string& a) { return parse_address(a) == given; });
    }
  };
  if (connection_) drop_tunnel_addresses(*connection_);
  if (standby_) drop_tunnel_addresses(standby_->c);
  if (beside_) drop_tunnel_addresses(*beside_);
  return ours;
}

void ConnectionManager::open_tunnel(TunnelPlugin* t, const std::string& method,
                                    const TunnelSession& session,
                                    std::function<void(std::string, std::string)> done) {
  t->connect(session, [this, method, session, done](std::string error) {
    if (!error.empty()) return done(std::move(error), "");
    // Asked on the plugin's strand, the way every call into it is made.
    plugins_.with_tunnel(method, [session, done](TunnelPlugin* t) {
      done("", t ? t->traffic(session).device : "");
    });
  });
}

void ConnectionManager::connect_tunnel(Connection c, Responder reply) {
  plugins_.with_tunnel(c.tunnel_method(), [this, c, reply](TunnelPlugin* t) {
    auto finish = once([this, c, reply](std::string error, std::string device) mutable {
      c.device = std::move(device);
      boost::asio::post(strand_, [this, c, reply, error] {
        if (stopped_) {
          // Shutting down meanwhile: the record stays, the next start
          // resumes the session.
          state_ = State::idle;
          return reply.error(rpc_error::unavailable,
                             "mnigsd is shutting down; the connection resumes at its next start");
        }
        if (!error.empty()) {
          forget();
          give_back(c);
          return fail_connect(reply, rpc_error::failed,
                              "the tunnel could not be brought up: " + error);
        }
        connection_ = c;
        state_ = State::connected;
        if (testing_temporary_) {  // a gateway test's own: the test measures and ends it
          schedule_renewal(std::chrono::seconds(std::max<std::int64_t>(1, c.timeout / 3)));
          Json::Value r = c.describe();
          r["state"] = "connected";
          return reply.result(r);
        }
        start_probing(c);
        schedule_standby(std::chrono::milliseconds(0));
        schedule_review();
        if (env_.connected) env_.connected(c.gateway_address);
        if (!pending_from_.empty()) {
          record_switch(pending_from_, c.gateway_address, pending_reason_);
          pending_from_.clear();
          pending_reason_.clear();
        }
        schedule_renewal(std::chrono::seconds(std::max<std::int64_t>(1, c.timeout / 3)));
        log_.info("connected to ", c.gateway_address, " (", c.gateway_name, ") with ", c.suite,
                  ", session ", c.session_id, ", renewing every ",
                  std::max<std::int64_t>(1, c.timeout / 3), " s");
        hooks_.fire("subscriber.onConnect", {{"SESSION_ID", c.session_id},
                                             {"GATEWAY", c.gateway_address},
                                             {"SUITE", c.suite},
                                             {"NAME", c.gateway_name},
                                             {"EXPIRES", std::to_string(c.expires)}});
        if (c.payment_required()) payment_required(c);
        Json::Value r = c.describe();
        r["state"] = "connected";
        reply.result(r);
      });
    });
    if (!t) return finish("tunnel " + c.tunnel_method() + " is not running", "");
    open_tunnel(t, c.tunnel_method(), tunnel_session(c), finish);
  });
}

void ConnectionManager::schedule_renewal(std::chrono::seconds in) {
  if (stopped_) return;
  timer_->expires_after(in);
  timer_->async_wait([this](const boost::system::error_code& ec) {
    if (!ec) renew();
  });
}

void ConnectionManager::renew() {
  if (state_ != State::connected || !connection_ || stopped_) return;
  Connection c = *connection_;
  call_rpc(strand_, c.gateway_address, static_cast<std::uint16_t>(c.gateway_port),
           "renewConnection", credentials(c), kCallTimeout, [this, c](RpcReply r) {
             if (state_ != State::connected || !connection_ ||
                 connection_->session_id != c.session_id)
               return;  // disconnected meanwhile
             const std::int64_t now = clock_();
             if (r.ok()) {
               if (auto why = check_renewal(r.result); !why.empty()) {
                 r.kind = RpcReply::Kind::transport;  // retried below, as a garbled answer
                 r.message = "the gateway's reply to renewConnection is unusable: " + why;
               }
             }
             if (r.ok()) {
               connection_->timeout = r.result["timeout"].asInt64();
               connection_->expires = now + connection_->timeout;
               persist(*connection_);
               log_.debug("session ", c.session_id, " renewed for ", connection_->timeout, " s");
               if (auto m = check_metered(r.result["used"], now)) connection_->metered = *m;
               if (auto pay = check_payment(r.result["payment"])) {
                 const bool was = connection_->payment_required();
                 connection_->payment = *pay;
                 if (!was && connection_->payment_required()) payment_required(*connection_);
               }
               if (r.result["uplink"].isBool() && !r.result["uplink"].asBool()) {
                 log_.warn("gateway ", c.gateway_address, " says its uplink is down");
                 if (auto_active() && !testing_temporary_)
                   return leave("the gateway's uplink is down");
               }
               return schedule_renewal(
                   std::chrono::seconds(std::max<std::int64_t>(1, connection_->timeout / 3)));
             }
             // Only a definite "no" ends the session; a busy or restarting
             // gateway (unavailable, full, overloaded) is retried below.
             if (r.kind == RpcReply::Kind::error &&
                 (r.code == rpc_error::not_found || r.code == rpc_error::unauthorized)) {
               const std::string why = "the gateway refused to renew the session: " + r.message;
               if (auto_active() && !testing_temporary_ && promote_standby(why)) return;
               return tear_down(why);
             }
             if (now >= connection_->expires) {
               const std::string why =
                   "the gateway did not answer until the session expired (" + r.message + ")";
               if (auto_active() && !testing_temporary_ && promote_standby(why)) return;
               return tear_down(why);
             }
             // Transient: try again soon, but not past the expiry.
             auto left = connection_->expires - now;
             log_.warn("renewal failed (", r.message, "); retrying, ", left,
                       " s left before the session expires");
             schedule_renewal(std::chrono::seconds(std::clamp<std::int64_t>(left / 3, 1, 5)));
           });
}

void ConnectionManager::disconnect(Responder reply) {
  boost::asio::post(strand_, [this, reply] {
    if (state_ != State::connected || !connection_)
      return reply.error(rpc_error::conflict, std::string("not connected (") + to_string(state_) +
                                                  ")");
    state_ = State::disconnecting;
    timer_->cancel();
    // The operator wants no gateway: auto mode must not connect another.
    if (!pinned_ && config_.get()->get_bool("subscriber", "auto")) set_pinned(true);
    auto_timer_->cancel();
    Connection c = *connection_;
    call_rpc(strand_, c.gateway_address, static_cast<std::uint16_t>(c.gateway_port),
             "releaseConnection", credentials(c), kCallTimeout, [this, c, reply](RpcReply r) {
               bool released = r.ok();
               if (!released) log_.warn("the gateway did not confirm the release: ", r.message);
               tear_down("disconnected by the operator", [c, reply, released] {
                 Json::Value out(Json::objectValue);
                 out["disconnected"] = true;
                 out["released"] = released;
                 out["gatewayAddress"] = c.gateway_address;
                 reply.result(out);
               });
             });
  });
}

void ConnectionManager::stop_watching() {
  timer_->cancel();
  if (check_timer_) check_timer_->cancel();
  ++check_round_;
  if (connection_) note_quality(connection_->gateway_address, prober_.get());
  prober_.reset();
}

void ConnectionManager::tear_down(const std::string& reason, std::function<void()> done) {
  drop_standby("the connection ends: " + reason);
  standby_timer_->cancel();
  review_timer_->cancel();
  better_since_.reset();
  stop_watching();
  if (!connection_) {
    state_ = State::idle;
    if (done) done();
    return;
  }
  Connection c = *connection_;
  state_ = State::disconnecting;
  plugins_.with_tunnel(c.tunnel_method(), [this, c, reason, done](TunnelPlugin* t) {
    auto finish = once([this, c, reason, done](std::string error) {
      boost::asio::post(strand_, [this, c, reason, done, error] {
        if (!error.empty()) log_.warn("taking the tunnel down: ", error);
        connection_.reset();
        state_ = State::idle;
        forget();
        if (reason != "disconnected by the operator") last_error_ = reason;
        log_.info("connection to ", c.gateway_address, " ended: ", reason);
        if (!testing_temporary_)
          hooks_.fire("subscriber.onDisconnect", {{"SESSION_ID", c.session_id},
                                                  {"GATEWAY", c.gateway_address},
                                                  {"SUITE", c.suite},
                                                  {"REASON", reason}});
        if (done) done();
        schedule_consider(std::chrono::milliseconds(0));
      });
    });
    if (!t) return finish("");
    t->disconnect(tunnel_session(c), finish);
  });
}

void ConnectionManager::describe(std::function<void(Json::Value)> done) {
  boost::asio::post(strand_, [this, done] {
    Json::Value v(Json::objectValue);
    v["state"] = to_string(state_);
    v["connection"] = connection_ ? connection_->describe() : Json::Value();
    v["lastError"] = last_error_;
    v["auto"] = config_.get()->get_bool("subscriber", "auto");
    v["pinned"] = pinned_;
    v["health"] = prober_ ? prober_->figures() : Json::Value();
    v["standby"] = describe_standby();
    v["switches"] = switches_;
    v["checks"] = checks_;
    Json::Value held(Json::objectValue);
    const std::int64_t now = clock_();
    for (const auto& [address, until] : held_down_)
      if (until >= now) held[address] = static_cast<Json::Int64>(until - now + 1);
    v["heldDown"] = held;
    // Each connected session's device and counters, from its tunnel.
    std::vector<std::pair<const char*, const Connection*>> asked;
    if (state_ == State::connected && connection_) asked.emplace_back("connection", &*connection_);
    if (standby_) asked.emplace_back("standby", &standby_->c);
    auto out = std::make_shared<Json::Value>(std::move(v));
    auto left = std::make_shared<std::size_t>(asked.size());
    if (asked.empty()) return done(*out);
    for (const auto& [key, c] : asked) {
      auto session = tunnel_session(*c, key == std::string("standby"));
      plugins_.with_tunnel(c->tunnel_method(), [this, out, left, key, session,
                                                done](TunnelPlugin* t) {
        const TunnelTraffic traffic = t ? t->traffic(session) : TunnelTraffic{};
        boost::asio::post(strand_, [out, left, key, traffic, done] {
          (*out)[key]["traffic"] = to_json(traffic);
          if (--*left == 0) done(*out);
        });
      });
    }
  });
}

void ConnectionManager::persist(const Connection& c, std::function<void(std::string)> then) {
  auto write = [c](sqlite3* db) {
    Statement st(db,
                 "INSERT OR REPLACE INTO subscriber_connection (id, gateway_address, "
                 "gateway_port, gateway_name, session_id, secret, suite, tunnel, timeout, "
                 "created, expires, gateway_key, gateway_key_source, subscriber_key) "
                 "VALUES (1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
    st.bind_text(1, c.gateway_address)
        .bind_int64(2, c.gateway_port)
        .bind_text(3, c.gateway_name)
        .bind_text(4, c.session_id)
        .bind_text(5, c.secret)
        .bind_text(6, c.suite)
        .bind_text(7, to_json_text(c.tunnel))
        .bind_int64(8, c.timeout)
        .bind_int64(9, c.created)
        .bind_int64(10, c.expires)
        .bind_text(11, c.gateway_key)
        .bind_text(12, c.gateway_key_source)
        .bind_text(13, c.subscriber_key);
    st.step();
    return true;
  };
  if (!then) return store_.post([write](sqlite3* db) { write(db); });
  store_.query<bool>(
      write, strand_, [then](bool) { then(""); }, [then](std::string error) { then(error); });
}

void ConnectionManager::forget() {
  store_.post([](sqlite3* db) { exec(db, "DELETE FROM subscriber_connection"); });
}

}  // namespace mnigs
