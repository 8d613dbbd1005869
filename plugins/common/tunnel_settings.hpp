// The config keys every L3 tunnel plugin with devices of its own has
// (websocket, gre, ipip): the gateway's address pool, the two device names,
// the uplink, and the subscriber's routing table and rule priority. Each
// plugin's Settings derives from TunnelSettings and sets its own defaults.
//
// Pure functions; thread-safe.
#pragma once

#include <json/value.h>

#include <cstdint>
#include <mnigs/config_decl.hpp>
#include <string>

namespace mnigs::tunnels {

struct TunnelSettings {
  std::string pool4, pool6;
  std::string gateway_interface, subscriber_interface;
  std::string uplink;  // "" = masquerade on every interface but the tunnel's
  std::int64_t table = 0;
  int priority = 0;
};

// Declares pool4, pool6, gatewayInterface, subscriberInterface, uplink,
// table and priority with `defaults`' values.
void declare_tunnel_keys(ConfigDeclarer& declarer, const TunnelSettings& defaults);
// Reads those keys that `section` holds (types already checked).
void read_tunnel_keys(const Json::Value& section, TunnelSettings& settings);
// The checks a declaration cannot express, for section `name` ("gre"):
// device names (the subscriber's up to its `uplinks`-th, which must not be
// the gateway's), the uplink, the table, the pools. "" when all pass, else
// a sentence naming the key and what is allowed.
std::string check_tunnel_keys(const std::string& name, const TunnelSettings& settings,
                              unsigned uplinks);

}  // namespace mnigs::tunnels
