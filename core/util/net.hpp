// Address and prefix helpers shared by config validation and RPC access checks.
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
  boost::asio::ip::address network;
  unsigned length = 0;

  bool contains(const boost::asio::ip::address& addr) const;
  std::string to_string() const;  // canonical "10.0.0.0/8"
};

// Parses "10.0.0.0/8", "::1/128" or a bare address (full length). Host bits
// must be zero. Returns nullopt with `why` set on failure.
std::optional<Prefix> parse_prefix(std::string_view text, std::string* why = nullptr);

// Parses an IPv4 or IPv6 literal (an IPv6 zone "%eth0" is accepted).
std::optional<boost::asio::ip::address> parse_address(std::string_view text);

// ::ffff:a.b.c.d becomes a.b.c.d; everything else is returned unchanged.
boost::asio::ip::address unmap(const boost::asio::ip::address& addr);

bool any_contains(const std::vector<Prefix>& prefixes, const boost::asio::ip::address& addr);

}  // namespace mnigs
