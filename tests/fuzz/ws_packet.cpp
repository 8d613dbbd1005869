// What the websocket tunnel reads off a peer's packets and headers: the IP
// version and addresses of a layer-3 packet (packet_addresses), the MACs of
// an Ethernet frame, and MAC text as in X-vpn-ws-MAC (parse_mac).
#include "mac.hpp"
#include "packet.hpp"

#include <cctype>
#include <cstdint>
#include <cstdlib>

using namespace mnigs::websocket;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (auto a = packet_addresses(std::span(data, size))) {
    if (a->version != 4 && a->version != 6) std::abort();
    IpKeyHash{}(a->source);
  }
  if (size >= 14) {
    const Mac dst = Mac::from(data), src = Mac::from(data + 6);
    if (Mac::from_u64(dst.to_u64()) != dst) std::abort();
    is_unicast(src);
    is_broadcast(dst);
    MacHash{}(src);
  }
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  if (auto mac = parse_mac(text)) {
    std::string lower(text);
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (lower[2] == '-')
      for (std::size_t i = 2; i < 17; i += 3) lower[i] = ':';
    if (to_string(*mac) != lower) std::abort();
  }
  return 0;
}
