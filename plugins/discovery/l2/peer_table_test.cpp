// The peer table: what a heard announcement adds or changes, when a silent
// peer is forgotten, and what the scanner is told.
#include "peer_table.hpp"

#include <gtest/gtest.h>

namespace mnigs::l2 {
namespace {

using namespace std::chrono_literals;

Announcement announcement(std::string id, std::vector<std::string> addresses, int interval = 5) {
  Announcement a;
  a.node_id = std::move(id);
  a.interval = interval;
  a.addresses = std::move(addresses);
  return a;
}

const std::string kA = "aaaaaaaaaaaaaaaa";
const std::string kB = "bbbbbbbbbbbbbbbb";

TEST(L2PeerTable, TellsNewChangedAndRefreshedPeersApart) {
  PeerTable t;
  const auto t0 = Clock::time_point{} + 1000s;
  EXPECT_EQ(t.heard(announcement(kA, {"10.0.0.2"}), "eth0", "fe80::2%eth0", t0),
            PeerTable::Change::added);
  EXPECT_EQ(t.heard(announcement(kA, {"10.0.0.2"}), "eth0", "fe80::2%eth0", t0 + 5s),
            PeerTable::Change::refreshed);
  // Another source address, same announced addresses: nothing a scan uses changed.
  EXPECT_EQ(t.heard(announcement(kA, {"10.0.0.2"}), "eth0", "fd00::2", t0 + 6s),
            PeerTable::Change::refreshed);
  // Without announced addresses the source is what a scan uses.
  EXPECT_EQ(t.heard(announcement(kB, {}), "eth0", "fe80::3%eth0", t0 + 6s),
            PeerTable::Change::added);
  EXPECT_EQ(t.heard(announcement(kB, {}), "eth0", "fe80::4%eth0", t0 + 7s),
            PeerTable::Change::changed);
  EXPECT_EQ(t.heard(announcement(kA, {"10.0.0.2", "fd00::2"}), "eth0", "fe80::2%eth0", t0 + 10s),
            PeerTable::Change::changed);
  // Heard on a second interface: the same node, seen from there too.
  EXPECT_EQ(t.heard(announcement(kA, {"10.1.0.2"}), "eth1", "fe80::2%eth1", t0 + 15s),
            PeerTable::Change::new_link);
  EXPECT_EQ(t.heard(announcement(kA, {"10.0.0.2", "fd00::2"}), "eth0", "fe80::2%eth0", t0 + 15s),
            PeerTable::Change::refreshed);
  EXPECT_EQ(t.size(), 2u);
}

TEST(L2PeerTable, ForgetsAPeerAfterThreeOfItsIntervals) {
  PeerTable t;
  const auto t0 = Clock::time_point{} + 1000s;
  t.heard(announcement(kA, {"10.0.0.2"}, 5), "eth0", "fe80::2%eth0", t0);
  t.heard(announcement(kB, {"10.0.0.3"}, 1), "eth0", "fe80::3%eth0", t0);
  EXPECT_EQ(t.next_expiry(), t0 + 3s);
  EXPECT_TRUE(t.expire(t0 + 3s).gone.empty());  // exactly at its holdtime it is still there
  EXPECT_EQ(t.expire(t0 + 3s + 1ms).gone, std::vector<std::string>{kB});
  EXPECT_EQ(t.next_expiry(), t0 + 15s);
  // Hearing it again starts its holdtime afresh.
  t.heard(announcement(kA, {"10.0.0.2"}, 5), "eth0", "fe80::2%eth0", t0 + 14s);
  EXPECT_TRUE(t.expire(t0 + 20s).gone.empty());
  EXPECT_EQ(t.expire(t0 + 29s + 1ms).gone, std::vector<std::string>{kA});
  EXPECT_EQ(t.size(), 0u);
  EXPECT_FALSE(t.next_expiry());
}

TEST(L2PeerTable, AConfiguredHoldtimeOverridesTheAnnouncedInterval) {
  PeerTable t(7s);
  const auto t0 = Clock::time_point{} + 1000s;
  t.heard(announcement(kA, {}, 60), "eth0", "fe80::2%eth0", t0);
  EXPECT_EQ(t.next_expiry(), t0 + 7s);
  EXPECT_EQ(t.expire(t0 + 8s).gone, std::vector<std::string>{kA});
}

TEST(L2PeerTable, EachInterfaceAgesOnItsOwn) {
  PeerTable t;
  const auto t0 = Clock::time_point{} + 1000s;
  t.heard(announcement(kA, {"10.0.0.2"}, 1), "eth0", "fe80::2%eth0", t0);
  t.heard(announcement(kA, {"10.1.0.2"}, 1), "eth1", "fe80::2%eth1", t0 + 2s);
  EXPECT_EQ(t.discovery(t0 + 2s).candidates.size(), 2u);
  PeerTable::Expiry e = t.expire(t0 + 4s);
  EXPECT_TRUE(e.gone.empty());
  EXPECT_TRUE(e.changed);
  Discovery d = t.discovery(t0 + 4s);
  ASSERT_EQ(d.candidates.size(), 1u);
  EXPECT_EQ(d.candidates[0].address, "10.1.0.2");
  EXPECT_EQ(t.next_expiry(), t0 + 5s);
  e = t.expire(t0 + 6s);
  EXPECT_EQ(e.gone, std::vector<std::string>{kA});
}

TEST(L2PeerTable, SilentPeersAreNotReportedEvenBeforeTheyAreRemoved) {
  PeerTable t;
  const auto t0 = Clock::time_point{} + 1000s;
  t.heard(announcement(kA, {"10.0.0.2"}, 1), "eth0", "fe80::2%eth0", t0);
  EXPECT_EQ(t.live(t0 + 2s).size(), 1u);
  EXPECT_TRUE(t.live(t0 + 4s).empty());
  EXPECT_TRUE(t.discovery(t0 + 4s).candidates.empty());
}

TEST(L2PeerTable, ReportsEveryAnnouncedAddressAsOneHopCandidatesOfTheNode) {
  PeerTable t;
  const auto t0 = Clock::time_point{} + 1000s;
  t.heard(announcement(kA, {"10.0.0.2", "fd00::2"}), "br-lan", "fe80::2%br-lan", t0);
  t.heard(announcement(kB, {}), "wlan0", "fe80::3%wlan0", t0);
  Discovery d = t.discovery(t0);
  ASSERT_EQ(d.candidates.size(), 3u);
  EXPECT_EQ(d.candidates[0].address, "10.0.0.2");
  EXPECT_EQ(d.candidates[1].address, "fd00::2");
  for (int i : {0, 1}) {
    EXPECT_EQ(d.candidates[i].node, kA);
    EXPECT_EQ(d.candidates[i].detail, "l2 br-lan");
  }
  // No address announced: its link-local source, with the zone to reach it.
  EXPECT_EQ(d.candidates[2].address, "fe80::3%wlan0");
  EXPECT_EQ(d.candidates[2].node, kB);
  EXPECT_EQ(d.candidates[2].detail, "l2 wlan0");
  for (const auto& c : d.candidates) {
    EXPECT_EQ(c.port, 0);  // every daemon.scanports port
    EXPECT_EQ(c.distance, 1u);
    EXPECT_FALSE(c.gateway);
  }
  ASSERT_EQ(d.links.size(), 2u);
  EXPECT_EQ(d.links[0].from, "");
  EXPECT_EQ(d.links[0].to, kA);
  EXPECT_EQ(d.links[1].from, "");
  EXPECT_EQ(d.links[1].to, kB);
  EXPECT_EQ(d.error, "");
}

TEST(L2PeerTable, MadeUpIdsBeyondTheCapAreRefusedAndKnownNodesStillRefresh) {
  PeerTable table({}, 16);
  const auto now = Clock::now();
  for (int i = 0; i < 1000; ++i) {  // a flood of ids from one station
    Announcement a;
    a.node_id = "made-up-" + std::to_string(i);
    a.interval = 5;
    const auto change = table.heard(a, "eth0", "fe80::66%eth0", now);
    EXPECT_EQ(change, i < 16 ? PeerTable::Change::added : PeerTable::Change::refused) << i;
  }
  EXPECT_EQ(table.size(), 16u);
  EXPECT_EQ(table.refused(), 984u);
  Announcement known;
  known.node_id = "made-up-3";
  known.interval = 5;
  EXPECT_EQ(table.heard(known, "eth0", "fe80::66%eth0", now + std::chrono::seconds(1)),
            PeerTable::Change::refreshed);
  // Once some are forgotten (15 s: three of their 5 s intervals), new nodes
  // get in again.
  table.expire(now + std::chrono::seconds(16));
  EXPECT_EQ(table.size(), 1u);
  Announcement fresh;
  fresh.node_id = "real-node";
  fresh.interval = 5;
  EXPECT_EQ(table.heard(fresh, "eth0", "fe80::1%eth0", now + std::chrono::seconds(16)),
            PeerTable::Change::added);
}

}  // namespace
}  // namespace mnigs::l2
