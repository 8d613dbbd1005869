// The config section of tunnel/openvpn (`openvpn`). See README.md.
//
// Pure functions; thread-safe.
#pragma once

#include <json/value.h>

#include <mnigs/config_decl.hpp>
#include <optional>
#include <string>
#include <vector>

#include "tunnel_settings.hpp"

namespace mnigs::openvpn {

enum class Protocol { udp, tcp };
const char* to_string(Protocol p);
std::optional<Protocol> protocol_of(const std::string& name);

// Pools, device names, uplink, table and priority: tunnel_settings.hpp.
// The gateway runs one openvpn server per protocol, each with its own tun
// device: gatewayInterface plus "-udp" or "-tcp".
struct Settings : tunnels::TunnelSettings {
  std::vector<Protocol> protocols{Protocol::udp};  // gateway: the servers run
  int port = 1194;                                  // gateway: both servers' port
  Protocol protocol = Protocol::udp;                // subscriber: the one it prefers
  std::string run_dir = "/run/mnigs/openvpn";       // keys, configs, sockets, pid files
  int ping = 10, ping_restart = 60;                 // seconds (keepalive)
};

Settings defaults();
void declare_keys(ConfigDeclarer& declarer);

// Reads the section (types already checked by the core) and applies the
// checks a declaration cannot express. nullopt with `why` naming the key,
// the value and what is allowed.
std::optional<Settings> parse_settings(const Json::Value& section, std::string* why);

// The gateway's tun device of a protocol's server.
std::string server_device(const Settings& s, Protocol p);

// The subscriber holds one device per connected session, at most this many.
inline constexpr unsigned kMaxUplinks = 4;

}  // namespace mnigs::openvpn
