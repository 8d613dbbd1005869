// The subscriber side of tunnel/cjdns: IpTunnel_connectTo the gateway's
// key, the session's addresses on cjdroute's TUN, and the default route
// moved into the TUN by policy routing (tunnels::TunnelRoutes) when the
// session is routed.
//
// cjdroute adds the addresses itself once the gateway's cjdroute sends
// them (IpTunnel_getAddresses over the mesh); adding them here first makes
// the tunnel usable at once and lets the routes name their source, which
// cjdroute needs: it picks an outgoing connection by a packet's source
// address, and the TUN holds the node's fc00::/8 address as well.
#include <boost/asio/steady_timer.hpp>

#include <algorithm>
#include <mnigs/log.hpp>

#include "iptunnel.hpp"

namespace mnigs::iptunnel {

namespace {

std::string key_of(const TunnelSession& s) { return s.gateway_address + " " + s.id; }

// How long connect() waits for the gateway's cjdroute to issue its
// addresses to this node's (IpTunnel_getAddresses over the mesh), so that
// they can be checked before the session is used; later ones are caught by
// the periodic check.
constexpr unsigned kIssueTries = 8;
constexpr std::chrono::milliseconds kIssuePoll{250};

}  // namespace

void IpTunnelPlugin::connect(const TunnelSession& session, Done done) {
  if (!started_) return done("the iptunnel plugin is not running");
  const Json::Value& p = session.params;
  if (auto why = tunnel_params_refusal(p); !why.empty())
    return done(refuse("badParams", "the gateway's tunnel parameters are refused: " + why));
  const std::string gateway_key = p["gatewayKey"].isString() ? p["gatewayKey"].asString() : "";
  if (gateway_key.empty())
    return done(refuse("noGatewayKey",
                       "the cjdns key of the gateway " + session.gateway_address +
                           " is unknown (neither its DHT offer nor its nodeInfo names one), and "
                           "IpTunnel connects to a key"));
  if (auto why = key_refusal(gateway_key); !why.empty())
    return done(refuse("badKey", "the gateway's cjdns key \"" + gateway_key.substr(0, 60) +
                                     "\" is refused: " + why));
  if (auto why = mesh_key_refusal(gateway_key, session.gateway_address); !why.empty())
    return done(refuse("badKey", "the gateway's cjdns key " + gateway_key + " is refused for " +
                                     session.gateway_address + ": " + why));
  const bool routed = p.get("routing", "default").asString() != "none";
  queue_.enqueue(
      [this, session, gateway_key, routed, done](CommandQueue::Finished finished) {
        auto complete = [done, finished](std::string error) {
          done(std::move(error));
          finished();
        };
        const std::string key = key_of(session);
        if (auto it = uplinks_.find(key); it != uplinks_.end()) {
          if (!it->second.broken.empty()) return complete(it->second.broken);
          // Connected already: routing "default" for a session connected
          // with "none" moves the default route; anything else is as asked.
          if (!routed || routes_->holds(key)) return complete("");
          return route_uplink(key, complete);
        }
        find_tun([this, session, gateway_key, routed, key, complete](std::string error) {
          if (!error.empty()) return complete("cannot set up the cjdns tunnel: " + error);
          if (own_ && gateway_key == own_->key)
            return complete(refuse("badKey", "the gateway's cjdns key is this node's own"));
          // A connection to this key that this plugin left (a lost reply)
          // goes; one the operator made is not shared with a session.
          scan([this, session, gateway_key, routed, key, complete](std::string error,
                                                                   std::vector<Connection> all) {
            if (!error.empty()) return complete("cannot set up the cjdns tunnel: " + error);
            std::vector<Connection> stale;
            for (const auto& c : all) {
              if (c.key != gateway_key || !c.outgoing) continue;
              const bool live = std::any_of(uplinks_.begin(), uplinks_.end(), [&](const auto& u) {
                return u.second.connection == c.number;
              });
              if (!recorded(c) || live)
                return complete(refuse("keyInUse", "cjdroute holds IpTunnel connection " +
                                                       std::to_string(c.number) + " to " +
                                                       gateway_key +
                                                       " already, which this session did not "
                                                       "make"));
              stale.push_back(c);
            }
            remove_all(stale, [this, session, gateway_key, routed, key,
                               complete](std::string error) {
              if (!error.empty())
                return complete("cannot remove a stale IpTunnel connection: " + error);
              call("IpTunnel_connectTo", connect_args(gateway_key),
                   [this, session, gateway_key, routed, key, complete](const Reply& r,
                                                                       const std::string& error) {
                     std::string why = error;
                     auto n = why.empty() ? parse_connection(r.value, &why) : std::nullopt;
                     auto connected = [this, session, gateway_key, routed, key,
                                       complete](std::int64_t n) {
                       const Json::Value& p = session.params;
                       Uplink up;
                       up.session = session;
                       up.connection = n;
                       up.device = tun_;
                       up.address4 = p["address4"].isString() ? p["address4"].asString() : "";
                       up.address6 = p["address6"].isString() ? p["address6"].asString() : "";
                       Json::Value what(Json::objectValue);
                       what["key"] = gateway_key;
                       what["outgoing"] = true;
                       what["session"] = session.id;
                       what["device"] = up.device;
                       what["address4"] = up.address4;
                       what["address6"] = up.address6;
                       record(n, what);
                       uplinks_[key] = up;
                       check_issued(key, kIssueTries, [this, key, routed,
                                                       complete](std::string refusal) {
                         if (!refusal.empty())
                           return drop_uplink(key, refusal, [this, key, refusal, complete] {
                             uplinks_.erase(key);
                             complete(refusal);
                           });
                         const Uplink& up = uplinks_.at(key);
                         std::vector<Command> steps;
                         if (!up.address4.empty())
                           steps.push_back(netcmd::ip_command(
                               netcmd::Family::v4,
                               {"addr", "replace", up.address4 + "/32", "dev", up.device}));
                         if (!up.address6.empty())
                           steps.push_back(netcmd::ip_command(
                               netcmd::Family::v6, {"addr", "replace", up.address6 + "/128",
                                                    "dev", up.device, "nodad"}));
                         auto undo = [this, key, complete](const std::string& error) {
                           drop_uplink(key, "", [this, key, error, complete] {
                             uplinks_.erase(key);
                             complete(error);
                           });
                         };
                         queue_.run_steps(std::move(steps), [this, key, routed, complete,
                                                             undo](std::string error) {
                           if (!error.empty()) return undo(error);
                           context_.log().info(
                               "IpTunnel connection ", uplinks_[key].connection, " to ",
                               uplinks_[key].session.params["gatewayKey"].asString(), " on ",
                               uplinks_[key].device);
                           if (!routed) return complete("");
                           route_uplink(key, [undo, complete](std::string error) {
                             if (!error.empty()) return undo(error);
                             complete("");
                           });
                         });
                       });
                     };
                     if (n) return connected(*n);
                     if (error.empty() || r.status == Reply::Status::remote_error)
                       refuse(error.empty() ? "malformed" : "cjdrouteError", why);
                     const std::string failure =
                         "cjdroute did not connect to the gateway's key " + gateway_key + ": " +
                         why;
                     if (r.status != Reply::Status::timeout) return complete(failure);
                     // The reply may be what was lost: adopt the connection
                     // cjdroute made, so that it is removed with the session.
                     scan([this, gateway_key, failure, connected, complete](
                              std::string error, std::vector<Connection> all) {
                       for (const auto& c : all)
                         if (error.empty() && c.outgoing && c.key == gateway_key && !recorded(c))
                           return connected(c.number);
                       complete(failure);
                     });
                   });
            });
          });
        });
      },
      [done](const std::string& reason) { done(reason); });
}

void IpTunnelPlugin::check_issued(const std::string& key, unsigned tries,
                                  std::function<void(std::string)> then) {
  auto it = uplinks_.find(key);
  if (it == uplinks_.end()) return then("");
  show(it->second.connection, [this, key, tries, then](std::string error, Shown c) {
    auto it = uplinks_.find(key);
    if (it == uplinks_.end()) return then("");
    if (!error.empty()) return then("");  // the periodic check looks again
    if (!c) return then(refuse("connectionLost", "cjdroute dropped the IpTunnel connection to " +
                                                     it->second.session.params["gatewayKey"]
                                                         .asString()));
    if (addresses_issued(*c)) {
      auto why = issued_refusal(*c, it->second.address4, it->second.address6);
      return then(why.empty() ? "" : refuse("badIssue", "the session with " +
                                                            it->second.session.gateway_address +
                                                            " is refused: " + why));
    }
    if (tries <= 1) return then("");
    auto timer = std::make_shared<boost::asio::steady_timer>(context_.executor(), kIssuePoll);
    timer->async_wait(queue_.guard<boost::system::error_code>(
        [this, timer, key, tries, then](boost::system::error_code) {
          check_issued(key, tries - 1, then);
        }));
  });
}

void IpTunnelPlugin::drop_uplink(const std::string& key, const std::string& why,
                                 std::function<void()> then) {
  auto it = uplinks_.find(key);
  if (it == uplinks_.end()) return then();
  Uplink& up = it->second;
  if (!why.empty()) {
    up.broken = why;
    context_.log().warn("taking the IpTunnel session with ", up.session.gateway_address,
                        " down: ", why);
  }
  std::vector<Command> commands = routes_->release(key);
  Json::Value what(Json::objectValue);
  what["address4"] = up.address4;
  what["address6"] = up.address6;
  for (auto& c : uplink_removal(up.device, what)) commands.push_back(std::move(c));
  const std::int64_t n = up.connection;
  up.connection = -1;
  auto kernel = [this, commands, then] {
    queue_.run_all(commands, true, [then](std::string) { then(); });
  };
  if (n < 0) return kernel();
  Expect e{n, up.session.params["gatewayKey"].asString(), true, "", ""};
  remove_checked(e, [this, kernel](std::string error, Shown removed) {
    if (!error.empty()) context_.log().warn("cannot remove an IpTunnel connection: ", error);
    if (removed) return clear_issued(*removed, kernel);
    kernel();
  });
}

void IpTunnelPlugin::route_uplink(const std::string& key, Done done) {
  const Uplink& up = uplinks_.at(key);
  routes_->take(
      key, up.device, {!up.address4.empty(), !up.address6.empty()}, up.session.gateway_address,
      [this](const std::string& k) {
        auto it = uplinks_.find(k);
        return it == uplinks_.end() ? std::string() : it->second.device;
      },
      // cjdroute's TUN carries the mesh as well (fc00::/8): the gateway's
      // mesh address may well be reached through it, by a route of main
      // more specific than the default the rules move.
      [](const std::string&) { return false; },
      [this, key, done](std::string error) {
        if (error.empty())
          context_.log().info("default route moved into ", uplinks_.at(key).device);
        done(error);
      },
      {up.address4, up.address6});
}

void IpTunnelPlugin::disconnect(const TunnelSession& session, Done done) {
  queue_.enqueue(
      [this, key = key_of(session), done](CommandQueue::Finished finished) {
        if (uplinks_.find(key) == uplinks_.end()) {
          done("");
          return finished();
        }
        // The connection is shown first and removed only when it is still
        // the one made (key, direction); RouteGen's prefixes and cjdroute's
        // TUN addresses go by what cjdroute recorded for it.
        drop_uplink(key, "", [this, key, done, finished] {
          uplinks_.erase(key);
          done("");
          finished();
        });
      },
      [done](const std::string& reason) { done(reason); });
}

TunnelTraffic IpTunnelPlugin::traffic(const TunnelSession& session) const {
  TunnelTraffic t;
  auto it = uplinks_.find(key_of(session));
  if (it == uplinks_.end()) return t;
  // cjdroute's TUN carries the mesh's own traffic too: its counters are
  // not the session's.
  t.device = it->second.device;
  return t;
}

}  // namespace mnigs::iptunnel
