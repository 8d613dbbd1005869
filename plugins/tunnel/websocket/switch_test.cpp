// Unit tests of the vpn-ws compatible layer-2 switch: each forwarding rule,
// each drop verdict, MAC learning behind bridges, and that route() does not
// allocate.
#include "switch.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <list>
#include <new>
#include <random>

// Counts every allocation of the test binary, so a test can check that
// route() makes none.
namespace {
std::atomic<std::size_t> g_allocations{0};
}  // namespace

// GCC sees malloc in the replaced new and free in the replaced delete and
// warns wherever both are inlined; they do match.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
void* operator new(std::size_t size) {
  ++g_allocations;
  if (void* p = std::malloc(size ? size : 1)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
#pragma GCC diagnostic pop

namespace mnigs::websocket {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using Peers = std::vector<PeerId>;

const Mac kA = *parse_mac("02:00:00:00:00:0a");
const Mac kB = *parse_mac("02:00:00:00:00:0b");
const Mac kC = *parse_mac("02:00:00:00:00:0c");
const Mac kX = *parse_mac("02:00:00:00:00:01");  // stations behind bridges
const Mac kY = *parse_mac("02:00:00:00:00:02");
const Mac kBroadcast = *parse_mac("ff:ff:ff:ff:ff:ff");
const Mac kMdns4 = *parse_mac("01:00:5e:00:00:fb");
const Mac kAllNodes6 = *parse_mac("33:33:00:00:00:01");
const Mac kStp = *parse_mac("01:80:c2:00:00:00");

// An Ethernet frame: dst, src, EtherType IPv4, a few payload bytes.
std::vector<std::uint8_t> eth(const Mac& dst, const Mac& src, std::size_t payload = 46) {
  std::vector<std::uint8_t> f(dst.bytes.begin(), dst.bytes.end());
  f.insert(f.end(), src.bytes.begin(), src.bytes.end());
  f.push_back(0x08);
  f.push_back(0x00);
  f.resize(14 + payload, 0xee);
  return f;
}

class SwitchTest : public ::testing::Test {
 protected:
  explicit SwitchTest(Switch::Options o = {}) : sw(o) {}

  Verdict route(PeerId from, const Mac& dst, const Mac& src) {
    return sw.route(from, eth(dst, src), now, out);
  }
  std::size_t count(Verdict v) { return sw.status(now).verdicts[static_cast<std::size_t>(v)]; }

  Switch sw;
  Clock::time_point now = Clock::time_point{} + 1000s;
  Peers out;
};

// ---- forwarding ----

TEST_F(SwitchTest, UnicastGoesToTheOwnerOfTheDestination) {
  sw.add_peer(1, kA, false);
  sw.add_peer(2, kB, false);
  sw.add_peer(3, kC, false);
  EXPECT_EQ(route(1, kB, kA), Verdict::forwarded);
  EXPECT_EQ(out, Peers{2});
  EXPECT_EQ(route(3, kA, kC), Verdict::forwarded);
  EXPECT_EQ(out, Peers{1});
}

TEST_F(SwitchTest, BroadcastAndIpMulticastGoToEveryOtherPeer) {
  sw.add_peer(1, kA, false);
  sw.add_peer(2, kB, false);
  sw.add_peer(3, std::nullopt, true);
  sw.add_peer(4, std::nullopt, false);  // not heard from yet: still reachable by floods
  for (const Mac& dst : {kBroadcast, kMdns4, kAllNodes6, kStp}) {
    EXPECT_EQ(route(1, dst, kA), Verdict::flooded) << to_string(dst);
    EXPECT_EQ(out, (Peers{2, 3, 4})) << to_string(dst);
  }
}

TEST_F(SwitchTest, UnknownUnicastGoesToEveryBridgeButTheSender) {
  sw.add_peer(1, kA, false);
  sw.add_peer(2, kB, true);
  sw.add_peer(3, kC, false);
  sw.add_peer(4, std::nullopt, true);
  EXPECT_EQ(route(1, kX, kA), Verdict::flooded);
  EXPECT_EQ(out, (Peers{2, 4}));
  EXPECT_EQ(route(2, kX, kB), Verdict::flooded);
  EXPECT_EQ(out, Peers{4});
}

TEST_F(SwitchTest, FirstFrameGivesAPeerWithoutHeaderItsMac) {
  sw.add_peer(1, kA, false);
  sw.add_peer(2, std::nullopt, false);
  EXPECT_EQ(route(1, kB, kA), Verdict::no_destination);  // nobody owns kB yet
  EXPECT_EQ(route(2, kBroadcast, kB), Verdict::flooded);
  EXPECT_EQ(sw.owner(kB, now), PeerId{2});
  EXPECT_EQ(route(1, kB, kA), Verdict::forwarded);
  EXPECT_EQ(out, Peers{2});
  // From now on the peer is held to it.
  EXPECT_EQ(route(2, kA, kC), Verdict::spoofed);
  EXPECT_EQ(route(2, kA, kB), Verdict::forwarded);
}

// ---- drops ----

TEST_F(SwitchTest, ShortFramesAreDropped) {
  sw.add_peer(1, kA, false);
  sw.add_peer(2, kB, false);
  auto f = eth(kB, kA, 0);
  ASSERT_EQ(f.size(), 14u);
  EXPECT_EQ(sw.route(1, f, now, out), Verdict::forwarded);
  f.pop_back();
  EXPECT_EQ(sw.route(1, f, now, out), Verdict::too_short);
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(sw.route(1, {}, now, out), Verdict::too_short);
}

TEST_F(SwitchTest, GroupOrZeroSourcesAreDropped) {
  sw.add_peer(1, std::nullopt, false);
  sw.add_peer(2, kB, true);
  for (const Mac& src : {kBroadcast, kMdns4, kAllNodes6, Mac{}}) {
    EXPECT_EQ(route(1, kB, src), Verdict::bad_source) << to_string(src);
    EXPECT_EQ(route(2, kA, src), Verdict::bad_source) << to_string(src);
  }
  // None of them became peer 1's MAC or was learned.
  EXPECT_FALSE(sw.status(now).peers[0].mac);
  EXPECT_EQ(sw.status(now).learned, 0u);
}

TEST_F(SwitchTest, StationSendingFromAnotherMacIsSpoofed) {
  sw.add_peer(1, kA, false);
  sw.add_peer(2, kB, false);
  EXPECT_EQ(route(1, kB, kC), Verdict::spoofed);
  EXPECT_TRUE(out.empty());
  EXPECT_FALSE(sw.owner(kC, now));
}

TEST_F(SwitchTest, BridgeSendingFromAnotherPeersOwnMacIsSpoofed) {
  sw.add_peer(1, kA, false);
  sw.add_peer(2, kB, true);
  EXPECT_EQ(route(2, kBroadcast, kA), Verdict::spoofed);
  EXPECT_EQ(sw.owner(kA, now), PeerId{1});
}

TEST_F(SwitchTest, FramesToTheSenderItselfAreDropped) {
  sw.add_peer(1, kA, false);
  sw.add_peer(2, kB, true);
  EXPECT_EQ(route(1, kA, kA), Verdict::to_self);  // dst == src
  EXPECT_EQ(route(2, kB, kX), Verdict::to_self);  // to the bridge's own MAC
  EXPECT_EQ(route(2, kX, kY), Verdict::to_self);  // kX was just learned behind 2
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(count(Verdict::to_self), 3u);
}

TEST_F(SwitchTest, UnknownUnicastWithoutBridgesHasNoDestination) {
  sw.add_peer(1, kA, false);
  sw.add_peer(2, kB, false);
  EXPECT_EQ(route(1, kC, kA), Verdict::no_destination);
  EXPECT_EQ(route(1, Mac{}, kA), Verdict::no_destination);
  EXPECT_TRUE(out.empty());
}

TEST_F(SwitchTest, ZeroDestinationIsNotSentToBridges) {
  sw.add_peer(1, kA, false);
  sw.add_peer(2, kB, true);
  EXPECT_EQ(route(1, Mac{}, kA), Verdict::no_destination);
}

TEST_F(SwitchTest, UnknownPeer) {
  sw.add_peer(1, kA, false);
  EXPECT_EQ(route(9, kA, kB), Verdict::unknown_peer);
  sw.remove_peer(1);
  EXPECT_EQ(route(1, kB, kA), Verdict::unknown_peer);
  EXPECT_EQ(count(Verdict::unknown_peer), 2u);
}

class BroadcastOff : public SwitchTest {
 protected:
  BroadcastOff() : SwitchTest(Switch::Options{.flood_broadcast = false}) {}
};

TEST_F(BroadcastOff, OnlyBroadcastIsHeldBack) {
  sw.add_peer(1, kA, false);
  sw.add_peer(2, kB, false);
  EXPECT_EQ(route(1, kBroadcast, kA), Verdict::flood_disabled);
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(route(1, kMdns4, kA), Verdict::flooded);
  EXPECT_EQ(out, Peers{2});
}

class MulticastOff : public SwitchTest {
 protected:
  MulticastOff() : SwitchTest(Switch::Options{.flood_multicast = false}) {}
};

TEST_F(MulticastOff, EveryGroupAddressButBroadcastIsHeldBack) {
  sw.add_peer(1, kA, false);
  sw.add_peer(2, kB, false);
  for (const Mac& dst : {kMdns4, kAllNodes6, kStp}) {
    EXPECT_EQ(route(1, dst, kA), Verdict::flood_disabled) << to_string(dst);
  }
  EXPECT_EQ(route(1, kBroadcast, kA), Verdict::flooded);
  EXPECT_EQ(out, Peers{2});
}

// ---- learning behind bridges ----

TEST_F(SwitchTest, BridgeSourcesAreLearnedAndReachable) {
  sw.add_peer(1, kA, false);
  sw.add_peer(2, kB, true);
  sw.add_peer(3, kC, true);
  EXPECT_EQ(route(2, kA, kX), Verdict::forwarded);
  EXPECT_EQ(out, Peers{1});
  EXPECT_EQ(sw.owner(kX, now), PeerId{2});
  // Now known: no longer flooded to every bridge.
  EXPECT_EQ(route(1, kX, kA), Verdict::forwarded);
  EXPECT_EQ(out, Peers{2});
  const auto st = sw.status(now);
  EXPECT_EQ(st.learned, 1u);
  EXPECT_EQ(st.peers[1].learned, 1u);
  EXPECT_EQ(st.peers[2].learned, 0u);
}

TEST_F(SwitchTest, BridgeWithoutHeaderMacLearnsItsFirstSourceToo) {
  sw.add_peer(1, kA, false);
  sw.add_peer(2, std::nullopt, true);
  EXPECT_EQ(route(2, kA, kX), Verdict::forwarded);
  EXPECT_EQ(route(2, kA, kY), Verdict::forwarded);  // a bridge is not held to one source
  EXPECT_EQ(sw.owner(kX, now), PeerId{2});
  EXPECT_EQ(sw.owner(kY, now), PeerId{2});
  EXPECT_FALSE(sw.status(now).peers[1].mac);
  EXPECT_EQ(sw.status(now).peers[1].learned, 2u);
}

TEST_F(SwitchTest, LearnedMacMovesToTheBridgeLastHeardFrom) {
  sw.add_peer(1, kA, false);
  sw.add_peer(2, kB, true);
  sw.add_peer(3, kC, true);
  route(2, kA, kX);
  route(3, kA, kX);
  EXPECT_EQ(sw.owner(kX, now), PeerId{3});
  EXPECT_EQ(route(1, kX, kA), Verdict::forwarded);
  EXPECT_EQ(out, Peers{3});
  const auto st = sw.status(now);
  EXPECT_EQ(st.learned, 1u);
  EXPECT_EQ(st.peers[1].learned, 0u);
  EXPECT_EQ(st.peers[2].learned, 1u);
}

TEST_F(SwitchTest, StationClaimingALearnedMacTakesIt) {
  sw.add_peer(1, kA, true);
  route(1, kBroadcast, kX);
  ASSERT_EQ(sw.owner(kX, now), PeerId{1});
  sw.add_peer(2, kX, false);
  EXPECT_EQ(sw.owner(kX, now), PeerId{2});
  EXPECT_EQ(sw.status(now).learned, 0u);
  // And the bridge can no longer speak for it.
  EXPECT_EQ(route(1, kBroadcast, kX), Verdict::spoofed);
}

class SmallTable : public SwitchTest {
 protected:
  SmallTable() : SwitchTest(Switch::Options{.max_learned = 3, .learned_ttl = 10s}) {}
  Mac station(int i) { return Mac::from_u64(0x020000000100ull + static_cast<unsigned>(i)); }
};

TEST_F(SmallTable, OldestLearnedMacIsEvictedAtTheCap) {
  sw.add_peer(1, kA, true);
  sw.add_peer(2, kB, false);
  for (int i = 1; i <= 3; ++i) {
    route(1, kB, station(i));
    now += 1s;
  }
  route(1, kB, station(1));  // heard again: now the newest
  now += 1s;
  route(1, kB, station(4));  // evicts station 2, the least recently heard
  EXPECT_EQ(sw.owner(station(1), now), PeerId{1});
  EXPECT_FALSE(sw.owner(station(2), now));
  EXPECT_EQ(sw.owner(station(3), now), PeerId{1});
  EXPECT_EQ(sw.owner(station(4), now), PeerId{1});
  EXPECT_EQ(sw.status(now).learned, 3u);
  EXPECT_EQ(sw.status(now).peers[0].learned, 3u);
}

TEST_F(SmallTable, LearnedMacsExpire) {
  sw.add_peer(1, kA, true);
  sw.add_peer(2, kB, false);
  sw.add_peer(3, kC, true);
  route(1, kB, kX);
  now += 5s;
  route(1, kB, kY);
  now += 6s;  // kX last heard 11 s ago, kY 6 s ago
  EXPECT_FALSE(sw.owner(kX, now));
  EXPECT_EQ(sw.owner(kY, now), PeerId{1});
  EXPECT_EQ(sw.status(now).learned, 1u);
  // Expired means unknown again: flooded to the bridges.
  EXPECT_EQ(route(2, kX, kB), Verdict::flooded);
  EXPECT_EQ(out, (Peers{1, 3}));
  now += 5s;
  EXPECT_EQ(sw.expire(now), 1u);  // kY
  EXPECT_EQ(sw.status(now).learned, 0u);
  // Heard again: learned afresh.
  route(3, kB, kX);
  EXPECT_EQ(sw.owner(kX, now), PeerId{3});
}

TEST_F(SmallTable, ExpiredEntriesMakeRoomBeforeLiveOnesAreEvicted) {
  sw.add_peer(1, kA, true);
  sw.add_peer(2, kB, false);
  route(1, kB, station(1));
  route(1, kB, station(2));
  now += 8s;
  route(1, kB, station(3));
  now += 3s;  // 1 and 2 expired, 3 live
  route(1, kB, station(4));
  route(1, kB, station(5));
  EXPECT_EQ(sw.owner(station(3), now), PeerId{1});
  EXPECT_EQ(sw.owner(station(4), now), PeerId{1});
  EXPECT_EQ(sw.owner(station(5), now), PeerId{1});
}

class NoLearning : public SwitchTest {
 protected:
  NoLearning() : SwitchTest(Switch::Options{.max_learned = 0}) {}
};

TEST_F(NoLearning, BridgesStillForwardAndReceiveUnknownUnicast) {
  sw.add_peer(1, kA, false);
  sw.add_peer(2, kB, true);
  EXPECT_EQ(route(2, kA, kX), Verdict::forwarded);
  EXPECT_FALSE(sw.owner(kX, now));
  EXPECT_EQ(route(1, kX, kA), Verdict::flooded);
  EXPECT_EQ(out, Peers{2});
}

// ---- peers coming and going ----

TEST_F(SwitchTest, RemovedPeerTakesItsMacsAlong) {
  sw.add_peer(1, kA, false);
  sw.add_peer(2, kB, true);
  sw.add_peer(3, kC, true);
  route(2, kA, kX);
  route(2, kA, kY);
  sw.remove_peer(2);
  EXPECT_FALSE(sw.owner(kB, now));
  EXPECT_FALSE(sw.owner(kX, now));
  EXPECT_FALSE(sw.owner(kY, now));
  EXPECT_EQ(sw.status(now).learned, 0u);
  EXPECT_EQ(route(1, kX, kA), Verdict::flooded);  // to the remaining bridge
  EXPECT_EQ(out, Peers{3});
  EXPECT_EQ(route(1, kBroadcast, kA), Verdict::flooded);
  EXPECT_EQ(out, Peers{3});
  sw.remove_peer(3);
  EXPECT_EQ(route(1, kX, kA), Verdict::no_destination);
  sw.remove_peer(42);  // unknown: ignored
}

TEST_F(SwitchTest, NewestClaimOfAMacWinsAndTheOlderGetsItBack) {
  sw.add_peer(1, kA, false);
  sw.add_peer(2, kB, false);
  sw.add_peer(3, kA, false);  // the client reconnected; 1 has not timed out yet
  EXPECT_EQ(route(2, kA, kB), Verdict::forwarded);
  EXPECT_EQ(out, Peers{3});
  sw.remove_peer(3);
  EXPECT_EQ(route(2, kA, kB), Verdict::forwarded);
  EXPECT_EQ(out, Peers{1});
  sw.remove_peer(1);
  EXPECT_EQ(route(2, kA, kB), Verdict::no_destination);
}

TEST_F(SwitchTest, OldOwnerRemovedAfterTakeoverLeavesTheNewOneAlone) {
  sw.add_peer(1, kA, false);
  sw.add_peer(2, kB, false);
  sw.add_peer(3, kA, false);
  sw.remove_peer(1);
  EXPECT_EQ(sw.owner(kA, now), PeerId{3});
}

TEST_F(SwitchTest, AddingAnExistingIdReplacesThePeer) {
  sw.add_peer(1, kA, true);
  route(1, kBroadcast, kX);
  sw.add_peer(1, kB, false);
  EXPECT_FALSE(sw.owner(kA, now));
  EXPECT_FALSE(sw.owner(kX, now));
  EXPECT_EQ(sw.owner(kB, now), PeerId{1});
  EXPECT_EQ(sw.status(now).peers.size(), 1u);
}

// ---- the gateway's own port (reserved) ----
//
// Peer 0 is the gateway's tap: a bridge whose own MAC is kG, reserved.

const Mac kG = *parse_mac("02:00:00:00:00:99");

TEST_F(SwitchTest, NoStationClaimsTheGatewaysMacByHeader) {
  sw.add_peer(0, kG, true, true);
  sw.add_peer(1, kA, false);
  sw.add_peer(2, kG, false);  // X-vpn-ws-MAC: the gateway's
  EXPECT_EQ(sw.owner(kG, now), PeerId{0});
  // Its frames from that MAC are spoofed; frames to it still reach the gateway.
  EXPECT_EQ(route(2, kA, kG), Verdict::spoofed);
  EXPECT_EQ(route(1, kG, kA), Verdict::forwarded);
  EXPECT_EQ(out, Peers{0});
  // The gateway's frames to the would-be impostor's claim go nowhere near it.
  EXPECT_EQ(route(0, kA, kG), Verdict::forwarded);
  EXPECT_EQ(out, Peers{1});
}

TEST_F(SwitchTest, NoStationClaimsTheGatewaysMacByItsFirstFrame) {
  sw.add_peer(0, kG, true, true);
  sw.add_peer(1, kA, false);
  sw.add_peer(2, std::nullopt, false);
  EXPECT_EQ(route(2, kBroadcast, kG), Verdict::spoofed);
  EXPECT_EQ(sw.owner(kG, now), PeerId{0});
  EXPECT_EQ(route(1, kG, kA), Verdict::forwarded);
  EXPECT_EQ(out, Peers{0});
  // It may still take a MAC of its own.
  EXPECT_EQ(route(2, kA, kB), Verdict::forwarded);
  EXPECT_EQ(sw.owner(kB, now), PeerId{2});
}

TEST_F(SwitchTest, NoBridgeLearnsTheGatewaysMacsAway) {
  sw.add_peer(0, kG, true, true);
  sw.add_peer(1, kA, false);
  sw.add_peer(2, std::nullopt, true);
  // kX sits behind the gateway's port (a container bridged to its tap).
  EXPECT_EQ(route(0, kA, kX), Verdict::forwarded);
  EXPECT_EQ(sw.owner(kX, now), PeerId{0});
  EXPECT_EQ(route(2, kA, kX), Verdict::spoofed);
  EXPECT_EQ(route(2, kA, kG), Verdict::spoofed);
  EXPECT_EQ(sw.owner(kX, now), PeerId{0});
  EXPECT_EQ(sw.owner(kG, now), PeerId{0});
  EXPECT_EQ(route(1, kX, kA), Verdict::forwarded);
  EXPECT_EQ(out, Peers{0});
  // Nor does a station take it by header.
  sw.add_peer(3, kX, false);
  EXPECT_EQ(sw.owner(kX, now), PeerId{0});
}

TEST_F(SwitchTest, TheGatewaysPortTakesItsMacBackFromAnEarlierClaim) {
  sw.add_peer(1, kG, false);  // connected before the port was added
  sw.add_peer(0, kG, true, true);
  EXPECT_EQ(sw.owner(kG, now), PeerId{0});
  EXPECT_EQ(route(1, kA, kG), Verdict::spoofed);  // not even to send from
  EXPECT_TRUE(out.empty());
  sw.remove_peer(1);
  EXPECT_EQ(sw.owner(kG, now), PeerId{0});
}

TEST_F(SwitchTest, WithoutAReservedPortTheNewestClaimStillWins) {
  sw.add_peer(0, kG, true);  // not reserved
  sw.add_peer(2, kG, false);
  EXPECT_EQ(sw.owner(kG, now), PeerId{2});
}

// ---- status ----

TEST_F(SwitchTest, StatusCountsVerdictsAndPerPeerFrames) {
  sw.add_peer(1, kA, false);
  sw.add_peer(2, kB, true);
  route(1, kB, kA);          // forwarded
  route(1, kBroadcast, kA);  // flooded
  route(1, kB, kC);          // spoofed
  route(2, kA, kX);          // forwarded, kX learned
  const auto st = sw.status(now);
  EXPECT_EQ(st.verdicts[static_cast<std::size_t>(Verdict::forwarded)], 2u);
  EXPECT_EQ(st.verdicts[static_cast<std::size_t>(Verdict::flooded)], 1u);
  EXPECT_EQ(st.verdicts[static_cast<std::size_t>(Verdict::spoofed)], 1u);
  ASSERT_EQ(st.peers.size(), 2u);
  EXPECT_EQ(st.peers[0].id, 1u);
  EXPECT_EQ(st.peers[0].mac, kA);
  EXPECT_FALSE(st.peers[0].bridge);
  EXPECT_EQ(st.peers[0].frames, 3u);
  EXPECT_EQ(st.peers[0].dropped, 1u);
  EXPECT_EQ(st.peers[1].id, 2u);
  EXPECT_TRUE(st.peers[1].bridge);
  EXPECT_EQ(st.peers[1].learned, 1u);
}

TEST(Verdict, Names) {
  const std::pair<Verdict, const char*> names[] = {{Verdict::forwarded, "forwarded"},
                                                   {Verdict::flooded, "flooded"},
                                                   {Verdict::too_short, "too_short"},
                                                   {Verdict::bad_source, "bad_source"},
                                                   {Verdict::spoofed, "spoofed"},
                                                   {Verdict::to_self, "to_self"},
                                                   {Verdict::no_destination, "no_destination"},
                                                   {Verdict::flood_disabled, "flood_disabled"},
                                                   {Verdict::unknown_peer, "unknown_peer"}};
  static_assert(std::size(names) == verdict_count);
  for (const auto& [v, name] : names) EXPECT_STREQ(to_string(v), name);
}

TEST(SwitchChurn, LearnedTableMatchesAnLruModel) {
  // A small pool in a small table: probe chains collide and entries are
  // evicted, moved and erased all the time.
  Switch sw(Switch::Options{.max_learned = 8, .learned_ttl = 1000s});
  const Mac station = *parse_mac("02:00:00:00:00:0a");
  sw.add_peer(1, station, false);
  sw.add_peer(2, std::nullopt, true);
  sw.add_peer(3, std::nullopt, true);
  std::mt19937 rng(99);
  std::list<std::pair<std::uint64_t, PeerId>> lru;  // most recent first
  Clock::time_point now{};
  Peers out;
  for (int step = 0; step < 20000; ++step) {
    const std::uint64_t mac = 0x020000100000ull + rng() % 24;
    const PeerId bridge = 2 + rng() % 2;
    sw.route(bridge, eth(station, Mac::from_u64(mac)), now, out);
    lru.remove_if([&](const auto& e) { return e.first == mac; });
    lru.emplace_front(mac, bridge);
    if (lru.size() > 8) lru.pop_back();
    if (step % 997 == 0) {
      // A bridge leaves and comes back: everything learned for it goes.
      const PeerId gone = 2 + rng() % 2;
      sw.remove_peer(gone);
      sw.add_peer(gone, std::nullopt, true);
      lru.remove_if([&](const auto& e) { return e.second == gone; });
    }
    for (std::uint64_t m = 0x020000100000ull; m < 0x020000100000ull + 24; ++m) {
      const auto it =
          std::find_if(lru.begin(), lru.end(), [&](const auto& e) { return e.first == m; });
      const auto expected = it == lru.end() ? std::nullopt : std::optional<PeerId>(it->second);
      ASSERT_EQ(sw.owner(Mac::from_u64(m), now), expected) << "step " << step << " mac " << m;
    }
    ASSERT_EQ(sw.owner(station, now), PeerId{1});
    now += 1ms;
  }
  EXPECT_EQ(sw.status(now).learned, lru.size());
}

// ---- the hot path ----

TEST_F(SmallTable, RouteDoesNotAllocateOnceWarmedUp) {
  for (PeerId id = 1; id <= 50; ++id)
    sw.add_peer(id, Mac::from_u64(0x020000000000ull + id), id % 10 == 0);
  sw.add_peer(100, std::nullopt, false);
  std::vector<std::vector<std::uint8_t>> frames;
  for (int i = 0; i < 64; ++i) {
    // A bridge inventing sources (learning, moving, evicting), unicast to
    // known and unknown MACs, floods, a peer's first frame.
    frames.push_back(eth(Mac::from_u64(0x020000000000ull + 1 + i % 50), station(i)));
    frames.push_back(eth(kBroadcast, station(i)));
    frames.push_back(eth(station(i + 1), Mac::from_u64(0x020000000000ull + 5)));
  }
  const auto first = eth(kBroadcast, kX);
  out.reserve(64);
  route(1, kBroadcast, Mac::from_u64(0x020000000001ull));  // warm up
  const std::size_t before = g_allocations.load();
  EXPECT_EQ(sw.route(100, first, now, out), Verdict::flooded);
  for (int round = 0; round < 20; ++round) {
    for (std::size_t i = 0; i < frames.size(); ++i) {
      const PeerId from = i % 3 == 2 ? 5 : 10 * (1 + i % 5);
      sw.route(from, frames[i], now, out);
      now += 1s;
    }
  }
  EXPECT_EQ(g_allocations.load() - before, 0u);
  EXPECT_GT(count(Verdict::flooded), 0u);
  EXPECT_GT(count(Verdict::forwarded), 0u);
}

}  // namespace
}  // namespace mnigs::websocket
