// Address and prefix helpers shared by config validation, RPC access checks
// and (through plugins/common) plugins reading prefixes from their daemons
// and config keys.
#pragma once

#include <boost/asio/ip/address.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mnigs {

// An IPv4 or IPv6 prefix. IPv4-mapped IPv6 addresses match IPv4 prefixes.
struct Prefix {
  boost::asio::ip::address network;  // as written: host bits only where parse_prefix allowed them
  unsigned length = 0;

  bool contains(const boost::asio::ip::address& addr) const;
  std::string to_string() const;  // canonical "10.0.0.0/8"
};

// What parse_prefix accepts besides "10.0.0.0/8" and "fd00::/64".
struct PrefixRules {
  // A bare address ("10.0.0.1", "::1") is a prefix of full length;
  // otherwise "/LENGTH" is required.
  bool bare_address = true;
  // Bits after the length may be set ("10.97.0.1/24": an address with the
  // length of its network); otherwise they must be zero.
  bool host_bits = false;
};

// Parses ADDRESS/LENGTH, LENGTH within the family (0..32, 0..128), by
// `rules`. A zone ("fe80::%eth0/64") is refused: a prefix names a network,
// and matching ignores zones. Returns nullopt with `why` set on failure.
std::optional<Prefix> parse_prefix(std::string_view text, std::string* why = nullptr,
                                   const PrefixRules& rules = {});

// Parses an IPv4 or IPv6 literal (an IPv6 zone "%eth0" is accepted).
std::optional<boost::asio::ip::address> parse_address(std::string_view text);

// ::ffff:a.b.c.d becomes a.b.c.d; everything else is returned unchanged.
boost::asio::ip::address unmap(const boost::asio::ip::address& addr);

bool any_contains(const std::vector<Prefix>& prefixes, const boost::asio::ip::address& addr);

// The address a browser's Origin header names ("http://10.0.0.1:8080",
// "https://[fd00::1]"): nullopt for a host name, "null", a zone, or
// anything that is no http(s) origin.
std::optional<boost::asio::ip::address> origin_address(std::string_view origin);

// Whether a page of `origin` may call the mesh methods of mnigsd (CORS) and
// open a tunnel with a session's credentials: its Origin names an address,
// in `allowed` (daemon.rpcCorsOrigins). A page of a site named by DNS never
// may: any site on the Internet is one.
bool origin_allowed(std::string_view origin, const std::vector<Prefix>& allowed);

}  // namespace mnigs
