// The wire forms of tunnel/gre: GRE (RFC 2784 with the key and sequence
// extensions of RFC 2890) and plain IP in IP (protocol 4 for IPv4 inside,
// 41 for IPv6 inside), as the kernel's gre, ip6gre, ipip, sit and ip6tnl
// devices send and accept them.
//
// A raw IPv4 socket hands over the outer IPv4 header too; a raw IPv6 socket
// only what follows the IPv6 header and its extensions. Every parser here
// takes untrusted bytes, checks every length before reading, and says why
// it refuses (`Drop`), so the data plane can count it.
//
// Pure functions; thread-safe.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>

namespace mnigs::gre {

// IP protocol numbers of the encapsulations.
inline constexpr int kProtoGre = 47;
inline constexpr int kProtoIpip = 4;   // IPv4 inside
inline constexpr int kProtoIpv6 = 41;  // IPv6 inside

// GRE protocol types (EtherTypes) of the inner packet.
inline constexpr std::uint16_t kEtherIpv4 = 0x0800;
inline constexpr std::uint16_t kEtherIpv6 = 0x86dd;

// What this end sends: version 0, the key present (K), no checksum or
// sequence number.
inline constexpr std::size_t kGreHeaderSize = 8;
std::array<std::uint8_t, kGreHeaderSize> gre_header(std::uint16_t protocol, std::uint32_t key);

// Why a packet is dropped; each is a counter.
enum class Drop {
  none,
  malformed,       // truncated, bad lengths, unknown GRE flags or version, bad checksum
  not_ip,          // GRE protocol type or inner version neither IPv4 nor IPv6
  unknown_sender,  // no session with this outer source address
  wrong_key,       // a session's sender with another key, or none
  spoofed,         // inner address not the session's
  too_big,         // larger than the path takes (sendmsg EMSGSIZE)
  no_session,      // from the tun device towards an address no session holds
  send_failed,     // the socket or the device refused it (queue full, no route)
};
inline constexpr std::size_t kDropKinds = 9;
const char* to_string(Drop drop);  // "malformed", "wrongKey", ...

// An address of either family; IPv4 in the first 4 bytes.
struct Ip {
  bool v6 = false;
  std::array<std::uint8_t, 16> bytes{};
  auto operator<=>(const Ip&) const = default;
  std::string text() const;
};
// Parses a literal ("10.0.0.1", "fd00::1"); nullopt for anything else. An
// IPv4-mapped IPv6 address becomes IPv4.
std::optional<Ip> parse_ip(const std::string& text);

// The outer IPv4 header a raw IPv4 socket hands over.
struct OuterV4 {
  Ip source, destination;
  int protocol = 0;
  std::span<const std::uint8_t> payload;  // what follows the header, total length bounded
};
std::optional<OuterV4> parse_outer_v4(std::span<const std::uint8_t> packet, Drop* drop);

// A GRE header and what follows it.
struct GreView {
  std::uint16_t protocol = 0;
  std::optional<std::uint32_t> key;
  std::span<const std::uint8_t> payload;
};
// Refuses a version other than 0 (1 is PPTP's) and the routing bit, as the
// kernel does, and ignores the other reserved bits; a checksum (C) that is
// present is checked.
std::optional<GreView> parse_gre(std::span<const std::uint8_t> packet, Drop* drop);

// The addresses of an inner IP packet whose version must match `v6`, with
// its length checked against the bytes there are.
struct Inner {
  Ip source, destination;
};
std::optional<Inner> parse_inner(std::span<const std::uint8_t> packet, bool v6, Drop* drop);
// The inner packet's version from its first byte: 4, 6, or 0 when neither.
int ip_version(std::span<const std::uint8_t> packet);

// Big-endian fields, as every header here has them.
inline std::uint16_t load16(const std::uint8_t* p) { return std::uint16_t(p[0] << 8 | p[1]); }
inline std::uint32_t load32(const std::uint8_t* p) {
  return std::uint32_t(p[0]) << 24 | std::uint32_t(p[1]) << 16 | std::uint32_t(p[2]) << 8 | p[3];
}
inline void store16(std::uint8_t* p, std::uint16_t v) {
  p[0] = std::uint8_t(v >> 8);
  p[1] = std::uint8_t(v);
}
inline void store32(std::uint8_t* p, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = std::uint8_t(v >> (24 - 8 * i));
}

// The ones' complement sum of `data` continuing `sum`, not yet folded; an
// odd byte at the end counts as the high byte of a word, so each piece of
// what is summed but the last must have an even length.
std::uint64_t ones_sum(std::uint64_t sum, std::span<const std::uint8_t> data);
// That sum folded to 16 bits, not complemented (what a CHECKSUM_PARTIAL
// field holds for the pseudo-header).
std::uint16_t fold(std::uint64_t sum);
// The RFC 1071 checksum of `data` (ones' complement of the ones' complement
// sum); 0 when data carries a correct checksum.
std::uint16_t internet_checksum(std::span<const std::uint8_t> data);

// Bytes each encapsulation adds in front of the inner packet, outer IP
// header included: GRE with a key 28 over IPv4 and 56 over IPv6 (the
// kernel's ip6gre adds an 8-byte encapsulation limit option, which a
// kernel peer may send); IP in IP 20 over IPv4 and 48 over IPv6 (ip6tnl's
// option likewise).
int overhead(bool gre, bool outer_v6);

}  // namespace mnigs::gre
