// The health probe: a small UDP datagram a subscriber sends through its
// tunnel to the gateway's daemon port (daemon.rpcport, UDP), which the
// gateway echoes back to session holders. It measures round-trip time and
// loss on the path the subscriber's traffic takes, and carries the
// gateway's word on its uplink.
//
//   offset size  field
//   0      4     magic "MNPB"
//   4      1     version (1)
//   5      1     type: 1 request, 2 reply
//   6      1     flags; in a reply, bit 0 (kUplinkDown): the gateway has no
//                Internet and has withdrawn its offer. Unknown bits are
//                ignored; a request's flags are not echoed.
//   7      1     reserved, 0
//   8      4     sequence number, big-endian
//   12     8     sender's timestamp, big-endian, opaque to the gateway
//   20     n     padding, zero bytes; a reply is exactly as long as its request
//
// A datagram is kHeader..kMaxSize bytes (1200 fits every IPv6 path), so a
// reply never outgrows what it answers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace mnigs::probe {

constexpr std::size_t kHeader = 20;
constexpr std::size_t kMaxSize = 1200;
constexpr std::uint8_t kVersion = 1;
constexpr std::uint8_t kUplinkDown = 0x01;

enum class Type : std::uint8_t { request = 1, reply = 2 };

struct Packet {
  Type type = Type::request;
  std::uint8_t flags = 0;
  std::uint32_t sequence = 0;
  std::uint64_t timestamp = 0;
  std::size_t size = kHeader;  // whole datagram, padding included
};

// The datagram for `p`; p.size is clamped to kHeader..kMaxSize.
std::string encode(const Packet& p);

// Parses one datagram; nullopt for anything that is not a well-formed probe
// (wrong size, magic, version, type, reserved byte or padding).
std::optional<Packet> parse(std::string_view datagram);

}  // namespace mnigs::probe
