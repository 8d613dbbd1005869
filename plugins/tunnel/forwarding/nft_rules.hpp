// The gateway's nftables state: one table, `inet mnigs_forwarding`, owned by
// the forwarding plugin and nobody else.
//
//   set subscribers4 / subscribers6   mesh addresses of current subscribers
//   chain forward (filter)   subscribers out of the uplink: accept (counted);
//                            replies in from the uplink: accept;
//                            anybody else out of the uplink: drop (restrict)
//   chain postrouting (nat)  subscribers out of the uplink: masquerade
//
// The table is always written whole by one `nft -f -` transaction that
// deletes the previous one, so it is never seen half-built; sessions come
// and go as set elements.
//
// Pure functions; thread-safe.
#pragma once

#include "common.hpp"

#include <string>
#include <vector>

namespace mnigs::forwarding {

inline constexpr const char* kNftFamily = "inet";
inline constexpr const char* kNftTable = "mnigs_forwarding";

// "subscribers4" or "subscribers6".
const char* set_name(Family family);

// What the table holds.
struct TableSpec {
  std::string uplink;                     // checked by nft_quotable_interface_name()
  bool restrict = true;                   // drop non-subscribers leaving by the uplink
  std::vector<std::string> subscribers4;  // canonical IPv4 literals; duplicates are fine
  std::vector<std::string> subscribers6;  // canonical IPv6 literals
};

// The nft script that replaces the table with `spec`, for `nft -f -`. It
// starts with "table ...; delete table ..." so it works whether or not the
// table exists. Written for nftables 1.0 (Debian 12).
std::string table_script(const TableSpec& spec);

// nft -f - with table_script(spec) on stdin.
Command apply_table(const TableSpec& spec);
// nft add element inet mnigs_forwarding subscribers4 { 10.77.2.2 }
Command add_element(const Address& subscriber);
// nft delete element ...; a removal (already gone is fine).
Command delete_element(const Address& subscriber);
// nft delete table inet mnigs_forwarding; a removal.
Command delete_table();

// The sysctl that turns on forwarding for a family:
// net.ipv4.ip_forward or net.ipv6.conf.all.forwarding.
const char* forwarding_sysctl(Family family);

}  // namespace mnigs::forwarding
