// Following a dump through the datagrams the kernel sends.
#include "batadv.hpp"
#include "dump_reader.hpp"
#include "test_messages.hpp"

#include <gtest/gtest.h>

#include <cerrno>
#include <random>

namespace mnigs::batman {
namespace {

using namespace batadv;
using testing::datagram;
using testing::done;
using testing::Genl;

constexpr std::uint16_t family = 0x1c;

Bytes originator(std::uint32_t seq, std::uint8_t last_byte) {
  Genl g(family, cmd_get_originators, seq);
  g.mac(attr_orig_address, {2, 0, 0, 0, 0, last_byte})
      .mac(attr_neigh_address, {2, 0, 0, 0, 0, last_byte})
      .u32(attr_hard_ifindex, 3)
      .u8(attr_tq, 255)
      .u32(attr_last_seen_msecs, 10)
      .flag(attr_flag_best);
  return g.bytes();
}

struct Collect {
  std::vector<OriginatorEntry> entries;
  std::vector<std::string> problems;
  DumpReader reader(std::uint32_t seq) {
    return DumpReader(seq, family, [this](const nlmsghdr& h) {
      std::string why;
      if (auto e = parse_originator(h, &why)) entries.push_back(*e);
      else problems.push_back(why);
    });
  }
};

TEST(BatmanDumpReader, MultiPartDumpEndsWithDone) {
  Collect c;
  auto r = c.reader(40);
  auto first = datagram({originator(40, 1), originator(40, 2)});
  EXPECT_FALSE(r.feed(first.data(), first.size()));
  auto second = datagram({originator(40, 3), done(40)});
  EXPECT_TRUE(r.feed(second.data(), second.size()));
  EXPECT_TRUE(r.finished());
  EXPECT_EQ(r.error(), 0);
  EXPECT_EQ(r.messages(), 3u);
  ASSERT_EQ(c.entries.size(), 3u);
  EXPECT_EQ(c.entries[2].orig[5], 3);
  // Anything after the end is ignored.
  auto late = originator(40, 4);
  EXPECT_TRUE(r.feed(late.data(), late.size()));
  EXPECT_EQ(c.entries.size(), 3u);
}

TEST(BatmanDumpReader, DoneAloneIsAnEmptyTable) {
  Collect c;
  auto r = c.reader(1);
  auto d = done(1);
  EXPECT_TRUE(r.feed(d.data(), d.size()));
  EXPECT_EQ(r.error(), 0);
  EXPECT_TRUE(c.entries.empty());
}

TEST(BatmanDumpReader, DumpFailureIsInDone) {
  // batadv_orig_dump returning -ENOENT (no active hard interface) ends the
  // dump with that errno in NLMSG_DONE's payload.
  Collect c;
  auto r = c.reader(2);
  auto d = done(2, -ENOENT);
  EXPECT_TRUE(r.feed(d.data(), d.size()));
  EXPECT_EQ(r.error(), ENOENT);
}

TEST(BatmanDumpReader, ErrorAnswerEndsTheExchange) {
  Collect c;
  auto r = c.reader(3);
  auto e = testing::error(3, -EPERM);
  EXPECT_TRUE(r.feed(e.data(), e.size()));
  EXPECT_EQ(r.error(), EPERM);

  auto ack_reader = c.reader(4);
  auto ack = testing::error(4, 0);
  EXPECT_TRUE(ack_reader.feed(ack.data(), ack.size()));
  EXPECT_EQ(ack_reader.error(), 0);
}

TEST(BatmanDumpReader, OtherSequenceNumbersAreSkipped) {
  Collect c;
  auto r = c.reader(9);
  auto d = datagram({originator(8, 1), done(8, -ENODEV), originator(9, 2)});
  EXPECT_FALSE(r.feed(d.data(), d.size()));
  ASSERT_EQ(c.entries.size(), 1u);
  EXPECT_EQ(c.entries[0].orig[5], 2);
}

TEST(BatmanDumpReader, TruncatedDatagramIsMalformed) {
  Collect c;
  auto r = c.reader(5);
  auto d = datagram({originator(5, 1), originator(5, 2)});
  d.resize(d.size() - 10);  // the second message is cut
  EXPECT_TRUE(r.feed(d.data(), d.size()));
  EXPECT_EQ(r.error(), EBADMSG);
  EXPECT_NE(r.malformed().find("do not form a netlink message"), std::string::npos);
  EXPECT_EQ(c.entries.size(), 1u);
}

TEST(BatmanDumpReader, MalformedEntryIsHandedOnAndTheDumpGoesOn) {
  Collect c;
  auto r = c.reader(6);
  Genl broken(family, cmd_get_originators, 6);
  broken.mac(attr_orig_address, {2, 0, 0, 0, 0, 9});  // no next hop, no metric
  auto d = datagram({broken.bytes(), originator(6, 1), done(6)});
  EXPECT_TRUE(r.feed(d.data(), d.size()));
  EXPECT_EQ(r.error(), 0);
  EXPECT_EQ(c.entries.size(), 1u);
  ASSERT_EQ(c.problems.size(), 1u);
  EXPECT_NE(c.problems[0].find("NEIGH_ADDRESS"), std::string::npos);
}

TEST(BatmanDumpReader, ErrorWithoutCodeIsMalformed) {
  Collect c;
  auto r = c.reader(7);
  Bytes b(NLMSG_HDRLEN, 0);
  auto* h = reinterpret_cast<nlmsghdr*>(b.data());
  h->nlmsg_len = NLMSG_HDRLEN;
  h->nlmsg_type = NLMSG_ERROR;
  h->nlmsg_seq = 7;
  EXPECT_TRUE(r.feed(b.data(), b.size()));
  EXPECT_EQ(r.error(), EBADMSG);
}

TEST(BatmanDumpReader, GarbageNeverCrashes) {
  // Random datagrams, some starting with a plausible header: the reader
  // must end or wait, never read outside the datagram (run under ASan to
  // see the latter).
  std::mt19937 rng(1234);
  for (int round = 0; round < 2000; ++round) {
    Bytes b(rng() % 200);
    for (auto& x : b) x = static_cast<std::uint8_t>(rng());
    if (b.size() >= NLMSG_HDRLEN && round % 2) {
      auto* h = reinterpret_cast<nlmsghdr*>(b.data());
      h->nlmsg_len = static_cast<std::uint32_t>(rng() % (b.size() + 8));
      h->nlmsg_type = family;
      h->nlmsg_seq = 11;
    }
    Collect c;
    auto r = c.reader(11);
    r.feed(b.data(), b.size());
    if (r.finished()) {
      EXPECT_NE(r.error(), 0);
    }
  }
}

}  // namespace
}  // namespace mnigs::batman
