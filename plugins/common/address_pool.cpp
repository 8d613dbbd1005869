#include "address_pool.hpp"

#include "util/net.hpp"

#include <algorithm>
#include <boost/asio/ip/address.hpp>
#include <cstring>
#include <stdexcept>

namespace mnigs::tunnels {

namespace ip = boost::asio::ip;

namespace {

// Sessions per family at most: a /64 has room for far more, but a bound
// keeps the lowest-free search and the kernel's neighbour tables small.
constexpr std::uint64_t kMaxHosts6 = 65534;

std::optional<std::uint64_t> take_lowest(std::set<std::uint64_t>& used, std::uint64_t capacity) {
  std::uint64_t want = 2;
  for (auto h : used) {
    if (h > want) break;
    if (h == want) ++want;
  }
  if (want > capacity) return std::nullopt;
  used.insert(want);
  return want;
}

}  // namespace

AddressPool::AddressPool(const std::string& prefix4, const std::string& prefix6,
                         const std::string& key4, const std::string& key6)
    : prefix4_(prefix4), prefix6_(prefix6) {
  if (!prefix4.empty()) {
    auto p = parse_prefix(prefix4, nullptr, {.bare_address = false, .host_bits = true});
    if (!p || !p->network.is_v4() || p->length < 8 || p->length > 30)
      throw std::invalid_argument(
          key4 + " must be an IPv4 prefix from /8 to /30 (got \"" + prefix4 + "\")");
    const auto a = p->network.to_v4();
    const int bits = static_cast<int>(p->length);
    std::uint32_t mask = bits == 0 ? 0 : ~std::uint32_t(0) << (32 - bits);
    bits4_ = bits;
    net4_ = a.to_uint() & mask;
    // The last address is the broadcast address.
    capacity4_ = (std::uint64_t(1) << (32 - bits)) - 2;
    gateway4_ = address_of(1, false);
  }
  if (!prefix6.empty()) {
    auto p = parse_prefix(prefix6, nullptr, {.bare_address = false, .host_bits = true});
    if (!p || !p->network.is_v6() || p->length < 64 || p->length > 126)
      throw std::invalid_argument(key6 +
                                  " must be an IPv6 prefix from /64 to /126 (got \"" + prefix6 +
                                  "\")");
    const int bits = static_cast<int>(p->length);
    bits6_ = bits;
    auto bytes = p->network.to_v6().to_bytes();
    for (int i = 0; i < 16; ++i) {
      int keep = std::max(0, std::min(8, bits - i * 8));
      net6_[i] = bytes[static_cast<std::size_t>(i)] & static_cast<unsigned char>(0xff00 >> keep);
    }
    const int host_bits = 128 - bits;
    capacity6_ = host_bits >= 17 ? kMaxHosts6 : (std::uint64_t(1) << host_bits) - 1;
    gateway6_ = address_of(1, true);
  }
}

std::string AddressPool::address_of(std::uint64_t host, bool v6) const {
  if (!v6) return ip::address_v4(net4_ + static_cast<std::uint32_t>(host)).to_string();
  ip::address_v6::bytes_type b;
  std::memcpy(b.data(), net6_, 16);
  // The host bits of the network are zero and host fits in them.
  for (int i = 15; i >= 8 && host; --i, host >>= 8)
    b[static_cast<std::size_t>(i)] |= static_cast<unsigned char>(host & 0xff);
  return ip::address_v6(b).to_string();
}

std::optional<std::uint64_t> AddressPool::host_of(const std::string& address, bool* v6) const {
  boost::system::error_code ec;
  auto a = ip::make_address(address, ec);
  if (ec) return std::nullopt;
  if (a.is_v4()) {
    if (!bits4_) return std::nullopt;
    std::uint32_t mask = ~std::uint32_t(0) << (32 - bits4_);
    std::uint32_t v = a.to_v4().to_uint();
    if ((v & mask) != net4_) return std::nullopt;
    *v6 = false;
    std::uint64_t host = v - net4_;
    if (host < 2 || host > capacity4_) return std::nullopt;
    return host;
  }
  if (!bits6_) return std::nullopt;
  auto b = a.to_v6().to_bytes();
  for (int i = 0; i < 16; ++i) {
    int keep = std::max(0, std::min(8, bits6_ - i * 8));
    if ((b[static_cast<std::size_t>(i)] & static_cast<unsigned char>(0xff00 >> keep)) != net6_[i])
      return std::nullopt;
  }
  std::uint64_t host = 0;
  for (int i = 8; i < 16; ++i) host = host << 8 | (b[static_cast<std::size_t>(i)] ^ net6_[i]);
  *v6 = true;
  if (host < 2 || host > capacity6_) return std::nullopt;
  return host;
}

std::optional<std::string> AddressPool::take4() {
  if (!bits4_) return std::nullopt;
  auto h = take_lowest(used4_, capacity4_);
  if (!h) return std::nullopt;
  return address_of(*h, false);
}

std::optional<std::string> AddressPool::take6() {
  if (!bits6_) return std::nullopt;
  auto h = take_lowest(used6_, capacity6_);
  if (!h) return std::nullopt;
  return address_of(*h, true);
}

bool AddressPool::reserve(const std::string& address) {
  bool v6 = false;
  auto h = host_of(address, &v6);
  if (!h) return false;
  return (v6 ? used6_ : used4_).insert(*h).second;
}

void AddressPool::release(const std::string& address) {
  bool v6 = false;
  if (auto h = host_of(address, &v6)) (v6 ? used6_ : used4_).erase(*h);
}

std::optional<AddressPool::Allotment> AddressPool::allot(const Json::Value& resumed,
                                                         std::string* why) {
  auto fail = [&](const std::string& reason) -> std::optional<Allotment> {
    if (why) *why = reason;
    return std::nullopt;
  };
  Allotment a;
  if (resumed.isMember("address4") || resumed.isMember("address6")) {
    a.address4 = resumed["address4"].asString();
    a.address6 = resumed["address6"].asString();
    const bool four = a.address4.empty() || reserve(a.address4);
    const bool six = a.address6.empty() || reserve(a.address6);
    if (four && six) return a;
    if (four && !a.address4.empty()) release(a.address4);
    if (six && !a.address6.empty()) release(a.address6);
    return fail("tunnel addresses " + a.address4 + " " + a.address6 +
                " are outside the pool or taken");
  }
  if (has4()) {
    auto four = take4();
    if (!four) return fail("the tunnel address pool " + prefix4_ + " is exhausted");
    a.address4 = *four;
  }
  if (has6()) {
    auto six = take6();
    if (!six) {
      release(a.address4);
      return fail("the tunnel address pool " + prefix6_ + " is exhausted");
    }
    a.address6 = *six;
  }
  return a;
}

void AddressPool::release(const Allotment& a) {
  release(a.address4);
  release(a.address6);
}

void AddressPool::describe(const Allotment& a, Json::Value& params) const {
  if (!a.address4.empty()) {
    params["address4"] = a.address4;
    params["prefix4"] = prefix_length4();
    params["gateway4"] = gateway4();
  }
  if (!a.address6.empty()) {
    params["address6"] = a.address6;
    params["prefix6"] = prefix_length6();
    params["gateway6"] = gateway6();
  }
}

}  // namespace mnigs::tunnels
