// Reading "host:port" as users write it in config keys, URLs and options:
// "10.0.0.1:65533", "[fd00::1]:65533", and, where the caller allows them, no
// port ("10.0.0.1", "[fd00::1]"), a bare IPv6 literal ("fd00::1") or a host
// name ("node.mesh:4222"). Pure; thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace mnigs {

// What a caller accepts besides ADDRESS:PORT and [IPv6]:PORT.
struct HostPortRules {
  // The port when the text gives none; unset: a port is required.
  std::optional<std::uint16_t> default_port;
  // "fd00::1" is the IPv6 host (so without a port); otherwise an IPv6 host
  // must be in brackets.
  bool bare_ipv6 = false;
  // A host name (letters, digits, '.', '-', '_'; at most 253) as the host;
  // otherwise only an IP literal.
  bool names = false;
};

struct HostPort {
  std::string host;  // as written, without brackets
  std::uint16_t port = 0;
};

// Parses `text` by `rules`. On failure returns nullopt and sets `why` (if
// given) to the quoted text and what is wrong with it, e.g. "\"10.0.0.1:0\"
// has a port that is not 1..65535" or "\"node:1\" is not an IPv4 or IPv6
// address (write ADDRESS:PORT or [IPv6]:PORT)".
std::optional<HostPort> parse_host_port(std::string_view text, const HostPortRules& rules,
                                        std::string* why = nullptr);

}  // namespace mnigs
