// What babeld's state says about the mesh: nodes by router id, their
// addresses, gateways, links, and how add/change/flush lines fold in. The
// states are dumps and monitor streams captured from babeld 1.12.1 on three
// namespaces in a line, leaf - relay - gateway (see testdata/README.md).
#include "table.hpp"

#include <gtest/gtest.h>

#include <algorithm>

#include "test_support.hpp"

namespace mnigs::babel::testing {
namespace {

const std::string kLeaf = "34:fe:83:e7:11:bf:b5:d2";     // 10.99.0.1, fd99::1
const std::string kRelay = "dc:ee:12:bc:f9:5f:03:a8";    // 10.99.0.2, fd99::2
const std::string kGateway = "b8:d8:5c:4f:2e:89:d5:19";  // 10.99.0.3, fd99::3, default routes

void fold_in(Table& table, const std::vector<std::string>& lines) {
  for (const auto& line : lines) {
    auto parsed = parse_line(line);
    ASSERT_TRUE(std::holds_alternative<Update>(parsed)) << line;
    table.apply(std::get<Update>(parsed));
  }
}

void fold_in(Table& table, const std::string& line) {
  fold_in(table, std::vector<std::string>{line});
}

Table table_of(const std::string& name) {
  Table t;
  fold_in(t, load(name).dump);
  return t;
}

std::vector<std::string> addresses(const View& v, const std::string& id) {
  std::vector<std::string> out;
  for (const auto& c : v.candidates())
    if (c.node == id) out.push_back(c.address);
  return out;
}

TEST(BabelTable, RelayKnowsBothNeighboursAndTheGateway) {
  auto table = table_of("dump_relay.txt");
  EXPECT_EQ(table.routes(), 12u);
  EXPECT_EQ(table.neighbours(), 2u);
  EXPECT_EQ(table.xroutes(), 2u);
  auto v = table.view(kRelay);

  ASSERT_EQ(v.nodes.size(), 2u);
  EXPECT_EQ(addresses(v, kLeaf), (std::vector<std::string>{"10.99.0.1", "fd99::1"}));
  EXPECT_EQ(addresses(v, kGateway), (std::vector<std::string>{"10.99.0.3", "fd99::3"}));
  auto candidates = v.candidates();
  ASSERT_EQ(candidates.size(), 4u);
  for (const auto& c : candidates) {
    EXPECT_EQ(c.detail, "babel route");
    EXPECT_EQ(c.port, 0);
    // The installed route (96), not the longer way round (288).
    EXPECT_EQ(c.distance, 96u);
    EXPECT_EQ(c.gateway, c.node == kGateway) << c.address;
  }
  EXPECT_EQ(v.gateways(), 1u);
  EXPECT_EQ(v.probeable(), 2u);

  // Each neighbour's router id comes from the routes it announces with refmetric 0.
  ASSERT_EQ(v.links.size(), 2u);
  for (const auto& l : v.links) {
    EXPECT_EQ(l.from, "");
    EXPECT_EQ(l.cost, 96u);
  }
  std::vector<std::string> to{v.links[0].to, v.links[1].to};
  std::sort(to.begin(), to.end());
  EXPECT_EQ(to, (std::vector<std::string>{kLeaf, kGateway}));
}

TEST(BabelTable, LeafSeesTheGatewayTwoHopsAwayAndOnlyItsNeighbourAsLink) {
  auto v = table_of("dump_leaf.txt").view(kLeaf);
  auto candidates = v.candidates();
  ASSERT_EQ(candidates.size(), 4u);
  // Nearest first: the relay (96) before the gateway (192).
  EXPECT_EQ(candidates[0].node, kRelay);
  EXPECT_EQ(candidates[0].distance, 96u);
  EXPECT_FALSE(candidates[0].gateway);
  EXPECT_EQ(candidates[3].node, kGateway);
  EXPECT_EQ(candidates[3].distance, 192u);
  EXPECT_TRUE(candidates[3].gateway);
  ASSERT_EQ(v.links.size(), 1u);
  EXPECT_EQ(v.links[0].to, kRelay);
  EXPECT_EQ(v.links[0].cost, 96u);
}

TEST(BabelTable, OwnRoutesAreNotCandidates) {
  // The gateway's own default routes and addresses are xroutes: not nodes.
  auto table = table_of("dump_gateway.txt");
  EXPECT_EQ(table.xroutes(), 4u);
  auto v = table.view(kGateway);
  EXPECT_EQ(v.gateways(), 0u);
  ASSERT_EQ(v.nodes.size(), 2u);
  EXPECT_TRUE(v.nodes.count(kLeaf));
  EXPECT_TRUE(v.nodes.count(kRelay));
  for (const auto& c : v.candidates()) {
    EXPECT_NE(c.address, "10.99.0.3");
    EXPECT_NE(c.address, "fd99::3");
  }
}

TEST(BabelTable, RepeatedChangesFoldIntoOneEntryLastWins) {
  auto table = table_of("dump_leaf.txt");
  const std::string change =
      "change route 564a90d12ff0 prefix 10.99.0.2/32 from 0.0.0.0/0 installed yes id " + kRelay +
      " metric ";
  const std::string tail = " refmetric 0 via fe80::244a:13ff:fef5:d00d if vab";
  for (int metric : {100, 120, 300, 130}) fold_in(table, change + std::to_string(metric) + tail);
  EXPECT_EQ(table.routes(), 6u);
  auto v = table.view(kLeaf);
  // fd99::2 still comes at 96: the best metric of the node.
  EXPECT_EQ(v.nodes.at(kRelay).distance, 96u);
  fold_in(table, "change route 564a90d12f00 prefix fd99::2/128 from ::/0 installed yes id " +
                     kRelay + " metric 110 refmetric 0 via fe80::244a:13ff:fef5:d00d if vab");
  EXPECT_EQ(table.view(kLeaf).nodes.at(kRelay).distance, 110u);
}

TEST(BabelTable, GatewayRestartRetractsThenReturnsUnderANewRouterId) {
  // The leaf's monitor stream while the gateway's babeld restarts (babeld
  // picked a new random router id). The stream is folded onto the dump.
  auto t = load("monitor_gateway_restart.txt");
  Table table;
  fold_in(table, t.dump);
  auto before = table.view(kLeaf);
  ASSERT_TRUE(before.nodes.count(kGateway));

  // First the retractions: every route of the gateway at metric 65535.
  auto first_new = std::find_if(t.after.begin(), t.after.end(), [](const std::string& l) {
    return l.find("04:6f:55:44:b2:70:80:e6") != std::string::npos;
  });
  ASSERT_NE(first_new, t.after.end());
  fold_in(table, std::vector<std::string>(t.after.begin(), first_new));
  auto during = table.view(kLeaf);
  EXPECT_FALSE(during.nodes.count(kGateway));
  EXPECT_EQ(during.gateways(), 0u);
  EXPECT_EQ(addresses(during, kRelay), (std::vector<std::string>{"10.99.0.2", "fd99::2"}));
  EXPECT_FALSE(during.same_members(before));
  EXPECT_EQ(table.routes(), 6u);  // retracted, not yet flushed

  fold_in(table, std::vector<std::string>(first_new, t.after.end()));
  auto after = table.view(kLeaf);
  EXPECT_EQ(table.routes(), 6u);
  EXPECT_FALSE(after.nodes.count(kGateway));
  const std::string fresh = "04:6f:55:44:b2:70:80:e6";
  ASSERT_TRUE(after.nodes.count(fresh));
  EXPECT_TRUE(after.nodes.at(fresh).gateway);
  EXPECT_EQ(addresses(after, fresh), (std::vector<std::string>{"10.99.0.3", "fd99::3"}));
}

TEST(BabelTable, RelayLossFlushesItsRoutesAndNeighbour) {
  // The leaf's stream while the relay's babeld stops, is flushed, and comes
  // back (again with a new router id).
  auto t = load("monitor_relay_restart.txt");
  Table table;
  fold_in(table, t.dump);
  auto flushed = std::find_if(t.after.begin(), t.after.end(), [](const std::string& l) {
    return l.rfind("flush neighbour", 0) == 0;
  });
  ASSERT_NE(flushed, t.after.end());
  fold_in(table, std::vector<std::string>(t.after.begin(), flushed + 1));
  EXPECT_EQ(table.routes(), 0u);
  EXPECT_EQ(table.neighbours(), 0u);
  EXPECT_TRUE(table.view(kLeaf).nodes.empty());
  EXPECT_TRUE(table.view(kLeaf).links.empty());

  fold_in(table, std::vector<std::string>(flushed + 1, t.after.end()));
  auto v = table.view(kLeaf);
  const std::string relay = "04:c5:19:6c:64:8a:f1:e3", gateway = "88:9f:e9:50:38:ee:bd:b4";
  EXPECT_EQ(addresses(v, relay), (std::vector<std::string>{"10.99.0.2", "fd99::2"}));
  EXPECT_EQ(addresses(v, gateway), (std::vector<std::string>{"10.99.0.3", "fd99::3"}));
  EXPECT_TRUE(v.nodes.at(gateway).gateway);
  ASSERT_EQ(v.links.size(), 1u);
  EXPECT_EQ(v.links[0].to, relay);
}

TEST(BabelTable, FlushOfAnUnknownHandleIsHarmless) {
  auto table = table_of("dump_leaf.txt");
  fold_in(table, "flush route deadbeef");
  fold_in(table, "flush neighbour deadbeef");
  EXPECT_EQ(table.routes(), 6u);
  EXPECT_EQ(table.neighbours(), 1u);
}

// Routes the captures do not show, written in babeld's format.
std::string route(const std::string& handle, const std::string& prefix, const std::string& from,
                  const std::string& id, int metric, int refmetric = 96,
                  const std::string& via = "fe80::1") {
  return "add route " + handle + " prefix " + prefix + " from " + from + " installed yes id " + id +
         " metric " + std::to_string(metric) + " refmetric " + std::to_string(refmetric) + " via " +
         via + " if eth0";
}

const std::string kA = "02:00:00:00:00:00:00:0a";
const std::string kB = "02:00:00:00:00:00:00:0b";
const std::string kMe = "02:00:00:00:00:00:00:01";

TEST(BabelTable, GatewayWithoutAnAddressIsCountedButNotACandidate) {
  Table table;
  fold_in(table, route("1", "::/0", "::/0", kA, 300));
  fold_in(table, route("2", "10.1.0.0/16", "0.0.0.0/0", kA, 300));
  auto v = table.view(kMe);
  EXPECT_EQ(v.gateways(), 1u);
  EXPECT_EQ(v.unreachable_gateways(), std::vector<std::string>{kA});
  EXPECT_TRUE(v.candidates().empty());
  EXPECT_EQ(v.probeable(), 0u);
}

TEST(BabelTable, SourceSpecificRoutes) {
  Table table;
  // A source-specific default route still means Internet access (for
  // addresses of that prefix): a gateway.
  fold_in(table, route("1", "::/0", "2001:db8::/48", kA, 300));
  fold_in(table, route("2", "fd00::a/128", "::/0", kA, 300));
  // A source-specific host route is not how the node is reached by anyone.
  fold_in(table, route("3", "fd00::b/128", "2001:db8::/48", kB, 200));
  auto v = table.view(kMe);
  EXPECT_TRUE(v.nodes.at(kA).gateway);
  EXPECT_EQ(addresses(v, kA), std::vector<std::string>{"fd00::a"});
  EXPECT_FALSE(v.nodes.count(kB));
}

TEST(BabelTable, NoCandidatesForUnprobeableAddressesOrOurselves) {
  Table table;
  fold_in(table, route("1", "fe80::5/128", "::/0", kA, 100));  // needs a zone
  fold_in(table, route("2", "224.0.0.1/32", "0.0.0.0/0", kA, 100));
  fold_in(table, route("3", "10.0.0.9/32", "0.0.0.0/0", kMe, 100));    // a route back to us
  fold_in(table, route("4", "10.0.0.10/32", "0.0.0.0/0", kB, 65535));  // retracted
  EXPECT_TRUE(table.view(kMe).candidates().empty());
}

TEST(BabelTable, LinkCostIsTheNeighboursCostOrElseTheRouteMetric) {
  Table table;
  fold_in(table, "add neighbour n1 address fe80::1 if eth0 reach ffff");  // no cost (old babeld)
  fold_in(table,
          "add neighbour n2 address fe80::2 if eth0 reach ffff rxcost 96 txcost 96 cost 200");
  // Lost: babeld says so with an infinite cost before it flushes the neighbour.
  fold_in(table,
          "add neighbour n3 address fe80::3 if eth0 reach 0000 rxcost 65535 txcost 96 cost 65535");
  fold_in(table, route("1", "10.0.0.1/32", "0.0.0.0/0", kA, 150, 0, "fe80::1"));
  fold_in(table, route("2", "10.0.0.2/32", "0.0.0.0/0", kB, 400, 0, "fe80::2"));
  fold_in(table,
          route("3", "10.0.0.3/32", "0.0.0.0/0", kMe.substr(0, 22) + "3", 500, 0, "fe80::3"));
  auto v = table.view(kMe);
  ASSERT_EQ(v.links.size(), 2u);
  EXPECT_EQ(v.links[0].to, kA);
  EXPECT_EQ(v.links[0].cost, 150u);
  EXPECT_EQ(v.links[1].to, kB);
  EXPECT_EQ(v.links[1].cost, 200u);
}

TEST(BabelTable, MembersIgnoreMetricsButNotAddressesOrGateways) {
  Table table;
  fold_in(table, route("1", "10.0.0.1/32", "0.0.0.0/0", kA, 100));
  auto base = table.view(kMe);
  fold_in(table, route("1", "10.0.0.1/32", "0.0.0.0/0", kA, 500));
  EXPECT_TRUE(table.view(kMe).same_members(base));
  fold_in(table, route("2", "fd00::1/128", "::/0", kA, 500));
  auto more = table.view(kMe);
  EXPECT_FALSE(more.same_members(base));
  fold_in(table, route("3", "0.0.0.0/0", "0.0.0.0/0", kA, 500));
  EXPECT_FALSE(table.view(kMe).same_members(more));
}

}  // namespace
}  // namespace mnigs::babel::testing
