#include "keys.hpp"

#include <arpa/inet.h>
#include <openssl/evp.h>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <stdexcept>

namespace mnigs::cjdns {

namespace {

constexpr std::string_view kAlphabet = "0123456789bcdfghjklmnpqrstuvwxyz";
constexpr std::size_t kKeyChars = 52;  // 32 bytes in base32
constexpr std::size_t kKeyBytes = 32;

// One-shot digest through the EVP interface (the low-level SHA*_ calls are
// deprecated in OpenSSL 3).
template <std::size_t N>
std::array<std::uint8_t, N> digest(const EVP_MD* md, std::string_view data) {
  std::array<std::uint8_t, N> out{};
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), out.data(), &len, md, nullptr) != 1 || len != N)
    throw std::runtime_error("OpenSSL digest failed");
  return out;
}

int base32_value(char c) {
  if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  auto at = kAlphabet.find(c);
  return at == std::string_view::npos ? -1 : static_cast<int>(at);
}

}  // namespace

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string sha256_hex(std::string_view data) {
  auto h = digest<32>(EVP_sha256(), data);
  static const char* hex = "0123456789abcdef";
  std::string out;
  out.reserve(64);
  for (auto b : h) {
    out += hex[b >> 4];
    out += hex[b & 15];
  }
  return out;
}

std::array<std::uint8_t, 64> sha512(std::string_view data) {
  return digest<64>(EVP_sha512(), data);
}

std::optional<std::vector<std::uint8_t>> base32_decode(std::string_view text) {
  std::vector<std::uint8_t> out;
  unsigned work = 0;
  int bits = 0;
  for (char c : text) {
    int v = base32_value(c);
    if (v < 0) return std::nullopt;
    work |= static_cast<unsigned>(v) << bits;
    bits += 5;
    if (bits >= 8) {
      out.push_back(static_cast<std::uint8_t>(work & 0xff));
      work >>= 8;
      bits -= 8;
    }
  }
  // Whatever is left must be padding: fewer than 5 bits, all zero.
  if (bits >= 5 || work != 0) return std::nullopt;
  return out;
}

std::string base32_encode(const std::vector<std::uint8_t>& bytes) {
  std::string out;
  unsigned work = 0;
  int bits = 0;
  for (auto b : bytes) {
    work |= static_cast<unsigned>(b) << bits;
    bits += 8;
    while (bits >= 5) {
      out += kAlphabet[work & 31];
      work >>= 5;
      bits -= 5;
    }
  }
  if (bits > 0) out += kAlphabet[work & 31];
  return out;
}

std::optional<std::vector<std::uint8_t>> parse_public_key(std::string_view key, std::string* why) {
  auto fail = [&](const std::string& what) -> std::optional<std::vector<std::uint8_t>> {
    if (why) *why = what;
    return std::nullopt;
  };
  if (key.size() != kKeyChars + 2 || key.substr(kKeyChars) != ".k")
    return fail("a public key is 52 base32 characters followed by \".k\"");
  auto bytes = base32_decode(key.substr(0, kKeyChars));
  if (!bytes || bytes->size() != kKeyBytes) return fail("the key is not valid cjdns base32");
  return bytes;
}

std::optional<Ip6> key_to_ip(std::string_view key, std::string* why) {
  auto bytes = parse_public_key(key, why);
  if (!bytes) return std::nullopt;
  auto once = sha512(std::string_view(reinterpret_cast<const char*>(bytes->data()), bytes->size()));
  auto twice = sha512(std::string_view(reinterpret_cast<const char*>(once.data()), once.size()));
  Ip6 ip{};
  std::copy_n(twice.begin(), ip.size(), ip.begin());
  if (!is_cjdns_ip(ip)) {
    if (why) *why = "the key's address " + format_ip(ip) + " is outside fc00::/8";
    return std::nullopt;
  }
  return ip;
}

std::string format_ip(const Ip6& ip) {
  char buf[40];
  std::snprintf(buf, sizeof buf,
                "%02x%02x:%02x%02x:%02x%02x:%02x%02x:%02x%02x:%02x%02x:%02x%02x:%02x%02x", ip[0],
                ip[1], ip[2], ip[3], ip[4], ip[5], ip[6], ip[7], ip[8], ip[9], ip[10], ip[11],
                ip[12], ip[13], ip[14], ip[15]);
  return buf;
}

std::optional<Ip6> parse_ip(std::string_view text) {
  if (text.size() > 45) return std::nullopt;
  std::string copy(text);
  Ip6 ip{};
  if (::inet_pton(AF_INET6, copy.c_str(), ip.data()) != 1) return std::nullopt;
  return ip;
}

std::optional<std::uint64_t> parse_label(std::string_view text) {
  // Exactly four groups of four hex digits.
  if (text.size() != 19) return std::nullopt;
  std::uint64_t label = 0;
  for (std::size_t k = 0; k < text.size(); ++k) {
    if (k % 5 == 4) {
      if (text[k] != '.') return std::nullopt;
      continue;
    }
    int v = hex_value(text[k]);
    if (v < 0) return std::nullopt;
    label = (label << 4) | static_cast<std::uint64_t>(v);
  }
  return label;
}

std::uint32_t label_reach(std::uint64_t label) {
  if (label == 0) return 0;
  return static_cast<std::uint32_t>(63 - __builtin_clzll(label));
}

std::optional<NodeAddress> parse_node_address(std::string_view text, std::string* why) {
  auto fail = [&](const std::string& what) -> std::optional<NodeAddress> {
    if (why)
      *why =
          "\"" + std::string(text.substr(0, 80)) + "\" is not v<version>.<label>.<key>.k: " + what;
    return std::nullopt;
  };
  if (text.empty() || text[0] != 'v') return fail("no leading 'v'");
  auto dot = text.find('.');
  if (dot == std::string_view::npos || dot == 1 || dot > 6) return fail("no version number");
  NodeAddress out;
  for (std::size_t k = 1; k < dot; ++k) {
    if (text[k] < '0' || text[k] > '9') return fail("bad version number");
    out.version = out.version * 10 + static_cast<std::uint32_t>(text[k] - '0');
  }
  auto rest = text.substr(dot + 1);
  if (rest.size() < 20 || rest[19] != '.') return fail("no switch label");
  auto label = parse_label(rest.substr(0, 19));
  if (!label) return fail("bad switch label");
  out.label = *label;
  out.key = std::string(rest.substr(20));
  std::string key_why;
  if (!parse_public_key(out.key, &key_why)) return fail(key_why);
  return out;
}

}  // namespace mnigs::cjdns
