// Joining a vpn-ws style switch as a client (admin RPC websocket.join and
// websocket.leave): a tap device on this host becomes a port of a switch
// elsewhere, one bare Ethernet frame per binary message, as the vpn-ws
// client does. The switch may be another mnigs gateway's (websocket.l2Path)
// or vpn-ws itself.
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

#include "interface_name.hpp"
#include "tunnel.hpp"
#include "util/host_port.hpp"

namespace mnigs::websocket {

namespace {

struct Url {
  std::string host;  // an IP literal
  std::uint16_t port = 80;
  std::string path = "/";
  bool tls = false;
};

// "ws://10.0.0.1:65533/vpn", "ws://[fd00::1]:8080/", "wss://10.0.0.1:65530/vpn".
// No names: the mesh addresses are literals, and nothing here waits for DNS.
std::optional<Url> parse_url(const std::string& text, std::string* why) {
  Url u;
  std::string rest;
  if (text.rfind("ws://", 0) == 0) {
    rest = text.substr(5);
  } else if (text.rfind("wss://", 0) == 0) {
    rest = text.substr(6);
    u.tls = true;
    u.port = 443;
  } else {
    *why = "the url must start with ws:// or wss://";
    return std::nullopt;
  }
  auto slash = rest.find('/');
  std::string authority = rest.substr(0, slash);
  if (slash != std::string::npos) u.path = rest.substr(slash);
  auto endpoint = parse_host_port(authority, {.default_port = u.port}, why);
  if (!endpoint) return std::nullopt;
  u.host = endpoint->host;
  u.port = endpoint->port;
  if (u.path.find_first_of(" \r\n") != std::string::npos) {
    *why = "the path must not hold spaces or line breaks";
    return std::nullopt;
  }
  return u;
}

}  // namespace

void WebsocketTunnel::register_join_methods() {
  context_.register_method("join", Access::admin,
                           [this](const Json::Value& params, const CallInfo&, Responder reply) {
                             join(params, std::move(reply));
                           });
  context_.register_method("leave", Access::admin,
                           [this](const Json::Value& params, const CallInfo&, Responder reply) {
                             leave(params, std::move(reply));
                           });
}

void WebsocketTunnel::join(const Json::Value& p, Responder reply) {
  if (!p.isObject() || !p["url"].isString())
    return reply.error(rpc_error::invalid_params,
                       "join needs {\"url\": \"ws://GATEWAY:65533/vpn\", \"interface\": \"mnl2\", "
                       "\"bridge\": false, \"mac\": optional, \"token\": optional, \"key\": "
                       "the switch's key pin for a wss:// url}");
  for (const char* key : {"interface", "mac", "token", "key"})
    if (p.isMember(key) && !p[key].isString())
      return reply.error(rpc_error::invalid_params, std::string(key) + " must be a string");
  if (p.isMember("bridge") && !p["bridge"].isBool())
    return reply.error(rpc_error::invalid_params, "bridge must be true or false");
  std::string why;
  auto url = parse_url(p["url"].asString(), &why);
  if (!url) return reply.error(rpc_error::invalid_params, "url: " + why);
  // No certificate authority here: a wss switch is held to the key given.
  const std::string key = p.get("key", "").asString();
  if (url->tls && !tls::valid_pin(key))
    return reply.error(rpc_error::invalid_params,
                       "a wss url needs \"key\": the switch's key pin, sha256: and 64 lowercase "
                       "hex digits (an mnigs gateway's nodeInfo tunnelKeys.websocket)");
  if (!url->tls && !key.empty())
    return reply.error(rpc_error::invalid_params, "\"key\" is for wss urls only");
  const std::string name = p.get("interface", "mnl2").asString();
  if (!valid_interface_name(name))
    return reply.error(rpc_error::invalid_params,
                       "interface: \"" + name + "\" is not an interface name");
  if (joined_.count(name))
    return reply.error(rpc_error::conflict, name + " has joined " + joined_[name].url + " already");
  std::optional<Mac> wanted;
  if (p.isMember("mac")) {
    wanted = parse_mac(p["mac"].asString());
    if (!wanted || wanted->bytes[0] & 1)
      return reply.error(rpc_error::invalid_params,
                         "mac: \"" + p["mac"].asString() + "\" is not a unicast MAC address");
  }
  const bool bridge = p.get("bridge", false).asBool();
  std::optional<TunDevice> tap;
  try {
    tap.emplace(name, TunDevice::Kind::tap, false);
  } catch (const std::exception& e) {
    return reply.error(rpc_error::failed, e.what());
  }
  std::vector<Command> steps;
  if (wanted)
    steps.push_back(cmd({"ip", "link", "set", "dev", name, "address", to_string(*wanted)}));
  steps.push_back(cmd({"ip", "link", "set", "dev", name, "up"}));
  auto device = std::make_shared<std::optional<TunDevice>>(std::move(tap));
  queue_.enqueue(
      [this, steps, device, name, url = *url, bridge, p, reply](CommandQueue::Finished finished) {
        run_steps(steps, [this, device, name, url, bridge, p, reply, finished](std::string error) {
          if (!error.empty()) {
            reply.error(rpc_error::failed, error);
            return finished();
          }
          TunnelClient::Target target;
          target.address = url.host;
          target.port = url.port;
          target.path = url.path;
          target.ethernet = true;
          if (url.tls) target.tls_pin = p["key"].asString();
          // What a vpn-ws client announces: its tap's MAC, and whether it
          // bridges other hosts' frames.
          if (auto mac = interface_mac(name))
            target.headers.emplace_back("X-vpn-ws-MAC", to_string(*mac));
          if (bridge) target.headers.emplace_back("X-vpn-ws-bridge", "on");
          if (p["token"].isString())
            target.headers.emplace_back("Authorization", "Bearer " + p["token"].asString());
          Link::Options options;
          options.role = Link::Role::client;
          options.max_queue = settings_.max_queue;
          // Our own pings keep the link busy; the switch may answer them
          // (an mnigs gateway does) or not (vpn-ws ignores pings), so
          // what the switch's TCP acknowledges counts as well.
          options.liveness.ping_after = settings_.keepalive;
          options.liveness.dead_after = settings_.l2_timeout;
          options.liveness.acks_count = true;
          Joined j;
          j.url = p["url"].asString();
          j.interface = name;
          j.bridge = bridge;
          j.client = std::make_shared<TunnelClient>(plane_->io(), std::move(**device), options,
                                                    target, context_.log());
          auto client = j.client;
          joined_[name] = j;
          plane_->post([client] { client->start(); });
          Json::Value r(Json::objectValue);
          r["interface"] = name;
          r["url"] = j.url;
          if (auto mac = interface_mac(name)) r["mac"] = to_string(*mac);
          reply.result(r);
          finished();
        });
      },
      [reply](const std::string& reason) { reply.error(rpc_error::unavailable, reason); });
}

void WebsocketTunnel::leave(const Json::Value& p, Responder reply) {
  const std::string name = p.isObject() ? p.get("interface", "mnl2").asString() : "mnl2";
  auto it = joined_.find(name);
  if (it == joined_.end()) return reply.error(rpc_error::not_found, name + " has joined no switch");
  auto client = it->second.client;
  joined_.erase(it);
  // Closing the device removes the interface.
  plane_->post([client] { client->stop(); });
  Json::Value r(Json::objectValue);
  r["interface"] = name;
  reply.result(r);
}

}  // namespace mnigs::websocket
