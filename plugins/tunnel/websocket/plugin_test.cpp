// Unit tests of the websocket plugin's own logic that needs no kernel: the
// checks on a peer's virtio-net header, reading packet addresses, and the
// config checks.
#include "packet.hpp"
#include "settings.hpp"
#include "tun.hpp"

#include <gtest/gtest.h>

#include <arpa/inet.h>

namespace mnigs::websocket {
namespace {

TEST(Vnet, PlainPacketsAndKernelSegmentsPass) {
  VnetHeader plain;
  EXPECT_EQ(check_vnet(plain, 60), "");
  VnetHeader tso;
  tso.flags = 1;
  tso.gso_type = 1;
  tso.hdr_len = 52;
  tso.gso_size = 1448;
  tso.csum_start = 20;
  tso.csum_offset = 16;
  EXPECT_EQ(check_vnet(tso, 65000), "");
  tso.gso_type = 4 | 0x80;  // TCPv6 with ECN (linux/virtio_net.h)
  EXPECT_EQ(check_vnet(tso, 65000), "");
}

TEST(Vnet, HeadersClaimingOutsideThePacketOrOddSegmentationAreRefused) {
  VnetHeader h;
  h.flags = 1;
  h.csum_start = 50;
  h.csum_offset = 16;
  EXPECT_NE(check_vnet(h, 60), "") << "checksum field past the end";
  VnetHeader udp;
  udp.flags = 1;
  udp.gso_type = 3;  // UFO
  udp.gso_size = 1000;
  EXPECT_NE(check_vnet(udp, 3000), "");
  udp.gso_type = 5;  // UDP_L4 (USO), which the tun devices are not asked for
  EXPECT_NE(check_vnet(udp, 3000), "");
  VnetHeader no_csum;
  no_csum.gso_type = 1;
  no_csum.gso_size = 1448;
  EXPECT_NE(check_vnet(no_csum, 3000), "");
  VnetHeader flags;
  flags.flags = 0x80;
  EXPECT_NE(check_vnet(flags, 100), "");
  VnetHeader size_only;
  size_only.gso_size = 100;
  EXPECT_NE(check_vnet(size_only, 100), "");
}

TEST(Vnet, WireFormIsLittleEndian) {
  std::uint8_t wire[vnet_header_size] = {1, 1, 0x34, 0x00, 0xa8, 0x05, 0x14, 0x00, 0x10, 0x00};
  VnetHeader h = read_vnet_wire(wire);
  EXPECT_EQ(h.hdr_len, 0x34);
  EXPECT_EQ(h.gso_size, 1448);
  EXPECT_EQ(h.csum_start, 20);
  EXPECT_EQ(h.csum_offset, 16);
}

TEST(Packet, AddressesOfBothFamilies) {
  std::uint8_t v4[20] = {0x45};
  ::inet_pton(AF_INET, "10.98.0.2", v4 + 12);
  ::inet_pton(AF_INET, "10.77.1.1", v4 + 16);
  auto a = packet_addresses(v4);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->version, 4);
  std::uint8_t expect[4];
  ::inet_pton(AF_INET, "10.98.0.2", expect);
  EXPECT_EQ(a->source, IpKey::v4(expect));

  std::uint8_t v6[40] = {0x60};
  ::inet_pton(AF_INET6, "fd98::2", v6 + 8);
  ::inet_pton(AF_INET6, "fd77::1", v6 + 24);
  auto b = packet_addresses(v6);
  ASSERT_TRUE(b);
  EXPECT_EQ(b->version, 6);
  std::uint8_t dst[16];
  ::inet_pton(AF_INET6, "fd77::1", dst);
  EXPECT_EQ(b->destination, IpKey::v6(dst));
  EXPECT_FALSE(b->source == IpKey::v4(expect));
}

TEST(Packet, ShortOrForeignPacketsHaveNoAddresses) {
  std::uint8_t short4[19] = {0x45};
  EXPECT_FALSE(packet_addresses(short4));
  std::uint8_t short6[39] = {0x60};
  EXPECT_FALSE(packet_addresses(short6));
  std::uint8_t arp[28] = {0x00, 0x01};
  EXPECT_FALSE(packet_addresses(arp));
  EXPECT_FALSE(packet_addresses({}));
}

Json::Value defaults() {
  Json::Value c(Json::objectValue);
  return c;
}

TEST(Settings, DefaultsAreUsable) {
  std::string why;
  auto s = parse_settings(defaults(), &why);
  ASSERT_TRUE(s) << why;
  EXPECT_EQ(s->path, "/ws/websocket");
  EXPECT_EQ(s->l2_path, "/vpn");
  EXPECT_TRUE(s->offload);
}

TEST(Settings, ValuesTheDeclarationCannotRefuseAreRefusedWithTheKey) {
  auto refused = [](const char* key, Json::Value value, const char* named) {
    Json::Value c = defaults();
    c[key] = value;
    std::string why;
    EXPECT_FALSE(parse_settings(c, &why)) << key;
    EXPECT_NE(why.find(named), std::string::npos) << why;
  };
  refused("path", "ws", "websocket.path");
  refused("path", "/jsonrpc", "websocket.path");
  refused("l2Path", "/ws/websocket", "websocket.l2Path");
  refused("gatewayInterface", "a/b", "websocket.gatewayInterface");
  refused("subscriberInterface", "much-too-long-a-name", "websocket.subscriberInterface");
  refused("table", 254, "websocket.table");
  refused("pool4", "10.98.0.0/33", "websocket.pool4");
  refused("l2Address", "10.97.0.1", "websocket.l2Address");
  refused("timeout", 5, "websocket.timeout");
  // Fifteen characters fit the kernel, but not the standbys' names after it.
  refused("subscriberInterface", "tunnel-to-gw-99", "no room for the devices of the standby");
  refused("subscriberInterface", "mnws-gw", "which gatewayInterface names already");
  refused("subscriberInterface", "mnws-l2", "which l2Interface names already");
}

TEST(Wss, AKnownKeyMeansWssToThatKeyAndNothingElse) {
  const std::string pin = "sha256:" + std::string(64, 'a');
  Json::Value p(Json::objectValue);
  p["gatewayKey"] = pin;
  p["gatewayKeySource"] = "offer";
  p["tlsPort"] = 65530;
  auto c = choose_wss(p, false);
  EXPECT_EQ(c.refusal, "");
  EXPECT_EQ(c.port, 65530);
  EXPECT_EQ(c.pin, pin);

  // A relay that strips the port from the reply gets no plain connection.
  p.removeMember("tlsPort");
  c = choose_wss(p, false);
  EXPECT_EQ(c.port, 0);
  EXPECT_NE(c.refusal.find("refusing plain ws"), std::string::npos) << c.refusal;
  EXPECT_NE(c.refusal.find("signed DHT offer"), std::string::npos) << c.refusal;
  p["tlsPort"] = 0;
  EXPECT_NE(choose_wss(p, false).refusal, "");
  p["tlsPort"] = "65530";
  EXPECT_NE(choose_wss(p, false).refusal, "");

  p["tlsPort"] = 65530;
  for (Json::Value bad : {Json::Value("sha256:" + std::string(64, 'A')), Json::Value(7),
                          Json::Value("sha1:abc")}) {
    p["gatewayKey"] = bad;
    c = choose_wss(p, false);
    EXPECT_EQ(c.port, 0);
    EXPECT_NE(c.refusal.find("not a key pin"), std::string::npos) << c.refusal;
  }
}

TEST(Wss, WithoutAKeyPlainWsUnlessTlsIsRequired) {
  Json::Value p(Json::objectValue);
  p["tlsPort"] = 65530;  // offered, but no key to hold it to
  auto c = choose_wss(p, false);
  EXPECT_EQ(c.refusal, "");
  EXPECT_EQ(c.port, 0);
  c = choose_wss(p, true);
  EXPECT_NE(c.refusal.find("requireTls"), std::string::npos) << c.refusal;
}

}  // namespace
}  // namespace mnigs::websocket
