// What the L3 tunnel reads off an IP packet: its version and addresses,
// as map keys. Pure functions on bytes; thread-safe.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <optional>
#include <span>

namespace mnigs::websocket {

// An IPv4 or IPv6 address as 16 bytes: IPv4 in the v4-mapped form
// (::ffff:a.b.c.d), so both families share one table.
struct IpKey {
  std::array<std::uint8_t, 16> bytes{};
  friend bool operator==(const IpKey&, const IpKey&) = default;

  static IpKey v4(const std::uint8_t* p) {
    IpKey k;
    k.bytes[10] = k.bytes[11] = 0xff;
    std::memcpy(k.bytes.data() + 12, p, 4);
    return k;
  }
  static IpKey v6(const std::uint8_t* p) {
    IpKey k;
    std::memcpy(k.bytes.data(), p, 16);
    return k;
  }
};

struct IpKeyHash {
  std::size_t operator()(const IpKey& k) const noexcept {
    std::uint64_t a, b;
    std::memcpy(&a, k.bytes.data(), 8);
    std::memcpy(&b, k.bytes.data() + 8, 8);
    return std::hash<std::uint64_t>{}(a * 0x9e3779b97f4a7c15ull ^ b);
  }
};

struct PacketAddresses {
  int version = 0;  // 4 or 6
  IpKey source, destination;
};

// The version and addresses of the IP packet in `packet`; nullopt when it
// is too short for its header or is neither IPv4 nor IPv6.
inline std::optional<PacketAddresses> packet_addresses(std::span<const std::uint8_t> packet) {
  if (packet.empty()) return std::nullopt;
  const int version = packet[0] >> 4;
  PacketAddresses a;
  a.version = version;
  if (version == 4) {
    if (packet.size() < 20) return std::nullopt;
    a.source = IpKey::v4(packet.data() + 12);
    a.destination = IpKey::v4(packet.data() + 16);
    return a;
  }
  if (version == 6) {
    if (packet.size() < 40) return std::nullopt;
    a.source = IpKey::v6(packet.data() + 8);
    a.destination = IpKey::v6(packet.data() + 24);
    return a;
  }
  return std::nullopt;
}

}  // namespace mnigs::websocket
