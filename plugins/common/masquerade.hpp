// The NAT of a tunnel gateway (gre, ipip, cjdns): the pool's addresses
// masqueraded as they leave by the uplink, in an nft table of the plugin's
// own that is written whole (so a second write replaces the first) and
// deleted whole at reset and stop.
//
// Pure functions; thread-safe.
#pragma once

#include <string>

namespace mnigs::tunnels {

// The nft match of the interfaces the pool may leave by: `oifname "UPLINK"`
// when `uplink` is set, else `oifname != DEVICES`, DEVICES being an nft
// interface expression for the tunnel's own devices (`"mngre-gw*"`,
// quoted by the caller).
std::string uplink_match(const std::string& uplink, const std::string& devices);

// "  chain postrouting { ... }": masquerades `pool4` and `pool6` (prefixes;
// "" for a family without one) leaving by `out` (uplink_match).
std::string masquerade_chain(const std::string& pool4, const std::string& pool6,
                             const std::string& out);

// A whole script for `nft -f -` that (re)defines table inet `table` holding
// only that chain.
std::string masquerade_table(const std::string& table, const std::string& pool4,
                             const std::string& pool6, const std::string& out);

}  // namespace mnigs::tunnels
