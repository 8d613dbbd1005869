// tunnel/cjdns (iptunnel): a subscriber's cjdns key as requestConnection
// carries it (key_refusal), and cjdroute's replies to the IpTunnel and
// Core_nodeInfo calls as the plugin reads them, after bencode::decode.
// Nothing may crash; a reply that parses says so with numbers in range.
#include "plugins/discovery/cjdns/bencode.hpp"
#include "plugins/tunnel/cjdns/iptunnel_calls.hpp"

#include <cstdint>
#include <cstdlib>
#include <string>

using namespace mnigs;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size > 65536) return 0;  // the admin client reads no more
  const std::string text(reinterpret_cast<const char*>(data), size);
  // A key from the mesh: bounded by the core's key syntax (128 bytes), but
  // the check must hold for anything.
  const std::string refusal = iptunnel::key_refusal(text);
  if (refusal.empty() && (text.size() != 54 || text.compare(52, 2, ".k") != 0)) std::abort();
  std::string why;
  auto value = cjdns::bencode::decode(text, &why);
  if (!value) return 0;
  if (auto n = iptunnel::parse_connection(*value, &why); n && *n < 0) std::abort();
  if (auto list = iptunnel::parse_connections(*value, &why))
    for (auto n : *list)
      if (n < 0) std::abort();
  if (auto c = iptunnel::parse_connection_shown(*value, 0, &why)) {
    if (c->ip4_prefix < 0 || c->ip4_prefix > 32 || c->ip6_prefix < 0 || c->ip6_prefix > 128)
      std::abort();
  }
  iptunnel::parse_node_info(*value, &why);
  return 0;
}
