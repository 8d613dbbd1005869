// The websocket plugin's config section (`websocket`): declaration and
// checked values. See README.md for every key.
//
// Pure functions; thread-safe.
#pragma once

#include <json/value.h>

#include <chrono>
#include <cstdint>
#include <mnigs/config_decl.hpp>
#include <optional>
#include <string>

#include "interface_name.hpp"
#include "tunnel_settings.hpp"

namespace mnigs::websocket {

// Pools, device names, uplink, table and priority: tunnel_settings.hpp.
struct Settings : tunnels::TunnelSettings {
  Settings() {
    pool4 = "10.98.0.0/24";
    pool6 = "fd98::/64";
    gateway_interface = "mnws-gw";
    subscriber_interface = "mnws0";
    table = 65532;
    priority = 31010;
  }
  std::string path = "/ws/websocket";  // the L3 endpoint on the RPC port
  // wss: the gateway serves path and l2Path on a TLS port of the plugin's
  // own too; subscribers use it whenever they know the gateway's key.
  bool tls = true;
  int tls_port = 65530;
  bool require_tls = false;  // subscriber: refuse gateways whose key is unknown
  int mtu = 1500;
  bool offload = true;
  std::chrono::milliseconds keepalive{5000};
  std::chrono::milliseconds timeout{15000};
  std::size_t max_queue = 4u << 20;
  // The vpn-ws compatible L2 switch.
  bool l2 = true;
  std::string l2_path = "/vpn";
  std::string l2_auth = "session";  // session | proxy | none
  bool l2_flood_broadcast = true;
  bool l2_flood_multicast = true;
  std::chrono::milliseconds l2_timeout{60000};
  // Switch peers at most: each may hold max_queue bytes of the gateway's
  // memory, and upgraded connections no longer count against the HTTP
  // server's connection limit.
  std::size_t max_peers = 64;
  std::string l2_interface = "mnws-l2";  // the gateway's own port on the switch
  std::string l2_address;  // its address, e.g. "10.97.0.1/24"; "" = no port of its own
};

void declare_keys(ConfigDeclarer& declarer);

// Reads the section (types already checked by the core) and applies the
// checks a declaration cannot express. nullopt with `why` naming the key,
// the value and what is allowed.
std::optional<Settings> parse_settings(const Json::Value& section, std::string* why);

// Subscriber: how a session is connected, from its params: the core's
// gatewayKey (and gatewayKeySource) and the gateway's tlsPort. With the key
// known, wss to that port with that key, and nothing else: a relay that
// strips tlsPort from the reply gets no plain connection. Without it, plain
// ws (port 0 here), unless websocket.requireTls.
struct WssChoice {
  int port = 0;          // the wss port; 0: plain ws on the RPC port
  std::string pin;       // the key the gateway must show
  std::string refusal;   // why the session cannot be connected; "" when it can
};
WssChoice choose_wss(const Json::Value& params, bool require_tls);

// The subscriber holds one tun device per connected session (the
// connection, a standby, a test beside them), at most kMaxUplinks.
inline constexpr unsigned kMaxUplinks = 4;
// The n-th of them: uplink_interface (interface_name.hpp).

}  // namespace mnigs::websocket
