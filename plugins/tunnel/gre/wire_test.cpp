// GRE and IP-in-IP wire forms (RFC 2784, RFC 2890), against packets laid
// out byte by byte from the RFCs.
#include "wire.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace mnigs::gre {
namespace {

using Bytes = std::vector<std::uint8_t>;

// A minimal IPv4 packet (header only, no options) from src to dst.
Bytes ipv4(std::array<std::uint8_t, 4> src, std::array<std::uint8_t, 4> dst, int protocol = 17,
           std::size_t payload = 0) {
  Bytes p(20 + payload, 0);
  p[0] = 0x45;
  p[2] = std::uint8_t((20 + payload) >> 8);
  p[3] = std::uint8_t(20 + payload);
  p[8] = 64;
  p[9] = std::uint8_t(protocol);
  std::copy(src.begin(), src.end(), p.begin() + 12);
  std::copy(dst.begin(), dst.end(), p.begin() + 16);
  return p;
}

Bytes ipv6(std::uint8_t src_last, std::uint8_t dst_last, std::size_t payload = 0) {
  Bytes p(40 + payload, 0);
  p[0] = 0x60;
  p[4] = std::uint8_t(payload >> 8);
  p[5] = std::uint8_t(payload);
  p[6] = 59;  // no next header
  p[7] = 64;
  p[8] = 0xfd;
  p[23] = src_last;
  p[24] = 0xfd;
  p[39] = dst_last;
  return p;
}

Bytes cat(Bytes a, const Bytes& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

TEST(Wire, TheHeaderThisEndSendsCarriesTheKeyAndNothingElse) {
  auto h = gre_header(kEtherIpv4, 0x01020304);
  EXPECT_EQ(Bytes(h.begin(), h.end()), (Bytes{0x20, 0x00, 0x08, 0x00, 1, 2, 3, 4}));
  auto h6 = gre_header(kEtherIpv6, 0xfffffffe);
  EXPECT_EQ(Bytes(h6.begin(), h6.end()), (Bytes{0x20, 0x00, 0x86, 0xdd, 0xff, 0xff, 0xff, 0xfe}));
}

TEST(Wire, WhatThisEndSendsParsesBack) {
  auto h = gre_header(kEtherIpv6, 77);
  auto packet = cat(Bytes(h.begin(), h.end()), ipv6(2, 1));
  Drop why = Drop::none;
  auto v = parse_gre(packet, &why);
  ASSERT_TRUE(v) << to_string(why);
  EXPECT_EQ(v->protocol, kEtherIpv6);
  EXPECT_EQ(v->key, 77u);
  EXPECT_EQ(v->payload.size(), 40u);
}

TEST(Wire, KeylessChecksummedAndSequencedHeadersAreRead) {
  // RFC 2784: C set, checksum and reserved1 follow; RFC 2890: key, then
  // sequence number. The checksum covers header and payload.
  Bytes packet = {0xb0, 0x00, 0x08, 0x00, 0, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0, 1};
  packet = cat(packet, ipv4({10, 0, 0, 2}, {1, 1, 1, 1}));
  const std::uint16_t sum = internet_checksum(packet);
  packet[4] = std::uint8_t(sum >> 8);
  packet[5] = std::uint8_t(sum);
  Drop why = Drop::none;
  auto v = parse_gre(packet, &why);
  ASSERT_TRUE(v) << to_string(why);
  EXPECT_EQ(v->key, 9u);
  EXPECT_EQ(v->payload.size(), 20u);

  packet[30] ^= 1;  // one bit of the payload changed
  EXPECT_FALSE(parse_gre(packet, &why));
  EXPECT_EQ(why, Drop::malformed);

  Bytes plain = cat({0x00, 0x00, 0x08, 0x00}, ipv4({10, 0, 0, 2}, {1, 1, 1, 1}));
  v = parse_gre(plain, &why);
  ASSERT_TRUE(v);
  EXPECT_FALSE(v->key);
}

TEST(Wire, VersionsRoutingAndTruncationAreRefusedReservedBitsIgnored) {
  const Bytes inner = ipv4({10, 0, 0, 2}, {1, 1, 1, 1});
  for (Bytes head : {Bytes{0x20, 0x01, 0x08, 0x00, 0, 0, 0, 1},     // version 1 (PPTP)
                     Bytes{0x60, 0x00, 0x08, 0x00, 0, 0, 0, 1}}) {  // routing present
    Drop why = Drop::none;
    EXPECT_FALSE(parse_gre(cat(head, inner), &why));
    EXPECT_EQ(why, Drop::malformed);
  }
  // RFC 2784: reserved bits are ignored on receipt; so are strict source
  // route and recursion control, as the kernel does.
  for (Bytes head : {Bytes{0x28, 0x00, 0x08, 0x00, 0, 0, 0, 1},     // strict source route
                     Bytes{0x21, 0x00, 0x08, 0x00, 0, 0, 0, 1},     // recursion control
                     Bytes{0x20, 0x08, 0x08, 0x00, 0, 0, 0, 1}}) {  // a reserved flag
    Drop why = Drop::none;
    auto v = parse_gre(cat(head, inner), &why);
    ASSERT_TRUE(v) << to_string(why);
    EXPECT_EQ(v->key, 1u);
  }
  for (Bytes cut : {Bytes{}, Bytes{0x20, 0x00, 0x08}, Bytes{0x20, 0x00, 0x08, 0x00, 0, 0},
                    Bytes{0x80, 0x00, 0x08, 0x00, 0}, Bytes{0x10, 0x00, 0x08, 0x00, 1, 2, 3}}) {
    Drop why = Drop::none;
    EXPECT_FALSE(parse_gre(cut, &why));
    EXPECT_EQ(why, Drop::malformed);
  }
  Drop why = Drop::none;
  EXPECT_FALSE(parse_gre(Bytes{0x20, 0x00, 0x88, 0x47, 0, 0, 0, 1}, &why));  // MPLS inside
  EXPECT_EQ(why, Drop::not_ip);
}

TEST(Wire, TheOuterIpv4HeaderBoundsThePayload) {
  auto outer = ipv4({192, 168, 5, 1}, {192, 168, 5, 2}, kProtoGre, 28);
  outer.push_back(0xee);  // trailing bytes beyond the total length
  Drop why = Drop::none;
  auto o = parse_outer_v4(outer, &why);
  ASSERT_TRUE(o);
  EXPECT_EQ(o->protocol, kProtoGre);
  EXPECT_EQ(o->source.text(), "192.168.5.1");
  EXPECT_EQ(o->destination.text(), "192.168.5.2");
  EXPECT_EQ(o->payload.size(), 28u);

  auto longer = ipv4({192, 168, 5, 1}, {192, 168, 5, 2}, kProtoGre, 28);
  longer[3] += 1;  // claims a byte more than arrived
  EXPECT_FALSE(parse_outer_v4(longer, &why));
  auto short_header = outer;
  short_header[0] = 0x44;
  EXPECT_FALSE(parse_outer_v4(short_header, &why));
  EXPECT_FALSE(parse_outer_v4(Bytes(19, 0x45), &why));
  EXPECT_EQ(why, Drop::malformed);
}

TEST(Wire, InnerPacketsMustBeTheVersionTheirProtocolSays) {
  Drop why = Drop::none;
  auto v4 = ipv4({10, 96, 0, 2}, {8, 8, 8, 8}, 6, 10);
  auto in = parse_inner(v4, false, &why);
  ASSERT_TRUE(in);
  EXPECT_EQ(in->source.text(), "10.96.0.2");
  EXPECT_EQ(in->destination.text(), "8.8.8.8");
  EXPECT_FALSE(parse_inner(v4, true, &why));
  EXPECT_EQ(why, Drop::malformed);

  auto v6 = ipv6(2, 1, 8);
  in = parse_inner(v6, true, &why);
  ASSERT_TRUE(in);
  EXPECT_EQ(in->source.text(), "fd00::2");
  EXPECT_EQ(in->destination.text(), "fd00::1");
  v6.resize(44);  // shorter than its payload length says
  EXPECT_FALSE(parse_inner(v6, true, &why));
  EXPECT_EQ(why, Drop::malformed);

  EXPECT_FALSE(parse_inner(Bytes{0x10, 0, 0}, false, &why));
  EXPECT_EQ(why, Drop::not_ip);
  EXPECT_EQ(ip_version(Bytes{}), 0);
}

TEST(Wire, AddressesParseAsTheKernelWritesThem) {
  EXPECT_EQ(parse_ip("10.1.2.3")->text(), "10.1.2.3");
  EXPECT_FALSE(parse_ip("10.1.2.3")->v6);
  EXPECT_EQ(parse_ip("::ffff:10.1.2.3")->text(), "10.1.2.3") << "mapped becomes IPv4";
  EXPECT_EQ(parse_ip("FD00:0::1")->text(), "fd00::1");
  EXPECT_FALSE(parse_ip("fe80::1%eth0"));
  EXPECT_FALSE(parse_ip("mesh.example"));
  EXPECT_FALSE(parse_ip(""));
}

TEST(Wire, OverheadIsWhatTheKernelsDevicesSubtract) {
  EXPECT_EQ(1500 - overhead(true, false), 1472);   // gre with a key
  EXPECT_EQ(1500 - overhead(true, true), 1444);    // ip6gre with key and encap limit
  EXPECT_EQ(1500 - overhead(false, false), 1480);  // ipip, sit
  EXPECT_EQ(1500 - overhead(false, true), 1452);   // ip6tnl
}

}  // namespace
}  // namespace mnigs::gre
