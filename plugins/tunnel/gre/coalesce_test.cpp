// Userspace GRO: segments of one stream join into one packet that, cut
// again as the kernel would, gives the segments back; anything that would
// change what the receiver sees does not join.
#include "coalesce.hpp"

#include <gtest/gtest.h>

#include <arpa/inet.h>

#include <cstring>
#include <vector>

#include "segment.hpp"
#include "wire.hpp"

namespace mnigs::gre {
namespace {

using Bytes = std::vector<std::uint8_t>;

// `segments` segments of 1000 bytes of one IPv4 or IPv6 TCP stream, cut
// by segment() from one large packet, each with its checksum.
std::vector<Bytes> stream(bool v6, std::size_t payload, std::uint8_t flags = 0x10) {
  const std::size_t ip = v6 ? 40 : 20;
  Bytes p(ip + 32 + payload, 0);  // TCP with 12 bytes of options
  if (v6) {
    p[0] = 0x60;
    p[4] = std::uint8_t((32 + payload) >> 8);
    p[5] = std::uint8_t(32 + payload);
    p[6] = 6;
    p[7] = 64;
    ::inet_pton(AF_INET6, "2001:db8::1", p.data() + 8);
    ::inet_pton(AF_INET6, "fd96::2", p.data() + 24);
  } else {
    p[0] = 0x45;
    p[2] = std::uint8_t(p.size() >> 8);
    p[3] = std::uint8_t(p.size());
    p[6] = 0x40;  // DF
    p[8] = 64;
    p[9] = 6;
    ::inet_pton(AF_INET, "192.0.2.1", p.data() + 12);
    ::inet_pton(AF_INET, "10.96.0.2", p.data() + 16);
  }
  std::uint8_t* tcp = p.data() + ip;
  tcp[1] = 80;
  tcp[2] = 0x9c;
  tcp[3] = 0x40;
  tcp[7] = 1;
  tcp[11] = 7;          // ack
  tcp[12] = 8 << 4;     // 32-byte header
  tcp[13] = flags;
  tcp[15] = 0xff;       // window
  tcp[20] = 1;          // NOP NOP timestamps
  tcp[21] = 1;
  tcp[22] = 8;
  tcp[23] = 10;
  for (std::size_t i = 0; i < payload; ++i) p[ip + 32 + i] = std::uint8_t(i * 7);
  tunnels::VnetHeader h;
  h.flags = 1;
  h.gso_type = v6 ? 4 : 1;
  h.gso_size = 1000;
  h.csum_start = static_cast<std::uint16_t>(ip);
  h.csum_offset = 16;
  std::vector<std::uint8_t> store;
  std::vector<Segment> cut;
  EXPECT_EQ(segment(h, p, store, cut), "");
  std::vector<Bytes> out;
  for (const auto& s : cut) {
    Bytes b(s.header.begin(), s.header.end());
    b.insert(b.end(), s.payload.begin(), s.payload.end());
    out.push_back(b);
  }
  return out;
}

class Coalesce : public ::testing::TestWithParam<bool> {};

TEST_P(Coalesce, AStreamJoinsAndCutsBackIntoItsSegments) {
  const bool v6 = GetParam();
  auto segs = stream(v6, 3500);  // 1000, 1000, 1000, 500
  ASSERT_EQ(segs.size(), 4u);
  Coalescer c;
  for (const auto& s : segs) ASSERT_TRUE(c.add(s));
  EXPECT_EQ(c.segments(), 4u);
  auto joined = c.flush();
  EXPECT_TRUE(c.empty());
  ASSERT_GT(joined.size(), tunnels::vnet_header_size);
  const auto h = read_vnet_host(joined.data());
  EXPECT_EQ(h.flags, 1);
  EXPECT_EQ(h.gso_type, v6 ? 4 : 1);
  EXPECT_EQ(h.gso_size, 1000);
  EXPECT_EQ(h.csum_start, v6 ? 40 : 20);
  EXPECT_EQ(h.csum_offset, 16);
  // What the kernel does with it: cut it again, checksums computed.
  Bytes packet(joined.begin() + tunnels::vnet_header_size, joined.end());
  std::vector<std::uint8_t> store;
  std::vector<Segment> again;
  ASSERT_EQ(segment(h, packet, store, again), "");
  ASSERT_EQ(again.size(), segs.size());
  for (std::size_t i = 0; i < segs.size(); ++i) {
    Bytes b(again[i].header.begin(), again[i].header.end());
    b.insert(b.end(), again[i].payload.begin(), again[i].payload.end());
    EXPECT_EQ(b, segs[i]) << "segment " << i;
  }
}

TEST_P(Coalesce, GapsOtherFlowsAndBadChecksumsDoNotJoin) {
  const bool v6 = GetParam();
  auto segs = stream(v6, 3000);
  Coalescer c;
  ASSERT_TRUE(c.add(segs[0]));
  EXPECT_FALSE(c.add(segs[2])) << "a gap in the sequence";
  Bytes other = segs[1];
  other[(v6 ? 40 : 20) + 1] = 81;  // another port (and so a checksum that fails)
  EXPECT_FALSE(c.add(other));
  Bytes corrupt = segs[1];
  corrupt.back() ^= 1;
  EXPECT_FALSE(c.add(corrupt)) << "a wrong checksum";
  EXPECT_TRUE(c.add(segs[1]));
  EXPECT_EQ(c.segments(), 2u);
}

TEST_P(Coalesce, ALoneSegmentIsWrittenAsItCame) {
  const bool v6 = GetParam();
  auto segs = stream(v6, 800);
  Coalescer c;
  ASSERT_TRUE(c.add(segs[0]));
  auto out = c.flush();
  ASSERT_EQ(out.size(), tunnels::vnet_header_size + segs[0].size());
  EXPECT_EQ(Bytes(out.begin(), out.begin() + 10), Bytes(10, 0)) << "a plain header";
  EXPECT_EQ(Bytes(out.begin() + 10, out.end()), segs[0]);
}

TEST_P(Coalesce, PshAndFlagsEndWhatJoins) {
  const bool v6 = GetParam();
  auto segs = stream(v6, 3000, 0x18);  // ACK PSH: only the last keeps PSH
  Coalescer c;
  ASSERT_TRUE(c.add(segs[0]));
  ASSERT_TRUE(c.add(segs[1]));
  ASSERT_TRUE(c.add(segs[2]));
  EXPECT_EQ(c.segments(), 3u);
  auto more = stream(v6, 3000);
  c.flush();
  auto fin = stream(v6, 1000, 0x11);  // FIN ACK
  ASSERT_TRUE(c.add(fin[0]));
  EXPECT_FALSE(c.add(more[1])) << "a FIN segment joins nothing";
}

TEST(Coalesce, Ipv4WithoutDfOrWithADamagedHeaderDoesNotJoin) {
  auto segs = stream(false, 3000);
  auto reheader = [](Bytes& b) {  // a fresh IPv4 header checksum
    b[10] = b[11] = 0;
    const std::uint16_t sum = internet_checksum({b.data(), 20});
    b[10] = std::uint8_t(sum >> 8);
    b[11] = std::uint8_t(sum);
  };
  Coalescer c;
  ASSERT_TRUE(c.add(segs[0]));
  Bytes no_df = segs[1];
  no_df[6] = 0;
  reheader(no_df);
  EXPECT_FALSE(c.add(no_df)) << "without DF the kernel's new ids could clash with fragments";
  Bytes damaged = segs[1];
  damaged[8] = 63;  // TTL changed on the way, header checksum not
  EXPECT_FALSE(c.add(damaged));
  EXPECT_TRUE(c.add(segs[1]));
}

INSTANTIATE_TEST_SUITE_P(BothFamilies, Coalesce, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? "Ipv6" : "Ipv4"; });

}  // namespace
}  // namespace mnigs::gre
