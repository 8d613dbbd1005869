// cjdroute's IpTunnel admin functions (tunnel/IpTunnel_admin.c) and
// Core_nodeInfo (admin/angel/Core.c) as of cjdns v22.3: the arguments this
// plugin sends and the replies it accepts. Every reply comes from outside
// and is checked before use: the types, the ranges cjdroute itself keeps
// (connection numbers are non-negative ints, prefixes 0..32/0..128), keys
// and addresses parsed, lists bounded.
//
//   IpTunnel_allowConnection {publicKeyOfAuthorizedNode, ip4Address, ip4Prefix,
//                             ip4Alloc, ip6Address, ip6Prefix, ip6Alloc}
//       -> {"connection": N, "error": "none"}
//   IpTunnel_connectTo {publicKeyOfNodeToConnectTo} -> {"connection": N, ...}
//   IpTunnel_removeConnection {connection}
//       -> {..., "error": "none"} or {"error": "not_found"}
//   IpTunnel_listConnections {} -> {"connections": [N...]}
//   IpTunnel_showConnection {connection}
//       -> {"key", "outgoing", "ip4Address", "ip4Prefix", "ip4Alloc" (only when
//          set), ...} or {"error": "connection not found"}
//   RouteGen_removePrefix {route: "ADDR/PREFIX"}
//       -> {"error": "none"} or {"error": "no_such_route"}
//   RouteGen_commit {tunName} -> {"error": "none"}
//   Core_nodeInfo {} -> {"myAddr": "v22.<label>.<key>.k", "myIp6": "fcxx:...", ...}
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

// Why the addresses an outgoing connection shows (what the gateway's
// cjdroute issued over the mesh, IpTunnel_getAddresses) are not exactly the
// session's: `ip4`/`ip6` ("" for none) with alloc 32/128 and prefix 32/128,
// so that the subscriber's cjdroute installs no route of its own
// (tunnel/IpTunnel.c addAddress routes addr/prefix when prefix < 32/128).
// "" when they are, or when none have arrived yet.
std::string issued_refusal(const Connection& shown, const std::string& ip4,
                           const std::string& ip6);
// Whether the gateway's addresses have reached the connection.
inline bool addresses_issued(const Connection& c) { return !c.ip4.empty() || !c.ip6.empty(); }

// Whether connection `c` holds `address` (either family, canonical text).
inline bool holds_address(const Connection& c, const std::string& address) {
  return !address.empty() && (c.ip4 == address || c.ip6 == address);
}

// RouteGen's admin functions (tunnel/RouteGen_admin.c): removePrefix takes
// the prefix exactly as IpTunnel.c added it, the issued address (not its
// network) with the prefix length; commit rewrites the TUN's routes.
bencode::Value routegen_prefix_args(const std::string& address, int prefix);
bencode::Value routegen_commit_args(const std::string& tun);

// Why `key` may not stand for the node at mesh address `address`: when the
// address is a cjdns one (fc00::/8), it must be the key's own (a key is
// bound to its address; anyone can name another's key). "" when it may,
// or when `address` is no cjdns address (the key cannot be checked then).
std::string mesh_key_refusal(const std::string& key, const std::string& address);

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

#include <json/value.h>

namespace mnigs::iptunnel {

// Why the gateway's "tunnel" object is refused by the subscriber: no
// address, an "address6" inside cjdns' own fc00::/8 (it would shadow mesh
// addresses on the TUN), or a cjdnsPrefix4/6 other than 32/128 (a shorter
// one makes the subscriber's cjdroute route into the TUN by itself, past
// subscriber.routing; 0 is a default route). "" when accepted.
std::string tunnel_params_refusal(const Json::Value& params);

// The interface that holds `address` (IPv6, any spelling) in `ip -j addr
// show` output; "" when none does or the output is not that.
std::string device_holding(const std::string& ip_json, const std::string& address);

}  // namespace mnigs::iptunnel
