// Addresses, ip(8) commands and the parsing of `ip -j route` output for the
// tunnel plugins.
//
// The subscriber's policy routing, per address family:
//   priority P    from all lookup main suppress_prefixlength 0
//   priority P+1  from all lookup T      (T holds only "default via GW")
// so every route in main more specific than /0 (the mesh) still wins and
// what would have used main's default route goes to the gateway instead.
//
// Pure functions; thread-safe.
#pragma once

#include "command_queue.hpp"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace mnigs::netcmd {

enum class Family { v4, v6 };

inline std::size_t index_of(Family family) { return family == Family::v4 ? 0 : 1; }
// "IPv4" or "IPv6", for messages.
const char* family_name(Family family);

// A unicast IPv4 or IPv6 address in its canonical text form.
struct Address {
  Family family = Family::v4;
  std::string text;  // e.g. "10.77.2.2", "fd00::2"
};

// Parses a literal. An IPv4-mapped IPv6 address becomes IPv4. Scoped
// (fe80::1%eth0), unspecified and multicast addresses are refused with `why`.
std::optional<Address> parse_address(const std::string& text, std::string* why);

// Where packets for the gateway go, from `ip -j route get GATEWAY`.
struct NextHop {
  std::string via;         // next-hop address; the gateway itself when on-link
  std::string via_family;  // "inet6" for an IPv4 route via an IPv6 next hop (babel), else ""
  std::string dev;         // outgoing interface
  bool onlink = false;     // no router between us and the gateway
};

// Reads the first route of `ip -j route get` output. nullopt with `why` when
// the output is not JSON, names no interface, the gateway is an address of
// this host (a route of type local, or via lo), or the route found is the
// default this plugin put in `own_table`: the gateway must be reachable
// through the mesh, not through the previous gateway.
std::optional<NextHop> parse_route_get(const std::string& json, const Address& gateway,
                                       std::int64_t own_table, std::string* why);

// The interface of the preferred (lowest metric) default route in
// `ip -j route show default` output; nullopt when there is none.
std::optional<std::string> parse_default_dev(const std::string& json);

// The interface names in `ip -j link show` output; empty when it is not
// that.
std::vector<std::string> parse_link_names(const std::string& json);

// Commands; each carries "-4" or "-6". Those meant for cleanup are removals.
Command ip_command(Family family, std::vector<std::string> args, bool removal = false);
// default dev DEV table T [src SRC]: SRC where the device holds several
// addresses of the family and only one is the tunnel's (cjdroute's TUN).
Command replace_default_dev(Family family, const std::string& dev, std::int64_t table,
                            const std::string& src = "");
Command route_get(const Address& gateway);                  // ip -4|-6 -j route get A
Command show_default(Family family);                        // ip -4|-6 -j route show default
Command replace_default(Family family, const NextHop& hop,  // ip -4|-6 route replace default ...
                        std::int64_t table);
Command add_suppress_rule(Family family, int priority);     // P lookup main suppress_prefixlength 0
Command add_table_rule(Family family, int priority, std::int64_t table);  // P lookup T
Command delete_suppress_rule(Family family, int priority);
Command delete_table_rule(Family family, int priority, std::int64_t table);
// "ip -4|-6 rule del priority P", run until it fails, at most `repeat` times:
// removes whatever rule sits at P without knowing it.
Command delete_rules_at(Family family, int priority, unsigned repeat);
Command flush_table(Family family, std::int64_t table);  // ip -4|-6 route flush table T

}  // namespace mnigs::netcmd
