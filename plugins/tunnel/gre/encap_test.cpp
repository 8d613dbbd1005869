// The userspace data plane's admission of received packets: only a
// session's sender, with its key, from (gateway) or to (subscriber) its
// tunnel address; everything else dropped and counted by reason. No
// sockets or devices: receive() is fed directly, and a packet that passed
// every check reaches the delivery, which without a device counts
// sendFailed.
#include "encap.hpp"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <vector>

#include "plugin_fakes.hpp"

namespace mnigs::gre {
namespace {

using Bytes = std::vector<std::uint8_t>;

Bytes inner4(std::array<std::uint8_t, 4> src, std::array<std::uint8_t, 4> dst) {
  Bytes p(28, 0);
  p[0] = 0x45;
  p[3] = 28;
  p[8] = 64;
  p[9] = 17;
  std::copy(src.begin(), src.end(), p.begin() + 12);
  std::copy(dst.begin(), dst.end(), p.begin() + 16);
  return p;
}

// The outer IPv4 header a raw IPv4 socket hands over, around `payload`.
Bytes outer4(std::array<std::uint8_t, 4> src, int protocol, const Bytes& payload) {
  Bytes p(20, 0);
  p[0] = 0x45;
  const std::size_t total = 20 + payload.size();
  p[2] = std::uint8_t(total >> 8);
  p[3] = std::uint8_t(total);
  p[8] = 64;
  p[9] = std::uint8_t(protocol);
  std::copy(src.begin(), src.end(), p.begin() + 12);
  p[16] = 192, p[17] = 168, p[18] = 5, p[19] = 1;
  p.insert(p.end(), payload.begin(), payload.end());
  return p;
}

Bytes gre(std::uint32_t key, const Bytes& inner) {
  auto h = gre_header(kEtherIpv4, key);
  Bytes p(h.begin(), h.end());
  p.insert(p.end(), inner.begin(), inner.end());
  return p;
}

class EncapTest : public ::testing::Test {
 protected:
  void SetUp() override {
    gre_ = std::make_shared<Encapsulator>(io_, Encap::gre, log_);
    Endpoint e;
    e.name = "s1";
    e.gateway = true;
    e.remote = *parse_ip("192.168.5.2");
    e.local = *parse_ip("192.168.5.1");
    e.key = 7;
    e.inner4 = parse_ip("10.96.0.2");
    gre_->add(e, std::nullopt);
  }
  // Drops other than `reason` are none, and `reason` counted once.
  void expect_only(const Encapsulator& en, Drop reason) {
    for (std::size_t i = 1; i < kDropKinds; ++i) {
      const auto d = static_cast<Drop>(i);
      EXPECT_EQ(en.drops(d), d == reason ? 1u : 0u) << to_string(d);
    }
  }
  boost::asio::io_context io_;
  testing::FakeLogger log_;
  std::shared_ptr<Encapsulator> gre_;
};

TEST_F(EncapTest, TheSessionsOwnPacketPassesEveryCheck) {
  gre_->receive(outer4({192, 168, 5, 2}, kProtoGre, gre(7, inner4({10, 96, 0, 2}, {1, 1, 1, 1}))),
                false, kProtoGre, std::nullopt);
  expect_only(*gre_, Drop::send_failed);
}

TEST_F(EncapTest, AWrongKeyIsDropped) {
  gre_->receive(outer4({192, 168, 5, 2}, kProtoGre, gre(8, inner4({10, 96, 0, 2}, {1, 1, 1, 1}))),
                false, kProtoGre, std::nullopt);
  expect_only(*gre_, Drop::wrong_key);
}

TEST_F(EncapTest, NoKeyAtAllIsAWrongKey) {
  Bytes keyless = {0x00, 0x00, 0x08, 0x00};
  auto in = inner4({10, 96, 0, 2}, {1, 1, 1, 1});
  keyless.insert(keyless.end(), in.begin(), in.end());
  gre_->receive(outer4({192, 168, 5, 2}, kProtoGre, keyless), false, kProtoGre, std::nullopt);
  expect_only(*gre_, Drop::wrong_key);
}

TEST_F(EncapTest, AnotherSenderIsDroppedWhateverItsKey) {
  gre_->receive(outer4({192, 168, 5, 9}, kProtoGre, gre(7, inner4({10, 96, 0, 2}, {1, 1, 1, 1}))),
                false, kProtoGre, std::nullopt);
  expect_only(*gre_, Drop::unknown_sender);
}

TEST_F(EncapTest, AnotherSessionsTunnelAddressIsSpoofed) {
  gre_->receive(outer4({192, 168, 5, 2}, kProtoGre, gre(7, inner4({10, 96, 0, 3}, {1, 1, 1, 1}))),
                false, kProtoGre, std::nullopt);
  expect_only(*gre_, Drop::spoofed);
}

TEST_F(EncapTest, TruncatedPacketsAreMalformed) {
  auto whole = outer4({192, 168, 5, 2}, kProtoGre, gre(7, inner4({10, 96, 0, 2}, {1, 1, 1, 1})));
  for (std::size_t cut : {0u, 10u, 22u, 27u, 30u}) {
    Bytes part(whole.begin(), whole.begin() + cut);
    if (cut >= 20) part[3] = std::uint8_t(cut);  // an outer header true to what arrived
    gre_->receive(part, false, kProtoGre, std::nullopt);
  }
  EXPECT_EQ(gre_->drops(Drop::malformed), 5u);
  EXPECT_EQ(gre_->drops(Drop::send_failed), 0u);
}

TEST_F(EncapTest, ARemovedSessionsSenderIsUnknown) {
  gre_->remove("s1");
  gre_->receive(outer4({192, 168, 5, 2}, kProtoGre, gre(7, inner4({10, 96, 0, 2}, {1, 1, 1, 1}))),
                false, kProtoGre, std::nullopt);
  expect_only(*gre_, Drop::unknown_sender);
}

TEST(Encap, IpInIpTellsTwoSessionsOfOneSubscriberApartByTheirAddresses) {
  boost::asio::io_context io;
  testing::FakeLogger log;
  auto ipip = std::make_shared<Encapsulator>(io, Encap::ipip, log);
  for (auto [name, address] : {std::pair{"a", "10.95.0.2"}, std::pair{"b", "10.95.0.3"}}) {
    Endpoint e;
    e.name = name;
    e.gateway = true;
    e.remote = *parse_ip("192.168.5.2");
    e.inner4 = parse_ip(address);
    ipip->add(e, std::nullopt);
  }
  ipip->receive(outer4({192, 168, 5, 2}, kProtoIpip, inner4({10, 95, 0, 3}, {1, 1, 1, 1})), false,
                kProtoIpip, std::nullopt);
  EXPECT_EQ(ipip->drops(Drop::send_failed), 1u) << "delivered to session b";
  ipip->receive(outer4({192, 168, 5, 2}, kProtoIpip, inner4({10, 95, 0, 4}, {1, 1, 1, 1})), false,
                kProtoIpip, std::nullopt);
  EXPECT_EQ(ipip->drops(Drop::spoofed), 1u);
  // An IPv6 packet under protocol 4 is not what the protocol says.
  Bytes v6(40, 0);
  v6[0] = 0x60;
  ipip->receive(outer4({192, 168, 5, 2}, kProtoIpip, v6), false, kProtoIpip, std::nullopt);
  EXPECT_EQ(ipip->drops(Drop::malformed), 1u);
}

TEST(Encap, TheSubscriberTakesOnlyWhatIsAddressedToItsTunnelAddress) {
  boost::asio::io_context io;
  testing::FakeLogger log;
  auto sub = std::make_shared<Encapsulator>(io, Encap::gre, log);
  Endpoint e;
  e.name = "192.168.5.1 s1";
  e.remote = *parse_ip("fd00:5::1");
  e.key = 9;
  e.inner4 = parse_ip("10.96.0.2");
  sub->add(e, std::nullopt);
  // An IPv6 raw socket hands over no outer header: the sender comes apart.
  sub->receive(gre(9, inner4({1, 1, 1, 1}, {10, 96, 0, 2})), true, kProtoGre,
               parse_ip("fd00:5::1"));
  EXPECT_EQ(sub->drops(Drop::send_failed), 1u);
  sub->receive(gre(9, inner4({1, 1, 1, 1}, {10, 96, 0, 7})), true, kProtoGre,
               parse_ip("fd00:5::1"));
  EXPECT_EQ(sub->drops(Drop::spoofed), 1u);
  sub->receive(gre(9, inner4({1, 1, 1, 1}, {10, 96, 0, 2})), true, kProtoGre, std::nullopt);
  EXPECT_EQ(sub->drops(Drop::malformed), 1u) << "no sender address";
}

}  // namespace
}  // namespace mnigs::gre
