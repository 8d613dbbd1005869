// cjdroute's IpTunnel admin functions (tunnel/IpTunnel_admin.c) and
// Core_nodeInfo (admin/angel/Core.c) as of cjdns v22.3: the arguments this
// plugin sends and the replies it accepts. Every reply comes from outside
// and is checked before use: the types, the ranges cjdroute itself keeps
// (connection numbers are non-negative ints, prefixes 0..32/0..128), keys
// and addresses parsed, lists bounded.
//
//   IpTunnel_allowConnection {publicKeyOfAuthorizedNode, ip4Address, ip4Prefix, ip4Alloc,
//                             ip6Address, ip6Prefix, ip6Alloc} -> {"connection": N, "error": "none"}
//   IpTunnel_connectTo {publicKeyOfNodeToConnectTo}             -> {"connection": N, ...}
//   IpTunnel_removeConnection {connection}                      -> {..., "error": "none"}
//                                                                  or {"error": "not_found"}
//   IpTunnel_listConnections {}                                 -> {"connections": [N...]}
//   IpTunnel_showConnection {connection}                        -> {"key", "outgoing",
//                                   "ip4Address", "ip4Prefix", "ip4Alloc" (only when set), ...}
//                                                                  or {"error": "connection not found"}
//   Core_nodeInfo {}                                            -> {"myAddr": "v22.<label>.<key>.k",
//                                                                   "myIp6": "fcxx:...", ...}
//
// Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "bencode.hpp"  // discovery/cjdns

namespace mnigs::iptunnel {

namespace bencode = cjdns::bencode;

// The error text of removeConnection for an unknown number.
inline constexpr const char* kNotFound = "not_found";
// showConnection's.
inline constexpr const char* kConnectionNotFound = "connection not found";
// listConnections has no paging: its reply must fit in cjdroute's 64 KiB
// reply, which bounds it near 6000 numbers. More than this is not believed.
inline constexpr std::size_t kMaxConnections = 8192;

// Why `key` is not a cjdns public key as crypto/Key.c's Key_parse() reads
// one (52 characters of cjdns base32, ".k", an address in fc00::/8), and
// stricter: exactly 54 characters and in the lower case Key_stringify()
// writes, so that it compares equal to what cjdroute reports. "" when it is.
std::string key_refusal(const std::string& key);

// One IpTunnel_allowConnection: a session's addresses ("" for a family
// without one), and for each family the route the subscriber's cjdroute
// installs (prefix) and the block the subscriber may send from (alloc).
struct Allowance {
  std::string key;
  std::string ip4, ip6;
  int ip4_prefix = 32, ip4_alloc = 32;
  int ip6_prefix = 128, ip6_alloc = 128;
};
bencode::Value allow_args(const Allowance& allowance);
bencode::Value connect_args(const std::string& gateway_key);
bencode::Value connection_args(std::int64_t connection);

// The number in {"connection": N}. nullopt with `why` when absent or out of
// range.
std::optional<std::int64_t> parse_connection(const bencode::Value& reply, std::string* why);

// The numbers in listConnections' reply, at most kMaxConnections.
std::optional<std::vector<std::int64_t>> parse_connections(const bencode::Value& reply,
                                                           std::string* why);

// One connection as showConnection describes it.
struct Connection {
  std::int64_t number = -1;
  std::string key;
  bool outgoing = false;
  std::string ip4, ip6;  // canonical text; "" when cjdroute shows none
  int ip4_prefix = 32, ip4_alloc = 32, ip6_prefix = 128, ip6_alloc = 128;
};
std::optional<Connection> parse_connection_shown(const bencode::Value& reply, std::int64_t number,
                                                 std::string* why);

// The node's own key and address from Core_nodeInfo; the address must be
// the key's.
struct NodeIdentity {
  std::string key;  // "<52 chars>.k"
  std::string ip6;  // canonical text, e.g. "fc5c:afd5:da49:bc6:88ba:7327:e665:ae01"
};
std::optional<NodeIdentity> parse_node_info(const bencode::Value& reply, std::string* why);

// The IPv4 or IPv6 network `address`/`prefix`, canonical ("10.94.0.0/24");
// "" when `address` is no address of that family.
std::string network_of(const std::string& address, int prefix, bool v6);

// The routes cjdroute's RouteGen puts into its TUN for one issued address
// with `prefix` (tunnel/IpTunnel.c addAddress): none at 32 / 128, the two
// halves of the address space for 0, else the address's network.
std::vector<std::string> cjdroute_routes(const std::string& address, int prefix, bool v6);

}  // namespace mnigs::iptunnel

namespace mnigs::iptunnel {

// The interface that holds `address` (IPv6, any spelling) in `ip -j addr
// show` output; "" when none does or the output is not that.
std::string device_holding(const std::string& ip_json, const std::string& address);

}  // namespace mnigs::iptunnel
