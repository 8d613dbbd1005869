// Ethernet MAC addresses as the websocket tunnel's switch and handshake see
// them: six bytes in wire order.
//
// Plain values; every function is pure and thread-safe.
#pragma once

#include <array>
#include <compare>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace mnigs::websocket {

struct Mac {
  std::array<std::uint8_t, 6> bytes{};

  // The six bytes at p (e.g. an Ethernet header's destination or source).
  static Mac from(const std::uint8_t* p) {
    Mac m;
    std::memcpy(m.bytes.data(), p, 6);
    return m;
  }
  // The 48 bits as an integer, bytes[0] in the most significant position
  // (aa:bb:cc:dd:ee:ff is 0xaabbccddeeff); a map key.
  std::uint64_t to_u64() const {
    std::uint64_t v = 0;
    for (std::uint8_t b : bytes) v = (v << 8) | b;
    return v;
  }
  static Mac from_u64(std::uint64_t v) {
    Mac m;
    for (int i = 5; i >= 0; --i, v >>= 8) m.bytes[static_cast<std::size_t>(i)] = v & 0xff;
    return m;
  }

  friend bool operator==(const Mac&, const Mac&) = default;
  friend auto operator<=>(const Mac&, const Mac&) = default;
};

// "aa:bb:cc:dd:ee:ff": six two-digit hex bytes, either case, separated all by
// ':' or all by '-'. Anything else (other lengths, mixed separators,
// surrounding spaces) is nullopt.
inline std::optional<Mac> parse_mac(std::string_view text) {
  if (text.size() != 17) return std::nullopt;
  const char sep = text[2];
  if (sep != ':' && sep != '-') return std::nullopt;
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  Mac m;
  for (std::size_t i = 0; i < 6; ++i) {
    const std::size_t at = i * 3;
    if (i > 0 && text[at - 1] != sep) return std::nullopt;
    const int hi = nibble(text[at]);
    const int lo = nibble(text[at + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    m.bytes[i] = static_cast<std::uint8_t>(hi << 4 | lo);
  }
  return m;
}

// Lower-case, ':'-separated: "aa:bb:cc:dd:ee:ff".
inline std::string to_string(const Mac& mac) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string s(17, ':');
  for (std::size_t i = 0; i < 6; ++i) {
    s[i * 3] = kHex[mac.bytes[i] >> 4];
    s[i * 3 + 1] = kHex[mac.bytes[i] & 0x0f];
  }
  return s;
}

// ff:ff:ff:ff:ff:ff.
inline bool is_broadcast(const Mac& m) {
  for (std::uint8_t b : m.bytes)
    if (b != 0xff) return false;
  return true;
}
// The group bit (bit 0 of the first byte); true for broadcast too.
inline bool is_multicast(const Mac& m) { return (m.bytes[0] & 0x01) != 0; }
// 00:00:00:00:00:00.
inline bool is_zero(const Mac& m) {
  for (std::uint8_t b : m.bytes)
    if (b != 0) return false;
  return true;
}
// Neither group nor zero: an address a single station can own.
inline bool is_unicast(const Mac& m) { return !is_multicast(m) && !is_zero(m); }

struct MacHash {
  std::size_t operator()(const Mac& m) const noexcept {
    // Fibonacci hashing spreads the low (NIC-specific) bytes over the word.
    return static_cast<std::size_t>((m.to_u64() * 0x9E3779B97F4A7C15ull) >> 16);
  }
};

}  // namespace mnigs::websocket

template <>
struct std::hash<mnigs::websocket::Mac> : mnigs::websocket::MacHash {};
