// How a scan turns discovery reports into probes (scanner/targets).
#include "scanner/targets.hpp"

#include <gtest/gtest.h>

namespace mnigs::scan {
namespace {

Candidate candidate(std::string address, std::string node = "", std::uint32_t distance = 0,
                    std::uint16_t port = 0, bool gateway = false) {
  Candidate c;
  c.address = std::move(address);
  c.node = std::move(node);
  c.distance = distance;
  c.port = port;
  c.gateway = gateway;
  return c;
}

Report report(std::string network, std::vector<Candidate> candidates) {
  Report r;
  r.network = std::move(network);
  r.found.candidates = std::move(candidates);
  return r;
}

TEST(ScanPlan, AddressesOfOneNodeAreOneProbeTriedInTurn) {
  auto p = plan({report("babel", {candidate("fd78::3", "id3"), candidate("10.78.0.3", "id3")})},
                {65533});
  ASSERT_EQ(p.targets.size(), 1u);
  // IPv4 first, then routable IPv6.
  EXPECT_EQ(p.targets[0].addresses, (std::vector<std::string>{"10.78.0.3", "fd78::3"}));
  EXPECT_EQ(p.targets[0].port, 65533);
  EXPECT_EQ(p.targets[0].mesh_ids.at("babel"), "id3");
  EXPECT_EQ(p.candidates, 2u);
}

TEST(ScanPlan, NodesReportedByTwoPluginsMergeThroughAnAddress) {
  auto p = plan({report("babel", {candidate("10.78.0.3", "id3"), candidate("fd78::3", "id3")}),
                 report("l2", {candidate("fd78::3", "l2-peer"), candidate("10.77.1.3", "l2-peer")})},
                {65533});
  ASSERT_EQ(p.targets.size(), 1u);
  EXPECT_EQ(p.targets[0].addresses.size(), 3u);
  EXPECT_EQ(p.targets[0].networks, (std::set<std::string>{"babel", "l2"}));
  EXPECT_EQ(p.targets[0].mesh_ids.size(), 2u);
}

TEST(ScanPlan, CandidatesWithoutNodeIdAreNodesOfTheirOwn) {
  auto p = plan({report("static", {candidate("10.0.0.1"), candidate("10.0.0.2")})}, {65533});
  EXPECT_EQ(p.targets.size(), 2u);
}

TEST(ScanPlan, PortZeroMeansEveryScanPortAndAGivenPortOnlyThatOne) {
  auto p = plan({report("static", {candidate("10.0.0.1"), candidate("10.0.0.2", "", 0, 4000)})},
                {65533, 65534});
  ASSERT_EQ(p.targets.size(), 3u);
  std::set<std::pair<std::string, int>> got;
  for (const auto& t : p.targets) got.insert({t.addresses.at(0), t.port});
  EXPECT_EQ(got, (std::set<std::pair<std::string, int>>{
                     {"10.0.0.1", 65533}, {"10.0.0.1", 65534}, {"10.0.0.2", 4000}}));
}

TEST(ScanPlan, NearerNodesComeFirstAndUnknownDistancesLast) {
  auto p = plan({report("babel", {candidate("10.0.0.9", "far", 900), candidate("10.0.0.5", "x"),
                                  candidate("10.0.0.1", "near", 96)})},
                {65533});
  ASSERT_EQ(p.targets.size(), 3u);
  EXPECT_EQ(p.targets[0].addresses[0], "10.0.0.1");
  EXPECT_EQ(p.targets[1].addresses[0], "10.0.0.9");
  EXPECT_EQ(p.targets[2].addresses[0], "10.0.0.5");
}

TEST(ScanPlan, AGatewayHintFromAnyPluginSticks) {
  auto p = plan({report("babel", {candidate("10.0.0.1", "g", 0, 0, true)}),
                 report("static", {candidate("10.0.0.1")})},
                {65533});
  ASSERT_EQ(p.targets.size(), 1u);
  EXPECT_TRUE(p.targets[0].gateway_hint);
}

TEST(ScanPlan, WhatIsNotAnAddressIsRejectedAndNamed) {
  auto p = plan({report("olsr", {candidate("not-an-ip"), candidate("224.0.0.1"),
                                 candidate("0.0.0.0"), candidate("10.0.0.1")})},
                {65533});
  EXPECT_EQ(p.targets.size(), 1u);
  EXPECT_EQ(p.rejected.size(), 3u);
  EXPECT_EQ(p.rejected[0], "olsr: not-an-ip");
}

TEST(ScanPlan, LinkLocalNeedsAZoneAndComesLast) {
  auto p = plan({report("l2", {candidate("fe80::1", "a"), candidate("fe80::2%lo", "b"),
                               candidate("10.0.0.2", "b")})},
                {65533});
  ASSERT_EQ(p.targets.size(), 1u);  // fe80::1 without a zone cannot be reached
  EXPECT_EQ(p.targets[0].addresses, (std::vector<std::string>{"10.0.0.2", "fe80::2%lo"}));
  EXPECT_EQ(p.rejected.size(), 1u);
}

TEST(ScanPlan, V4MappedAddressesAreWrittenAsIpv4) {
  auto p = plan({report("static", {candidate("::ffff:10.0.0.7")})}, {65533});
  ASSERT_EQ(p.targets.size(), 1u);
  EXPECT_EQ(p.targets[0].addresses[0], "10.0.0.7");
}

TEST(ScanPlan, NothingReportedIsAnEmptyPlan) {
  auto p = plan({}, {65533});
  EXPECT_TRUE(p.targets.empty());
  EXPECT_EQ(p.candidates, 0u);
}

}  // namespace
}  // namespace mnigs::scan
