// cjdns names: public keys ("<52 base32 chars>.k"), the fc00::/8 address
// each key owns, switch labels ("0000.0000.0000.0013") and the "addr" strings
// of the admin interface ("v20.0000.0000.0000.0013.<key>.k").
//
// A node's address is the first 16 bytes of sha512(sha512(public key)), and
// only keys whose address starts with 0xfc are valid (cjdns'
// AddressCalc). Keys are written in cjdns' own base32: alphabet
// "0123456789bcdfghjklmnpqrstuvwxyz", least significant bits first.
//
// Pure functions; thread-safe. Hashes come from OpenSSL's libcrypto.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mnigs::cjdns {

using Ip6 = std::array<std::uint8_t, 16>;

// Lower-case hex of SHA-256(data).
std::string sha256_hex(std::string_view data);
// 0..15 for a hex digit (either case), -1 for anything else.
int hex_value(char c);
// SHA-512(data), raw bytes.
std::array<std::uint8_t, 64> sha512(std::string_view data);

// cjdns base32, as util/Base32.h: decode fails on a character outside the
// alphabet (either case) or on leftover bits that are not zero.
std::optional<std::vector<std::uint8_t>> base32_decode(std::string_view text);
std::string base32_encode(const std::vector<std::uint8_t>& bytes);

// The 32 key bytes of "<52 chars>.k", or nullopt with `why`.
std::optional<std::vector<std::uint8_t>> parse_public_key(std::string_view key, std::string* why);
// The address a public key owns; nullopt with `why` when the key is malformed
// or its address is outside fc00::/8 (not a valid cjdns key).
std::optional<Ip6> key_to_ip(std::string_view key, std::string* why);

// "fc12:3456:..." with every group four hex digits, as cjdroute prints them.
std::string format_ip(const Ip6& ip);
// Any IPv6 literal inet_pton accepts; nullopt otherwise.
std::optional<Ip6> parse_ip(std::string_view text);
// True for fc00::/8, the only addresses cjdns hands out.
inline bool is_cjdns_ip(const Ip6& ip) { return ip[0] == 0xfc; }

// A switch label "xxxx.xxxx.xxxx.xxxx" (hex), or nullopt.
std::optional<std::uint64_t> parse_label(std::string_view text);
// How far a label reaches: the position of its highest set bit. The label of
// this node itself (1) gives 0; every hop adds at least the bits of its
// director, so nearer nodes have smaller values. Good for ordering, not a
// hop count (the bits per hop depend on each switch's encoding scheme).
std::uint32_t label_reach(std::uint64_t label);

// The parts of an admin "addr" string "v<version>.<label>.<key>.k".
struct NodeAddress {
  std::uint32_t version = 0;
  std::uint64_t label = 0;
  std::string key;  // with its ".k"
};
std::optional<NodeAddress> parse_node_address(std::string_view text, std::string* why);

}  // namespace mnigs::cjdns
