// The config section of tunnel/cjdns (section `iptunnel`): where
// cjdroute's admin interface is (the keys of discovery/cjdns, read the same
// way), the gateway's pool and uplink, what cjdroute is told to route on
// the subscriber, and the subscriber's routing table and rule priority.
// See README.md.
//
// Pure functions; thread-safe.
#pragma once

#include <json/value.h>

#include <cstdint>
#include <mnigs/config_decl.hpp>
#include <optional>
#include <string>

#include "settings.hpp"  // discovery/cjdns: confFile, adminFile, timeout

namespace mnigs::iptunnel {

struct Settings {
  cjdns::Settings admin;  // confFile, adminFile, timeout
  std::string pool4 = "10.94.0.0/24";
  std::string pool6 = "fd94::/64";
  std::string uplink;  // "" = masquerade out of any interface but cjdroute's TUN
  // cjdroute's TUN device; "" = the device that holds cjdroute's own
  // fc00::/8 address (Core_nodeInfo's myIp6), looked up when needed.
  std::string tun_device;
  // IpTunnel_allowConnection's ip4Prefix / ip6Prefix: the route the
  // subscriber's cjdroute installs into its TUN (none at 32 / 128; 0 is a
  // default route). The subscriber's mnigsd routes by itself, so by
  // default cjdroute installs none.
  int ip4_prefix = 32;
  int ip6_prefix = 128;
  std::int64_t table = 65529;
  int priority = 31040;
  // Seconds between checks of cjdroute (its key and TUN, that the
  // connections are still the ones made, the addresses a gateway issued).
  int check_interval = 30;
};

void declare_keys(ConfigDeclarer& declarer);

// Reads the section (types and ranges checked by the core) and applies the
// checks a declaration cannot express. nullopt with `why` naming the key,
// the value and what is allowed.
std::optional<Settings> parse_settings(const Json::Value& section, std::string* why);

}  // namespace mnigs::iptunnel
