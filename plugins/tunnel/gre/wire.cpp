#include "wire.hpp"

#include <arpa/inet.h>

#include <cstring>

namespace mnigs::gre {

namespace {

// GRE flag bits of the first 16 bits (RFC 1701 names). The other bits
// (strict source route, recursion, reserved) are ignored, as RFC 2784 and
// the kernel's gre_parse_header do.
constexpr std::uint16_t kCsum = 0x8000, kRouting = 0x4000, kKey = 0x2000, kSeq = 0x1000;
constexpr std::uint16_t kVersion = 0x0007;

template <typename T>
std::optional<T> refuse(Drop* drop, Drop why) {
  if (drop) *drop = why;
  return std::nullopt;
}

}  // namespace

const char* to_string(Drop drop) {
  switch (drop) {
    case Drop::none: return "none";
    case Drop::malformed: return "malformed";
    case Drop::not_ip: return "notIp";
    case Drop::unknown_sender: return "unknownSender";
    case Drop::wrong_key: return "wrongKey";
    case Drop::spoofed: return "spoofed";
    case Drop::too_big: return "tooBig";
    case Drop::no_session: return "noSession";
    case Drop::send_failed: return "sendFailed";
  }
  return "?";
}

std::string Ip::text() const {
  char out[INET6_ADDRSTRLEN] = {};
  ::inet_ntop(v6 ? AF_INET6 : AF_INET, bytes.data(), out, sizeof out);
  return out;
}

std::optional<Ip> parse_ip(const std::string& text) {
  Ip ip;
  if (::inet_pton(AF_INET, text.c_str(), ip.bytes.data()) == 1) return ip;
  if (::inet_pton(AF_INET6, text.c_str(), ip.bytes.data()) != 1) return std::nullopt;
  static constexpr std::uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (std::memcmp(ip.bytes.data(), mapped, 12) == 0) {
    std::memmove(ip.bytes.data(), ip.bytes.data() + 12, 4);
    std::memset(ip.bytes.data() + 4, 0, 12);
    return ip;
  }
  ip.v6 = true;
  return ip;
}

std::array<std::uint8_t, kGreHeaderSize> gre_header(std::uint16_t protocol, std::uint32_t key) {
  return {std::uint8_t(kKey >> 8), std::uint8_t(kKey & 0xff), std::uint8_t(protocol >> 8),
          std::uint8_t(protocol),  std::uint8_t(key >> 24),   std::uint8_t(key >> 16),
          std::uint8_t(key >> 8),  std::uint8_t(key)};
}

std::uint64_t ones_sum(std::uint64_t sum, std::span<const std::uint8_t> data) {
  std::size_t i = 0;
  for (; i + 1 < data.size(); i += 2) sum += load16(data.data() + i);
  if (i < data.size()) sum += std::uint32_t(data[i]) << 8;
  return sum;
}

std::uint16_t fold(std::uint64_t sum) {
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<std::uint16_t>(sum);
}

std::uint16_t internet_checksum(std::span<const std::uint8_t> data) {
  return static_cast<std::uint16_t>(~fold(ones_sum(0, data)));
}

std::optional<OuterV4> parse_outer_v4(std::span<const std::uint8_t> p, Drop* drop) {
  if (p.size() < 20 || (p[0] >> 4) != 4) return refuse<OuterV4>(drop, Drop::malformed);
  const std::size_t header = std::size_t(p[0] & 0x0f) * 4;
  const std::size_t total = load16(p.data() + 2);
  // The kernel hands a raw socket the whole datagram, reassembled; its
  // total length may only be what arrived.
  if (header < 20 || total < header || total > p.size())
    return refuse<OuterV4>(drop, Drop::malformed);
  OuterV4 o;
  o.protocol = p[9];
  std::memcpy(o.source.bytes.data(), p.data() + 12, 4);
  std::memcpy(o.destination.bytes.data(), p.data() + 16, 4);
  o.payload = p.subspan(header, total - header);
  return o;
}

std::optional<GreView> parse_gre(std::span<const std::uint8_t> p, Drop* drop) {
  if (p.size() < 4) return refuse<GreView>(drop, Drop::malformed);
  const std::uint16_t flags = load16(p.data());
  if ((flags & kVersion) != 0 || (flags & kRouting)) return refuse<GreView>(drop, Drop::malformed);
  GreView v;
  v.protocol = load16(p.data() + 2);
  std::size_t at = 4;
  if (flags & kCsum) {
    // Checksum and reserved1; the sum covers the header and the payload.
    if (p.size() < at + 4 || internet_checksum(p) != 0)
      return refuse<GreView>(drop, Drop::malformed);
    at += 4;
  }
  if (flags & kKey) {
    if (p.size() < at + 4) return refuse<GreView>(drop, Drop::malformed);
    v.key = load32(p.data() + at);
    at += 4;
  }
  if (flags & kSeq) {
    if (p.size() < at + 4) return refuse<GreView>(drop, Drop::malformed);
    at += 4;  // order is not enforced, as the kernel's default (no iseq)
  }
  if (v.protocol != kEtherIpv4 && v.protocol != kEtherIpv6)
    return refuse<GreView>(drop, Drop::not_ip);
  v.payload = p.subspan(at);
  return v;
}

int ip_version(std::span<const std::uint8_t> p) {
  if (p.empty()) return 0;
  const int v = p[0] >> 4;
  return v == 4 || v == 6 ? v : 0;
}

std::optional<Inner> parse_inner(std::span<const std::uint8_t> p, bool v6, Drop* drop) {
  const int version = ip_version(p);
  if (version != (v6 ? 6 : 4))
    return refuse<Inner>(drop, version == 0 ? Drop::not_ip : Drop::malformed);
  Inner in;
  if (!v6) {
    if (p.size() < 20) return refuse<Inner>(drop, Drop::malformed);
    const std::size_t header = std::size_t(p[0] & 0x0f) * 4;
    const std::size_t total = load16(p.data() + 2);
    if (header < 20 || total < header || total > p.size())
      return refuse<Inner>(drop, Drop::malformed);
    std::memcpy(in.source.bytes.data(), p.data() + 12, 4);
    std::memcpy(in.destination.bytes.data(), p.data() + 16, 4);
    return in;
  }
  if (p.size() < 40 || 40 + std::size_t(load16(p.data() + 4)) > p.size())
    return refuse<Inner>(drop, Drop::malformed);
  in.source.v6 = in.destination.v6 = true;
  std::memcpy(in.source.bytes.data(), p.data() + 8, 16);
  std::memcpy(in.destination.bytes.data(), p.data() + 24, 16);
  return in;
}

int overhead(bool gre, bool outer_v6) {
  const int encap = gre ? 8 : 0;
  return outer_v6 ? 40 + 8 + encap : 20 + encap;
}

}  // namespace mnigs::gre
