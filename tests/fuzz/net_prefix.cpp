// Prefixes and addresses as text (parse_prefix under each rule, parse_address,
// unmap), read from daemons' tables and config. A prefix that parses prints
// (to_string) as one that parses again to the same network and length, and
// contains its own network address.
#include "util/net.hpp"

#include <cstdint>
#include <cstdlib>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  for (int bits = 0; bits < 4; ++bits) {
    mnigs::PrefixRules rules;
    rules.bare_address = bits & 1;
    rules.host_bits = bits & 2;
    std::string why;
    auto p = mnigs::parse_prefix(text, &why, rules);
    if (!p) {
      if (why.empty()) std::abort();
      continue;
    }
    if (p->length > (p->network.is_v4() ? 32u : 128u)) std::abort();
    // A v4-mapped network (::ffff:a.b.c.d/N) is compared unmapped, so it
    // contains nothing: not checked here.
    const bool mapped = p->network.is_v6() && p->network.to_v6().is_v4_mapped();
    if (!mapped && !p->contains(p->network)) std::abort();
    mnigs::PrefixRules loose;
    loose.host_bits = true;
    auto back = mnigs::parse_prefix(p->to_string(), &why, loose);
    if (!back || back->length != p->length || (!mapped && !back->contains(p->network)))
      std::abort();
  }
  if (auto a = mnigs::parse_address(text)) mnigs::unmap(*a);
  return 0;
}
