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
#include <mnigs/log.hpp>

#include "iptunnel.hpp"

namespace mnigs::iptunnel {

namespace {

std::string key_of(const TunnelSession& s) { return s.gateway_address + " " + s.id; }

// The gateway's "tunnel" object, checked for what the core leaves to the
// plugin (TunnelSession::params).
std::string params_refusal(const Json::Value& p) {
  if (!p["address4"].isString() && !p["address6"].isString())
    return "the gateway gave the session no tunnel address";
  for (auto [name, max] : {std::pair{"cjdnsPrefix4", 32}, std::pair{"cjdnsPrefix6", 128}})
    if (p.isMember(name) && (!p[name].isInt() || p[name].asInt() < 0 || p[name].asInt() > max))
      return std::string("\"") + name + "\" is not a prefix length from 0 to " +
             std::to_string(max);
  return "";
}

}  // namespace

void IpTunnelPlugin::connect(const TunnelSession& session, Done done) {
  if (!started_) return done("the iptunnel plugin is not running");
  const Json::Value& p = session.params;
  if (auto why = params_refusal(p); !why.empty())
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
  const bool routed = p.get("routing", "default").asString() != "none";
  queue_.enqueue(
      [this, session, gateway_key, routed, done](CommandQueue::Finished finished) {
        auto complete = [done, finished](std::string error) {
          done(std::move(error));
          finished();
        };
        const std::string key = key_of(session);
        if (auto it = uplinks_.find(key); it != uplinks_.end()) {
          // Connected already: routing "default" for a session connected
          // with "none" moves the default route; anything else is as asked.
          if (!routed || routes_->holds(key)) return complete("");
          return route_uplink(key, complete);
        }
        find_tun([this, session, gateway_key, routed, key, complete](std::string error) {
          if (!error.empty()) return complete("cannot set up the cjdns tunnel: " + error);
          if (own_ && gateway_key == own_->key)
            return complete(refuse("badKey", "the gateway's cjdns key is this node's own"));
          call("IpTunnel_connectTo", connect_args(gateway_key),
               [this, session, gateway_key, routed, key, complete](const Reply& r,
                                                                   const std::string& error) {
                 std::string why = error;
                 auto n = why.empty() ? parse_connection(r.value, &why) : std::nullopt;
                 if (!n) {
                   if (error.empty() || r.status == Reply::Status::remote_error)
                     refuse(error.empty() ? "malformed" : "cjdrouteError", why);
                   return complete("cjdroute did not connect to the gateway's key " +
                                   gateway_key + ": " + why);
                 }
                 const Json::Value& p = session.params;
                 Uplink up;
                 up.session = session;
                 up.connection = *n;
                 up.device = tun_;
                 up.address4 = p["address4"].isString() ? p["address4"].asString() : "";
                 up.address6 = p["address6"].isString() ? p["address6"].asString() : "";
                 up.prefix4 = p.get("cjdnsPrefix4", 32).asInt();
                 up.prefix6 = p.get("cjdnsPrefix6", 128).asInt();
                 Json::Value what(Json::objectValue);
                 what["key"] = gateway_key;
                 what["outgoing"] = true;
                 what["session"] = session.id;
                 what["device"] = up.device;
                 what["address4"] = up.address4;
                 what["address6"] = up.address6;
                 what["prefix4"] = up.prefix4;
                 what["prefix6"] = up.prefix6;
                 record(*n, what);
                 uplinks_[key] = up;
                 std::vector<Command> steps;
                 if (!up.address4.empty())
                   steps.push_back(netcmd::ip_command(
                       netcmd::Family::v4,
                       {"addr", "replace", up.address4 + "/32", "dev", up.device}));
                 if (!up.address6.empty())
                   steps.push_back(netcmd::ip_command(
                       netcmd::Family::v6,
                       {"addr", "replace", up.address6 + "/128", "dev", up.device, "nodad"}));
                 auto undo = [this, key, what, n = *n, complete](const std::string& error) {
                   const std::string device = uplinks_[key].device;
                   uplinks_.erase(key);
                   remove_connection(n, [this, device, what, error, complete](std::string) {
                     queue_.run_all(uplink_removal(device, what), true,
                                    [error, complete](std::string) { complete(error); });
                   });
                 };
                 queue_.run_steps(std::move(steps), [this, key, routed, complete,
                                                     undo](std::string error) {
                   if (!error.empty()) return undo(error);
                   context_.log().info("IpTunnel connection ", uplinks_[key].connection, " to ",
                                       uplinks_[key].session.params["gatewayKey"].asString(),
                                       " on ", uplinks_[key].device);
                   if (!routed) return complete("");
                   route_uplink(key, [undo, complete](std::string error) {
                     if (!error.empty()) return undo(error);
                     complete("");
                   });
                 });
               });
        });
      },
      [done](const std::string& reason) { done(reason); });
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
        auto it = uplinks_.find(key);
        if (it == uplinks_.end()) {
          done("");
          return finished();
        }
        Uplink up = it->second;
        uplinks_.erase(it);
        std::vector<Command> commands = routes_->release(key);
        Json::Value what(Json::objectValue);
        what["address4"] = up.address4;
        what["address6"] = up.address6;
        what["prefix4"] = up.prefix4;
        what["prefix6"] = up.prefix6;
        for (auto& c : uplink_removal(up.device, what)) commands.push_back(std::move(c));
        remove_connection(up.connection, [this, up, commands, done,
                                          finished](std::string error) mutable {
          // The routes and addresses go whatever cjdroute says: the
          // connection's record stays for reset() when it could not be
          // removed.
          queue_.run_all(std::move(commands), true, [up, error, done,
                                                     finished](std::string kernel_error) mutable {
            if (!error.empty())
              error = "cannot remove IpTunnel connection " + std::to_string(up.connection) +
                      " (reset removes it later): " + error;
            done(!error.empty() ? error : kernel_error);
            finished();
          });
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
