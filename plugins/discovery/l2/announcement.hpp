// The l2 announcement: one UDP datagram, compact JSON, that a node sends to
// the link-local multicast group on each of its interfaces every interval.
//
//   {"mnigs":"l2","v":1,"id":"3f9a0c21d4e5b687","interval":5,
//    "addrs":["10.77.1.1","fd77:0:0:1::1"]}
//
// "mnigs" is the magic, "v" the format version (this code speaks 1 only),
// "id" the sender's node id (16 lowercase hex digits), "interval" the seconds
// between its announcements, "addrs" its IPv4 and routable IPv6 addresses on
// that link (at most kMaxAddresses, no zone, no link-local, loopback,
// multicast or unspecified address). Unknown members are ignored, so later
// v1 senders may add some; anything else that differs is rejected.
//
// Pure functions; thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace mnigs::l2 {

inline constexpr int kVersion = 1;
inline constexpr std::string_view kMagic = "l2";
// 1280 (the IPv6 minimum MTU) - 40 (IPv6 header) - 8 (UDP header): an
// announcement is never fragmented.
inline constexpr std::size_t kMaxDatagram = 1232;
inline constexpr std::size_t kMaxAddresses = 16;
inline constexpr std::size_t kNodeIdLength = 16;
inline constexpr int kMaxInterval = 3600;  // seconds

struct Announcement {
  std::string node_id;                 // kNodeIdLength lowercase hex digits
  int interval = 0;                    // seconds, 1..kMaxInterval
  std::vector<std::string> addresses;  // canonical literals, in the sender's order
  bool operator==(const Announcement&) const = default;
};

// Why a datagram was rejected, as a phrase for a log line
// ("unsupported version 2", "\"id\" is not 16 lowercase hex digits").
struct Rejection {
  std::string reason;
};

// The datagram for `a`. Addresses past kMaxAddresses are left out, so the
// result always decodes and fits kMaxDatagram.
std::string encode(const Announcement& a);

// Checks size, syntax, magic, version and every field's type and range.
std::variant<Announcement, Rejection> decode(std::string_view datagram);

// True for kNodeIdLength lowercase hex digits.
bool valid_node_id(std::string_view id);

// The canonical text of an address a node may announce: IPv4, or IPv6 that
// is neither link-local nor loopback, multicast, unspecified or
// IPv4-mapped; "" for anything else (including text with a zone).
std::string announceable_address(std::string_view text);

}  // namespace mnigs::l2
