#include "settings.hpp"

#include "tls.hpp"

#include "interface_name.hpp"
#include "routes.hpp"
#include "util/net.hpp"

namespace mnigs::websocket {

void declare_keys(ConfigDeclarer& d) {
  Settings s;
  d.declare(
      string_key("path", s.path, "Gateway: HTTP path of the L3 tunnel endpoint on the RPC port"));
  d.declare(bool_key("tls", s.tls,
                     "Gateway: also serve the L3 tunnel and the switch over TLS (wss) on tlsPort, "
                     "with a key made on first start and pinned by subscribers through the "
                     "gateway's signed DHT offer or nodeInfo"));
  d.declare(int_key("tlsPort", s.tls_port, 1, 65535, "Gateway: TCP port of wss"));
  d.declare(bool_key("requireTls", s.require_tls,
                     "Subscriber: connect only over wss, refusing gateways whose key is not known "
                     "(plain ws is for links that are encrypted already, such as cjdns)"));
  tunnels::declare_tunnel_keys(d, s);
  d.declare(int_key("mtu", s.mtu, 576, 65535, "MTU of the tun devices"));
  d.declare(bool_key("offload", s.offload,
                     "Let the kernel hand over TCP segments of up to 64 KiB and packets without "
                     "checksums (IFF_VNET_HDR, TUNSETOFFLOAD)"));
  d.declare(int_key("keepalive", 5, 1, 3600,
                    "Seconds without sending before a ping (L3 tunnel, both ends; websocket.join); "
                    "switch peers are never pinged"));
  d.declare(int_key("timeout", 15, 2, 86400,
                    "L3 tunnel: seconds without hearing from the peer before the link counts as "
                    "dead (the subscriber then reconnects)"));
  d.declare(int_key("maxQueue", static_cast<std::int64_t>(s.max_queue), 65536, 1 << 30,
                    "Bytes waiting to be sent per link; packets beyond are dropped"));
  d.declare(bool_key("l2", s.l2, "Gateway: serve the vpn-ws compatible layer-2 switch"));
  d.declare(string_key("l2Path", s.l2_path, "Gateway: HTTP path of the layer-2 switch"));
  d.declare(string_key("l2Auth", s.l2_auth,
                       "Gateway: who may join the switch: session (a current session's subscriber "
                       "address, or its token), proxy (a reverse proxy in front authenticates; "
                       "only loopback may connect), none",
                       false, {"session", "proxy", "none"}));
  d.declare(bool_key("l2FloodBroadcast", s.l2_flood_broadcast,
                     "Gateway: the switch floods broadcast frames to every peer", true));
  d.declare(bool_key("l2FloodMulticast", s.l2_flood_multicast,
                     "Gateway: the switch floods IPv4/IPv6 multicast frames to every peer", true));
  d.declare(
      string_key("l2Interface", s.l2_interface,
                 "Gateway: name of the tap device that is the gateway's own port on the switch"));
  d.declare(string_key("l2Address", s.l2_address,
                       "Gateway: address/prefix of that port (e.g. 10.97.0.1/24); traffic from the "
                       "prefix is masqueraded out of the uplink; empty: the gateway is no port of "
                       "the switch"));
  d.declare(int_key("maxPeers", static_cast<std::int64_t>(s.max_peers), 1, 65535,
                    "Gateway: switch peers at most; more are refused (503). Each may hold up "
                    "to maxQueue bytes of memory"));
  d.declare(int_key("l2Timeout", 60, 20, 86400,
                    "Seconds after which a switch peer that was neither heard from nor "
                    "acknowledged what it was sent is dropped, and its TCP user timeout; also "
                    "websocket.join's (vpn-ws clients ping after 17 s idle and never answer "
                    "pings)"));
}

std::optional<Settings> parse_settings(const Json::Value& c, std::string* why) {
  auto fail = [&](const std::string& reason) -> std::optional<Settings> {
    if (why) *why = reason;
    return std::nullopt;
  };
  Settings s;
  auto str = [&](const char* key, std::string& out) {
    if (c.isMember(key)) out = c[key].asString();
  };
  tunnels::read_tunnel_keys(c, s);
  str("path", s.path);
  str("l2Path", s.l2_path);
  str("l2Auth", s.l2_auth);
  str("l2Interface", s.l2_interface);
  str("l2Address", s.l2_address);
  if (c.isMember("mtu")) s.mtu = c["mtu"].asInt();
  if (c.isMember("tls")) s.tls = c["tls"].asBool();
  if (c.isMember("tlsPort")) s.tls_port = c["tlsPort"].asInt();
  if (c.isMember("requireTls")) s.require_tls = c["requireTls"].asBool();
  if (c.isMember("offload")) s.offload = c["offload"].asBool();
  if (c.isMember("keepalive")) s.keepalive = std::chrono::seconds(c["keepalive"].asInt64());
  if (c.isMember("timeout")) s.timeout = std::chrono::seconds(c["timeout"].asInt64());
  if (c.isMember("maxQueue")) s.max_queue = static_cast<std::size_t>(c["maxQueue"].asInt64());
  if (c.isMember("l2")) s.l2 = c["l2"].asBool();
  if (c.isMember("l2FloodBroadcast")) s.l2_flood_broadcast = c["l2FloodBroadcast"].asBool();
  if (c.isMember("l2FloodMulticast")) s.l2_flood_multicast = c["l2FloodMulticast"].asBool();
  if (c.isMember("l2Timeout")) s.l2_timeout = std::chrono::seconds(c["l2Timeout"].asInt64());
  if (c.isMember("maxPeers")) s.max_peers = static_cast<std::size_t>(c["maxPeers"].asInt64());

  for (auto [key, value] : {std::pair{"path", &s.path}, std::pair{"l2Path", &s.l2_path}})
    if (value->empty() || value->front() != '/' ||
        value->find_first_of("? \t\r\n") != std::string::npos || *value == "/jsonrpc")
      return fail(std::string("websocket.") + key + ": \"" + *value +
                  "\" must be an absolute path without spaces or a query, and not /jsonrpc");
  if (s.l2 && s.path == s.l2_path)
    return fail("websocket.path and websocket.l2Path are both \"" + s.path + "\": use two paths");
  if (auto why = tunnels::check_tunnel_keys("websocket", s, kMaxUplinks); !why.empty())
    return fail(why);
  for (unsigned n = 0; n < kMaxUplinks; ++n)
    if (const auto name = uplink_interface(s.subscriber_interface, n); name == s.l2_interface)
      return fail("websocket.subscriberInterface: \"" + s.subscriber_interface +
                  "\" would name a session's device \"" + name +
                  "\", which l2Interface names already");
  if (!nft_quotable_interface_name(s.l2_interface))
    return fail("websocket.l2Interface: \"" + s.l2_interface + "\" is not an interface name");
  if (!s.l2_address.empty()) {
    // And an address an interface may have: not unspecified or multicast.
    auto p = parse_prefix(s.l2_address, nullptr, {.bare_address = false, .host_bits = true});
    std::string why;
    if (!p || !netcmd::parse_address(p->network.to_string(), &why))
      return fail("websocket.l2Address: \"" + s.l2_address +
                  "\" must be an address with its prefix length, like 10.97.0.1/24");
  }
  if (s.timeout <= s.keepalive)
    return fail("websocket.timeout (" + std::to_string(s.timeout.count() / 1000) +
                " s) must be longer than websocket.keepalive (" +
                std::to_string(s.keepalive.count() / 1000) + " s)");
  return s;
}

WssChoice choose_wss(const Json::Value& p, bool require_tls) {
  WssChoice c;
  const Json::Value& key = p["gatewayKey"];
  if (key.isNull()) {
    if (require_tls)
      c.refusal =
          "websocket.requireTls is on, and the gateway's key is known neither from its signed "
          "DHT offer nor from its nodeInfo";
    return c;
  }
  const std::string source =
      p["gatewayKeySource"].isString() && p["gatewayKeySource"].asString() == "offer"
          ? "its signed DHT offer"
          : "its nodeInfo";
  if (!key.isString() || !tls::valid_pin(key.asString())) {
    c.refusal = "the gateway's websocket key from " + source +
                " is not a key pin (sha256: and 64 lowercase hex digits)";
    return c;
  }
  const Json::Value& port = p["tlsPort"];
  if (!port.isInt() || port.asInt() < 1 || port.asInt() > 65535) {
    c.refusal = "the gateway's key is known (from " + source +
                ") but its reply offers no wss port: refusing plain ws to it";
    return c;
  }
  c.port = port.asInt();
  c.pin = key.asString();
  return c;
}

}  // namespace mnigs::websocket
