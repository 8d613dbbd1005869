#include "probe/packet.hpp"

#include <algorithm>

namespace mnigs::probe {

namespace {
constexpr std::string_view kMagic{"MNPB", 4};

void put_be(std::string& out, std::size_t at, std::uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i, v >>= 8)
    out[at + static_cast<std::size_t>(i)] = static_cast<char>(v & 0xff);
}

std::uint64_t get_be(std::string_view in, std::size_t at, int bytes) {
  std::uint64_t v = 0;
  for (int i = 0; i < bytes; ++i)
    v = (v << 8) | static_cast<unsigned char>(in[at + static_cast<std::size_t>(i)]);
  return v;
}
}  // namespace

std::string encode(const Packet& p) {
  std::string out(std::clamp(p.size, kHeader, kMaxSize), '\0');
  out.replace(0, kMagic.size(), kMagic);
  out[4] = static_cast<char>(kVersion);
  out[5] = static_cast<char>(p.type);
  out[6] = static_cast<char>(p.flags);
  put_be(out, 8, p.sequence, 4);
  put_be(out, 12, p.timestamp, 8);
  return out;
}

std::optional<Packet> parse(std::string_view d) {
  if (d.size() < kHeader || d.size() > kMaxSize) return std::nullopt;
  if (d.substr(0, kMagic.size()) != kMagic || static_cast<std::uint8_t>(d[4]) != kVersion ||
      d[7] != 0)
    return std::nullopt;
  auto type = static_cast<std::uint8_t>(d[5]);
  if (type != static_cast<std::uint8_t>(Type::request) &&
      type != static_cast<std::uint8_t>(Type::reply))
    return std::nullopt;
  if (std::any_of(d.begin() + kHeader, d.end(), [](char c) { return c != 0; }))
    return std::nullopt;
  Packet p;
  p.type = static_cast<Type>(type);
  p.flags = static_cast<std::uint8_t>(d[6]);
  p.sequence = static_cast<std::uint32_t>(get_be(d, 8, 4));
  p.timestamp = get_be(d, 12, 8);
  p.size = d.size();
  return p;
}

}  // namespace mnigs::probe
