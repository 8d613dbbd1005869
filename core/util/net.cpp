#include "util/net.hpp"

#include <charconv>

namespace mnigs {
namespace ip = boost::asio::ip;

ip::address unmap(const ip::address& addr) {
  if (addr.is_v6() && addr.to_v6().is_v4_mapped())
    return ip::make_address_v4(ip::v4_mapped, addr.to_v6());
  return addr;
}

std::optional<ip::address> parse_address(std::string_view text) {
  boost::system::error_code ec;
  auto addr = ip::make_address(std::string(text), ec);
  if (ec) return std::nullopt;
  return addr;
}

namespace {
// Zeroes every bit after `length`; returns true if any bit was set there.
template <class Bytes>
bool clear_host_bits(Bytes& bytes, unsigned length) {
  bool had = false;
  for (unsigned i = 0; i < bytes.size(); ++i) {
    unsigned first_bit = i * 8;
    std::uint8_t keep = 0;
    if (first_bit + 8 <= length)
      keep = 0xff;
    else if (first_bit < length)
      keep = static_cast<std::uint8_t>(0xff << (8 - (length - first_bit)));
    if (bytes[i] & ~keep) had = true;
    bytes[i] &= keep;
  }
  return had;
}
}  // namespace

std::optional<Prefix> parse_prefix(std::string_view text, std::string* why,
                                   const PrefixRules& rules) {
  auto fail = [&](std::string reason) -> std::optional<Prefix> {
    if (why) *why = std::move(reason);
    return std::nullopt;
  };
  auto slash = text.find('/');
  if (slash == std::string_view::npos && !rules.bare_address)
    return fail("not a prefix: no /LENGTH after the address");
  const auto address_text = text.substr(0, slash);
  if (address_text.find('%') != std::string_view::npos)
    return fail("a prefix has no zone (the part from '%')");
  auto addr = parse_address(address_text);
  if (!addr) return fail("not an IPv4 or IPv6 address");
  unsigned max = addr->is_v4() ? 32 : 128;
  unsigned length = max;
  if (slash != std::string_view::npos) {
    auto len_text = text.substr(slash + 1);
    auto [p, ec] = std::from_chars(len_text.data(), len_text.data() + len_text.size(), length);
    if (ec != std::errc() || p != len_text.data() + len_text.size() || len_text.empty() ||
        length > max)
      return fail("prefix length must be 0.." + std::to_string(max));
  }
  Prefix prefix{*addr, length};
  if (rules.host_bits) return prefix;
  if (addr->is_v4()) {
    auto bytes = addr->to_v4().to_bytes();
    if (clear_host_bits(bytes, length)) return fail("host bits are set after the prefix length");
  } else {
    auto bytes = addr->to_v6().to_bytes();
    if (clear_host_bits(bytes, length)) return fail("host bits are set after the prefix length");
  }
  return prefix;
}

bool Prefix::contains(const ip::address& raw) const {
  ip::address addr = unmap(raw);
  if (addr.is_v4() != network.is_v4()) return false;
  if (addr.is_v4()) {
    auto bytes = addr.to_v4().to_bytes();
    clear_host_bits(bytes, length);
    auto net = network.to_v4().to_bytes();
    clear_host_bits(net, length);
    return bytes == net;
  }
  auto bytes = addr.to_v6().to_bytes();
  clear_host_bits(bytes, length);
  auto net = network.to_v6().to_bytes();
  clear_host_bits(net, length);
  return bytes == net;
}

std::string Prefix::to_string() const { return network.to_string() + "/" + std::to_string(length); }

bool any_contains(const std::vector<Prefix>& prefixes, const ip::address& addr) {
  for (const auto& p : prefixes)
    if (p.contains(addr)) return true;
  return false;
}

std::optional<boost::asio::ip::address> origin_address(std::string_view origin) {
  for (std::string_view scheme : {"http://", "https://"}) {
    if (!origin.starts_with(scheme)) continue;
    std::string_view rest = origin.substr(scheme.size());
    std::string_view host = rest;
    if (!rest.empty() && rest.front() == '[') {
      const auto close = rest.find(']');
      if (close == std::string_view::npos) return std::nullopt;
      host = rest.substr(1, close - 1);
      rest.remove_prefix(close + 1);
    } else {
      const auto colon = rest.find(':');
      host = rest.substr(0, colon);
      rest.remove_prefix(colon == std::string_view::npos ? rest.size() : colon);
    }
    // What may follow: a port, and nothing else (an Origin has no path).
    if (!rest.empty() && (rest.front() != ':' || rest.size() < 2 || rest.size() > 6 ||
                          rest.substr(1).find_first_not_of("0123456789") != std::string_view::npos))
      return std::nullopt;
    if (host.find('%') != std::string_view::npos) return std::nullopt;
    return parse_address(host);
  }
  return std::nullopt;
}

bool origin_allowed(std::string_view origin, const std::vector<Prefix>& allowed) {
  const auto address = origin_address(origin);
  return address && any_contains(allowed, *address);
}

}  // namespace mnigs
