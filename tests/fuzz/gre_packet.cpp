// A packet any mesh neighbour can send to a gre/ipip end: the raw socket's
// bytes (the outer IPv4 header too, or for IPv6 only what follows it) go
// through the userspace data plane's checks against a gateway session and
// a subscriber session. The first byte picks the encapsulation and the
// outer family. Nothing may be read outside the packet, and a packet is
// either dropped for one reason or delivered (here: no device, counted as
// sendFailed).
#include "encap.hpp"

#include <boost/asio/io_context.hpp>
#include <cstdint>
#include <cstdlib>
#include <mnigs/log.hpp>
#include <span>

using namespace mnigs::gre;

namespace {

class Silent final : public mnigs::Logger {
 public:
  bool enabled(mnigs::LogLevel) const override { return false; }
  void write(mnigs::LogLevel, std::string_view) override {}
};

std::shared_ptr<Encapsulator> make(boost::asio::io_context& io, Silent& log, Encap encap) {
  auto e = std::make_shared<Encapsulator>(io, encap, log);
  for (bool v6 : {false, true}) {
    Endpoint gw;
    gw.name = v6 ? "g6" : "g4";
    gw.gateway = true;
    gw.remote = *parse_ip(v6 ? "fd00::2" : "192.168.5.2");
    gw.key = 7;
    gw.inner4 = parse_ip("10.96.0.2");
    gw.inner6 = parse_ip("fd96::2");
    e->add(gw, std::nullopt);
    Endpoint sub;
    sub.name = v6 ? "s6" : "s4";
    sub.remote = *parse_ip(v6 ? "fd00::1" : "192.168.5.1");
    sub.key = 9;
    sub.inner4 = parse_ip("10.96.0.3");
    sub.inner6 = parse_ip("fd96::3");
    e->add(sub, std::nullopt);
  }
  return e;
}

std::uint64_t total(const Encapsulator& e) {
  std::uint64_t sum = 0;
  for (std::size_t i = 1; i < kDropKinds; ++i) sum += e.drops(static_cast<Drop>(i));
  return sum;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static boost::asio::io_context io;
  static Silent log;
  static auto gre = make(io, log, Encap::gre);
  static auto ipip = make(io, log, Encap::ipip);
  if (size < 1) return 0;
  const std::uint8_t pick = data[0];
  const bool outer_v6 = pick & 1;
  const bool use_gre = pick & 2;
  const int protocol = use_gre ? kProtoGre : (pick & 4 ? kProtoIpv6 : kProtoIpip);
  std::optional<Ip> from;
  if (outer_v6) from = parse_ip(pick & 8 ? "fd00::1" : "fd00::2");
  Encapsulator& e = use_gre ? *gre : *ipip;
  const std::uint64_t before = total(e);
  e.receive(std::span(data + 1, size - 1), outer_v6, protocol, from);
  // Every packet ends counted once: dropped, or delivered to no device.
  if (total(e) != before + 1) std::abort();
  return 0;
}
