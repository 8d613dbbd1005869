// Segmentation of the tun device's large TCP packets, checked the way a
// receiver would: every segment's IP and TCP checksums verify, lengths and
// sequence numbers follow on, and FIN/PSH end up on the last one only.
#include "segment.hpp"

#include <gtest/gtest.h>

#include <arpa/inet.h>

#include <numeric>
#include <vector>

#include "wire.hpp"

namespace mnigs::gre {
namespace {

using Bytes = std::vector<std::uint8_t>;

std::uint16_t load16(const std::uint8_t* p) { return std::uint16_t(p[0] << 8 | p[1]); }
std::uint32_t load32(const std::uint8_t* p) {
  return std::uint32_t(load16(p)) << 16 | load16(p + 2);
}

// A TCP packet with `payload` bytes (0, 1, 2, ...), FIN and PSH set, as
// the kernel hands it over for segmentation: the TCP checksum field holds
// only the pseudo-header's sum (what CHECKSUM_PARTIAL leaves there).
Bytes tcp_packet(bool v6, std::size_t payload) {
  const std::size_t ip = v6 ? 40 : 20;
  Bytes p(ip + 20 + payload, 0);
  if (v6) {
    p[0] = 0x60;
    p[4] = std::uint8_t((20 + payload) >> 8);
    p[5] = std::uint8_t(20 + payload);
    p[6] = 6;
    p[7] = 64;
    ::inet_pton(AF_INET6, "fd96::2", p.data() + 8);
    ::inet_pton(AF_INET6, "2001:db8::1", p.data() + 24);
  } else {
    p[0] = 0x45;
    p[2] = std::uint8_t(p.size() >> 8);
    p[3] = std::uint8_t(p.size());
    p[4] = 0x12;
    p[5] = 0x34;
    p[8] = 64;
    p[9] = 6;
    ::inet_pton(AF_INET, "10.96.0.2", p.data() + 12);
    ::inet_pton(AF_INET, "192.0.2.1", p.data() + 16);
  }
  std::uint8_t* tcp = p.data() + ip;
  tcp[0] = 0x9c;  // ports 40000 -> 80
  tcp[1] = 0x40;
  tcp[3] = 80;
  tcp[4] = 0xff;  // sequence number near the wrap
  tcp[5] = 0xff;
  tcp[6] = 0xff;
  tcp[7] = 0x00;
  tcp[12] = 5 << 4;
  tcp[13] = 0x19;  // FIN PSH ACK
  for (std::size_t i = 0; i < payload; ++i) p[ip + 20 + i] = std::uint8_t(i);
  return p;
}

tunnels::VnetHeader gso(bool v6, std::uint16_t mss) {
  tunnels::VnetHeader h;
  h.flags = 1;
  h.gso_type = v6 ? 4 : 1;
  h.gso_size = mss;
  h.csum_start = v6 ? 40 : 20;
  h.csum_offset = 16;
  h.hdr_len = h.csum_start + 20;
  return h;
}

// The segment as one packet.
Bytes joined(const Segment& s) {
  Bytes b(s.header.begin(), s.header.end());
  b.insert(b.end(), s.payload.begin(), s.payload.end());
  return b;
}

// Whether the TCP checksum of the whole packet `b` verifies.
bool tcp_checksum_ok(const Bytes& b, bool v6) {
  const std::size_t ip = v6 ? 40 : 20;
  Bytes pseudo;
  if (v6) {
    pseudo.assign(b.begin() + 8, b.begin() + 40);
    const std::size_t len = b.size() - ip;
    const Bytes tail = {0, 0, std::uint8_t(len >> 8), std::uint8_t(len), 0, 0, 0, 6};
    pseudo.insert(pseudo.end(), tail.begin(), tail.end());
  } else {
    pseudo.assign(b.begin() + 12, b.begin() + 20);
    const std::size_t len = b.size() - ip;
    const Bytes tail = {0, 6, std::uint8_t(len >> 8), std::uint8_t(len)};
    pseudo.insert(pseudo.end(), tail.begin(), tail.end());
  }
  pseudo.insert(pseudo.end(), b.begin() + static_cast<long>(ip), b.end());
  return internet_checksum(pseudo) == 0;
}

class Segmentation : public ::testing::TestWithParam<bool> {};

TEST_P(Segmentation, SegmentsVerifyAndFollowOn) {
  const bool v6 = GetParam();
  const std::size_t ip = v6 ? 40 : 20;
  Bytes packet = tcp_packet(v6, 2500);
  std::vector<std::uint8_t> store;
  std::vector<Segment> out;
  ASSERT_EQ(segment(gso(v6, 1000), packet, store, out), "");
  ASSERT_EQ(out.size(), 3u);
  std::size_t offset = 0;
  for (std::size_t i = 0; i < out.size(); ++i) {
    const Bytes b = joined(out[i]);
    const std::size_t size = i < 2 ? 1000 : 500;
    EXPECT_EQ(b.size(), ip + 20 + size);
    if (v6) {
      EXPECT_EQ(load16(b.data() + 4), 20 + size);
    } else {
      EXPECT_EQ(load16(b.data() + 2), b.size());
      EXPECT_EQ(load16(b.data() + 4), 0x1234 + i) << "IP ids count up";
      EXPECT_EQ(internet_checksum({b.data(), 20}), 0) << "IP header checksum";
    }
    EXPECT_EQ(load32(b.data() + ip + 4), static_cast<std::uint32_t>(0xffffff00u + offset))
        << "sequence numbers wrap";
    EXPECT_EQ(b[ip + 13], i + 1 < out.size() ? 0x10 : 0x19) << "FIN and PSH on the last only";
    EXPECT_TRUE(tcp_checksum_ok(b, v6)) << "segment " << i;
    EXPECT_EQ(b[ip + 20], std::uint8_t(offset)) << "its payload is the packet's";
    offset += size;
  }
}

TEST_P(Segmentation, APacketWithoutSegmentationGetsItsChecksumCompleted) {
  const bool v6 = GetParam();
  Bytes packet = tcp_packet(v6, 301);
  // What CHECKSUM_PARTIAL leaves: the pseudo-header's sum, not complemented.
  const std::size_t ip = v6 ? 40 : 20;
  Bytes zero = packet;
  zero[ip + 16] = zero[ip + 17] = 0;
  Bytes pseudo_only;
  if (v6) {
    pseudo_only.assign(packet.begin() + 8, packet.begin() + 40);
    const Bytes tail = {0, 0, 0x01, 0x41, 0, 0, 0, 6};  // TCP length 321
    pseudo_only.insert(pseudo_only.end(), tail.begin(), tail.end());
  } else {
    pseudo_only.assign(packet.begin() + 12, packet.begin() + 20);
    const Bytes tail = {0, 6, 0x01, 0x41};
    pseudo_only.insert(pseudo_only.end(), tail.begin(), tail.end());
  }
  const std::uint16_t partial = static_cast<std::uint16_t>(~internet_checksum(pseudo_only));
  packet[ip + 16] = std::uint8_t(partial >> 8);
  packet[ip + 17] = std::uint8_t(partial);
  tunnels::VnetHeader h = gso(v6, 0);
  h.gso_type = 0;
  std::vector<std::uint8_t> store;
  std::vector<Segment> out;
  ASSERT_EQ(segment(h, packet, store, out), "");
  ASSERT_EQ(out.size(), 1u);
  EXPECT_TRUE(out[0].header.empty());
  EXPECT_TRUE(tcp_checksum_ok(joined(out[0]), v6));
}

INSTANTIATE_TEST_SUITE_P(BothFamilies, Segmentation, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? "Ipv6" : "Ipv4"; });

TEST(Segment, APlainPacketPassesUntouched) {
  Bytes packet = tcp_packet(false, 10);
  const Bytes before = packet;
  std::vector<std::uint8_t> store;
  std::vector<Segment> out;
  ASSERT_EQ(segment(tunnels::VnetHeader{}, packet, store, out), "");
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(joined(out[0]), before);
}

TEST(Segment, HeadersThatDoNotFitThePacketAreRefused) {
  std::vector<std::uint8_t> store;
  std::vector<Segment> out;
  Bytes packet = tcp_packet(false, 100);
  auto h = gso(false, 1000);
  h.csum_start = 24;  // not where the TCP header is
  EXPECT_NE(segment(h, packet, store, out), "");
  h = gso(false, 0);
  EXPECT_NE(segment(h, packet, store, out), "") << "segment size 0";
  h = gso(true, 1000);  // says IPv6, is IPv4
  EXPECT_NE(segment(h, packet, store, out), "");
  h = gso(false, 1000);
  h.gso_type = 3;  // UFO
  EXPECT_NE(segment(h, packet, store, out), "");
  Bytes tiny(30, 0);
  tiny[0] = 0x45;
  EXPECT_NE(segment(gso(false, 1000), tiny, store, out), "") << "no room for a TCP header";
  tunnels::VnetHeader csum;
  csum.flags = 1;
  csum.csum_start = 20;
  csum.csum_offset = 200;
  EXPECT_NE(segment(csum, packet, store, out), "") << "checksum field past the end";
}

}  // namespace
}  // namespace mnigs::gre
