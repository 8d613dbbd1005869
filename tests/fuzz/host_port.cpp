// "host:port" text (parse_host_port) under each combination of rules: the
// form peers, URLs and config keys use. What parses must print back to text
// that parses to the same host and port.
#include "util/host_port.hpp"

#include <cstdint>
#include <cstdlib>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  for (int bits = 0; bits < 8; ++bits) {
    mnigs::HostPortRules rules;
    if (bits & 1) rules.default_port = 65533;
    rules.bare_ipv6 = bits & 2;
    rules.names = bits & 4;
    std::string why;
    auto hp = mnigs::parse_host_port(text, rules, &why);
    if (!hp) {
      if (why.empty()) std::abort();
      continue;
    }
    if (hp->port == 0 || hp->host.empty()) std::abort();
    // The zone of an IPv6 host is whatever Boost takes (any text after '%',
    // ']' included), which cannot be written back in brackets.
    if (hp->host.find(']') != std::string::npos) continue;
    const bool v6 = hp->host.find(':') != std::string::npos;
    const std::string again =
        (v6 ? "[" + hp->host + "]" : hp->host) + ":" + std::to_string(hp->port);
    auto back = mnigs::parse_host_port(again, rules, &why);
    if (!back || back->host != hp->host || back->port != hp->port) std::abort();
  }
  return 0;
}
