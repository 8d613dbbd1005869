// From batman-adv's tables to candidates and links.
#include "batadv.hpp"
#include "mesh_view.hpp"

#include <gtest/gtest.h>

#include <linux/neighbour.h>

#include <algorithm>

namespace mnigs::batman {
namespace {

const Mac a{0x02, 0, 0, 0, 0, 0x0a}, b{0x02, 0, 0, 0, 0, 0x0b}, c{0x02, 0, 0, 0, 0, 0x0c};
const Mac a_mesh{0x36, 0x11, 0x22, 0x33, 0x44, 0x0a};  // a's bat0 MAC
constexpr int bat0 = 7;

OriginatorEntry orig(Mac o, Mac via, std::uint8_t tq, bool best = true, std::uint32_t seen = 100) {
  OriginatorEntry e;
  e.orig = o;
  e.neigh = via;
  e.tq = tq;
  e.best = best;
  e.last_seen_ms = seen;
  e.hard_ifindex = 3;
  return e;
}

NeighbourEntry neigh(const std::string& address, Mac lladdr, bool link_local = false,
                     int ifindex = bat0) {
  NeighbourEntry n;
  n.address = address;
  n.link_local = link_local;
  n.lladdr = lladdr;
  n.ifindex = ifindex;
  n.state = NUD_REACHABLE;
  return n;
}

ViewOptions options() {
  ViewOptions o;
  o.zone = "bat0";
  o.zone_ifindex = bat0;
  return o;
}

std::vector<std::string> addresses_of(const MeshView& v, const std::string& node) {
  std::vector<std::string> out;
  for (const auto& cand : v.discovery.candidates)
    if (cand.node == node) out.push_back(cand.address);
  return out;
}

TEST(BatmanMeshView, Eui64LinkLocal) {
  EXPECT_EQ(link_local_of({0x00, 0x11, 0x22, 0x33, 0x44, 0x55}, "bat0"),
            "fe80::211:22ff:fe33:4455%bat0");
  // The U/L bit of a locally administered MAC goes to 0.
  EXPECT_EQ(link_local_of({0x02, 0x00, 0x00, 0x00, 0x00, 0x01}, "bat0"), "fe80::ff:fe00:1%bat0");
  EXPECT_EQ(link_local_of({0xfe, 0xff, 0xff, 0xff, 0xff, 0xff}, ""),
            "fe80::fcff:ffff:feff:ffff");
  EXPECT_EQ(format_mac({0x02, 0xab, 0, 1, 0xcd, 0xef}), "02:ab:00:01:cd:ef");
}

TEST(BatmanMeshView, Distances) {
  EXPECT_EQ(metric_distance(std::uint8_t{255}, std::nullopt), 1u);
  EXPECT_EQ(metric_distance(std::uint8_t{0}, std::nullopt), 256u);
  EXPECT_LT(metric_distance(std::uint8_t{200}, std::nullopt),
            metric_distance(std::uint8_t{100}, std::nullopt));
  EXPECT_EQ(metric_distance(std::nullopt, 1'000'000u), 10u);  // 1 Gbit/s
  EXPECT_EQ(metric_distance(std::nullopt, 100'000u), 100u);   // 100 Mbit/s
  EXPECT_EQ(metric_distance(std::nullopt, 0u), 10'000'000u);
  EXPECT_EQ(metric_distance(std::nullopt, 4'000'000'000u), 1u);
  EXPECT_EQ(metric_distance(std::nullopt, std::nullopt), 0u);
  EXPECT_EQ(format_bandwidth(100, 25), "10.0/2.5 Mbit/s");
}

TEST(BatmanMeshView, DirectAndIndirectOriginators) {
  Snapshot s;
  // a: direct (best via itself), also known via b. c: only via b.
  s.originators = {orig(a, b, 180, false), orig(a, a, 230), orig(b, b, 250),
                   orig(c, b, 150)};
  auto v = build_view(s, options());
  ASSERT_EQ(v.nodes.size(), 3u);
  // Nearest first: b (TQ 250), a (230), c (150).
  EXPECT_EQ(v.nodes[0].orig, b);
  EXPECT_EQ(v.nodes[1].orig, a);
  EXPECT_EQ(v.nodes[2].orig, c);
  EXPECT_TRUE(v.nodes[1].direct);
  EXPECT_FALSE(v.nodes[2].direct);
  EXPECT_EQ(v.nodes[2].nexthop, b);
  EXPECT_EQ(v.metric, "tq");

  ASSERT_EQ(v.discovery.candidates.size(), 3u);  // one EUI-64 guess each
  const auto& first = v.discovery.candidates[0];
  EXPECT_EQ(first.node, "02:00:00:00:00:0b");
  EXPECT_EQ(first.address, "fe80::ff:fe00:b%bat0");
  EXPECT_EQ(first.distance, 6u);
  EXPECT_EQ(first.port, 0);
  EXPECT_FALSE(first.gateway);
  EXPECT_NE(first.detail.find("batman-adv originator 02:00:00:00:00:0b (TQ 250, direct)"),
            std::string::npos)
      << first.detail;
  EXPECT_EQ(v.discovery.candidates[1].distance, 26u);  // a through its best entry, not 76

  // Links only to the direct neighbours, from "" (this node).
  ASSERT_EQ(v.discovery.links.size(), 2u);
  EXPECT_EQ(v.discovery.links[0].from, "");
  EXPECT_EQ(v.discovery.links[0].to, "02:00:00:00:00:0b");
  EXPECT_EQ(v.discovery.links[0].cost, 6u);
  EXPECT_EQ(v.discovery.links[1].to, "02:00:00:00:00:0a");
  EXPECT_TRUE(v.discovery.error.empty());
}

TEST(BatmanMeshView, ThroughputMetric) {
  Snapshot s;
  OriginatorEntry fast = orig(a, a, 0), slow = orig(b, a, 0);
  fast.tq.reset();
  slow.tq.reset();
  fast.throughput_kbps = 300'000;
  slow.throughput_kbps = 6'000;
  s.originators = {slow, fast};
  auto v = build_view(s, options());
  EXPECT_EQ(v.metric, "throughput");
  ASSERT_EQ(v.nodes.size(), 2u);
  EXPECT_EQ(v.nodes[0].orig, a);
  EXPECT_EQ(v.nodes[0].distance, 34u);   // ceil(10^7 / 300000)
  EXPECT_EQ(v.nodes[1].distance, 1667u);  // ceil(10^7 / 6000)
  EXPECT_NE(v.discovery.candidates[0].detail.find("300000 kbit/s"), std::string::npos);
}

TEST(BatmanMeshView, GatewaysAreFlagged) {
  Snapshot s;
  s.originators = {orig(a, a, 230), orig(b, b, 200)};
  GatewayEntry g;
  g.orig = b;
  g.router = b;
  g.down = 500;
  g.up = 100;
  g.best = true;
  s.gateways = {g};
  auto v = build_view(s, options());
  for (const auto& cand : v.discovery.candidates)
    EXPECT_EQ(cand.gateway, cand.node == "02:00:00:00:00:0b") << cand.node;
  auto it = std::find_if(v.nodes.begin(), v.nodes.end(), [](auto& n) { return n.orig == b; });
  ASSERT_TRUE(it->gateway);
  EXPECT_EQ(it->gateway->down, 500u);
  auto cand = std::find_if(v.discovery.candidates.begin(), v.discovery.candidates.end(),
                           [](auto& x) { return x.gateway; });
  EXPECT_NE(cand->detail.find("gateway 50.0/10.0 Mbit/s"), std::string::npos) << cand->detail;
}

TEST(BatmanMeshView, GatewayWithoutOriginatorIsLeftOut) {
  Snapshot s;
  s.originators = {orig(a, a, 230)};
  GatewayEntry g;
  g.orig = c;
  g.router = a;
  s.gateways = {g};
  auto v = build_view(s, options());
  for (const auto& cand : v.discovery.candidates) EXPECT_FALSE(cand.gateway);
  EXPECT_EQ(addresses_of(v, "02:00:00:00:00:0c").size(), 0u);
}

TEST(BatmanMeshView, NeighboursMapThroughTheTranslationTable) {
  Snapshot s;
  s.originators = {orig(a, a, 230), orig(b, b, 200)};
  ClientEntry own;  // a's bat0 MAC, announced by a
  own.client = a_mesh;
  own.orig = a;
  own.best = true;
  s.clients = {own};
  s.neighbours = {neigh("10.0.0.10", a_mesh),
                  neigh("fe80::3411:22ff:fe33:440a", a_mesh, true),
                  neigh("10.0.0.11", b),                         // lladdr is b's originator MAC
                  neigh("10.0.0.99", {2, 9, 9, 9, 9, 9}),        // nobody we know
                  neigh("10.9.9.9", a_mesh, false, bat0 + 1)};   // another interface
  auto v = build_view(s, options());
  EXPECT_EQ(addresses_of(v, "02:00:00:00:00:0a"),
            (std::vector<std::string>{"fe80::ff:fe00:a%bat0", "10.0.0.10",
                                      "fe80::3411:22ff:fe33:440a%bat0"}));
  EXPECT_EQ(addresses_of(v, "02:00:00:00:00:0b"),
            (std::vector<std::string>{"10.0.0.11", "fe80::ff:fe00:b%bat0"}));
  for (const auto& cand : v.discovery.candidates) EXPECT_NE(cand.address, "10.0.0.99");

  ViewOptions without = options();
  without.use_clients = false;
  auto plain = build_view(s, without);
  EXPECT_EQ(addresses_of(plain, "02:00:00:00:00:0a"),
            (std::vector<std::string>{"fe80::ff:fe00:a%bat0"}));
}

TEST(BatmanMeshView, LinkLocalGuessesFromAnnouncedMacs) {
  Snapshot s;
  s.originators = {orig(a, a, 230)};
  ClientEntry own;
  own.client = a_mesh;
  own.orig = a;
  own.best = true;
  s.clients = {own};
  auto v = build_view(s, options());
  EXPECT_EQ(addresses_of(v, "02:00:00:00:00:0a"),
            (std::vector<std::string>{"fe80::ff:fe00:a%bat0", "fe80::3411:22ff:fe33:440a%bat0"}));

  // A node bridging a LAN announces many MACs: no guesses from them.
  for (std::uint8_t i = 1; i <= 5; ++i) {
    ClientEntry lan;
    lan.client = {0x0a, 0, 0, 0, 1, i};
    lan.orig = a;
    lan.best = true;
    s.clients.push_back(lan);
  }
  auto bridged = build_view(s, options());
  EXPECT_EQ(addresses_of(bridged, "02:00:00:00:00:0a"),
            (std::vector<std::string>{"fe80::ff:fe00:a%bat0"}));
  EXPECT_EQ(bridged.nodes[0].clients.size(), 6u);

  ViewOptions more = options();
  more.link_local_guesses = 6;
  EXPECT_EQ(addresses_of(build_view(s, more), "02:00:00:00:00:0a").size(), 7u);
}

TEST(BatmanMeshView, TranslationEntriesThatAreNotNodesAreIgnored) {
  Snapshot s;
  s.originators = {orig(a, a, 230)};
  auto entry = [](Mac client, std::uint32_t flags) {
    ClientEntry e;
    e.client = client;
    e.orig = a;
    e.flags = flags;
    e.best = true;
    return e;
  };
  s.clients = {entry({0x33, 0x33, 0, 0, 0, 1}, 0),  // IPv6 multicast MAC
               entry({0x0a, 0, 0, 0, 0, 1}, batadv::tt_client_wifi),
               entry({0x0a, 0, 0, 0, 0, 2}, batadv::tt_client_roam),
               entry({0x0a, 0, 0, 0, 0, 3}, batadv::tt_client_temp),
               entry({0x0a, 0, 0, 0, 0, 4}, 0)};
  auto v = build_view(s, options());
  ASSERT_EQ(v.nodes[0].clients.size(), 1u);
  EXPECT_EQ(v.nodes[0].clients[0], (Mac{0x0a, 0, 0, 0, 0, 4}));
}

TEST(BatmanMeshView, ClientAnnouncedByTwoOriginatorsGoesToTheBestOne) {
  Snapshot s;
  s.originators = {orig(a, a, 230), orig(b, b, 200)};
  ClientEntry via_a, via_b;
  via_a.client = via_b.client = a_mesh;
  via_a.orig = a;
  via_b.orig = b;
  via_b.best = true;
  s.clients = {via_a, via_b};
  s.neighbours = {neigh("10.0.0.10", a_mesh)};
  auto v = build_view(s, options());
  auto on_b = addresses_of(v, "02:00:00:00:00:0b");
  EXPECT_NE(std::find(on_b.begin(), on_b.end(), "10.0.0.10"), on_b.end());
  auto on_a = addresses_of(v, "02:00:00:00:00:0a");
  EXPECT_EQ(std::find(on_a.begin(), on_a.end(), "10.0.0.10"), on_a.end());
}

TEST(BatmanMeshView, StaleOriginatorsAreLeftOut) {
  Snapshot s;
  s.originators = {orig(a, a, 230, true, 2000), orig(b, b, 230, true, 90'000)};
  ViewOptions o = options();
  o.max_last_seen_ms = 60'000;
  auto v = build_view(s, o);
  ASSERT_EQ(v.nodes.size(), 1u);
  EXPECT_EQ(v.nodes[0].orig, a);
  o.max_last_seen_ms = 0;
  EXPECT_EQ(build_view(s, o).nodes.size(), 2u);
}

TEST(BatmanMeshView, EmptyMesh) {
  auto v = build_view(Snapshot{}, options());
  EXPECT_TRUE(v.nodes.empty());
  EXPECT_TRUE(v.discovery.candidates.empty());
  EXPECT_TRUE(v.discovery.links.empty());
  EXPECT_EQ(v.metric, "");
}

}  // namespace
}  // namespace mnigs::batman
