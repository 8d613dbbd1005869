// What a gateway grants, checked before any of it is used. The gateway's
// replies are input from another node like any other: a field of the wrong
// type, a string that breaks an HTTP request line, or tunnel addresses whose
// prefix would cover the mesh must refuse the session with a sentence, never
// throw in a plugin or put a route in the main table.
#pragma once

#include <json/value.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace mnigs {

// Seconds a gateway may grant per renewal.
inline constexpr std::int64_t min_grant_seconds = 5;
inline constexpr std::int64_t max_grant_seconds = 86400;

// requestConnection's result: "sessionId" and "secret" (1 to 256 printable
// ASCII characters, no space), "timeout" (5 to 86400 s), "tunnel" (see
// check_tunnel_params). "" when usable, else why not.
std::string check_grant(const Json::Value& result);

// renewConnection's result: an object with "timeout" (5 to 86400 s).
std::string check_renewal(const Json::Value& result);

// The "tunnel" object every tunnel plugin receives, checked the same way for
// all of them, so that a plugin may rely on what is documented in
// <mnigs/plugin.hpp> (TunnelSession::params):
// - an object of at most 32 members, keys of 1 to 32 letters, digits or '_';
//   values are strings (at most 8192 bytes, no control characters but
//   newline and tab), numbers, booleans, or arrays/objects of those nested
//   at most two levels;
// - "path" and "token", when present, are printable ASCII without spaces
//   (they go into HTTP request lines and headers);
// - "mtu" is an integer from 576 to 65535;
// - "address4"/"gateway4" are IPv4 and "address6"/"gateway6" IPv6 unicast
//   literals; "prefix4" is 8 to 32 and "prefix6" 64 to 128, given only with
//   their address; the gateway's address lies inside its prefix;
// - the network address/prefix contains neither the gateway's mesh address
//   nor any of `local_addresses` (this host's own addresses): such a
//   connected route would capture mesh traffic.
std::string check_tunnel_params(const Json::Value& tunnel, const std::string& gateway_address,
                                const std::vector<std::string>& local_addresses);

// A renewal's "used" (what the gateway metered): "bytesOut", "bytesIn" and
// "seconds", non-negative integers; nullopt otherwise. The result carries
// them and "at": `now`.
std::optional<Json::Value> check_metered(const Json::Value& used, std::int64_t now);

// A grant's or renewal's "payment": "required" (a boolean), "paid",
// "secondsRemaining" and "bytesRemaining" (-1 for none), and "url" only when
// it is an http(s) URL of at most 512 printable characters without quotes
// or backslashes (it reaches a hook's environment and the terminal);
// nullopt when "required" is missing.
std::optional<Json::Value> check_payment(const Json::Value& payment);

}  // namespace mnigs
