// From cjdroute's routing table and peer list to candidates and links.
#include "nodes.hpp"

#include <gtest/gtest.h>

#include <map>

#include "real_replies.hpp"

namespace mnigs::cjdns {
namespace {

using bencode::Value;

// Real cjdns keys (their addresses are in fc00::/8).
const std::string kSelf = "nrjgkkj95zb3thx1uctcurrtu6jl4c71bgl9pm4ydtvsfshltr50.k";
const std::string kA = "dyh3fhkhmmx25f02bblyx80ydc3s3xsxtcrh957c1jy94yvfxc01.k";
const std::string kAIp = "fc72:f475:6337:b8c8:3d2c:70ec:f0dd:064a";
const std::string kB = "t3ddmq078szxu2crkmw5slsxzlbd88mq4qfgh794l7nkgvsfj220.k";
const std::string kBIp = "fca3:ec6f:0518:6803:1692:79c6:cba4:b92e";
const std::string kC = "p2kvsthsc29rxzb89b4qnr94q1qv21nln1xg36vszcndntg4ry90.k";
const std::string kCIp = "fc05:1e75:998f:415a:1564:e3ec:cf43:3087";
const std::string kD = "m2ynbz7vxvbph8w5vvf6uqz9dchgftm06hnz9su868x9hkmsp7s0.k";
const std::string kE = "n448g7wkb16u8k3jl5t5zkbnzuf6vdz1py0pfnpd7xy48zpks671.k";

Value entry(const std::string& ip, const std::string& key, const std::string& path) {
  auto e = Value::dict();
  if (!ip.empty()) e.d["ip"] = Value::string(ip);
  if (!key.empty()) e.d["addr"] = Value::string("v20." + path + "." + key);
  if (!path.empty()) e.d["path"] = Value::string(path);
  e.d["link"] = Value::integer(1000);
  e.d["version"] = Value::integer(20);
  e.d["time"] = Value::integer(1234);
  e.d["bucket"] = Value::integer(3);
  return e;
}

Value peer(const std::string& key, const std::string& path, const std::string& state) {
  auto p = Value::dict();
  p.d["addr"] = Value::string("v20." + path + "." + key);
  p.d["state"] = Value::string(state);
  p.d["bytesIn"] = Value::integer(10);
  p.d["isIncoming"] = Value::integer(0);
  return p;
}

std::map<std::string, Candidate> by_address(const NodesFound& f) {
  std::map<std::string, Candidate> out;
  for (const auto& c : f.candidates) out[c.address] = c;
  return out;
}

std::vector<Value> real_entries(const std::string& folder, const std::vector<std::string>& files,
                                const std::string& list) {
  std::vector<Value> out;
  for (const auto& f : files) {
    const Value reply = real_reply(folder + "/" + f);
    const Value* items = reply.find(list);
    EXPECT_TRUE(items && items->is_list()) << f;
    if (items) out.insert(out.end(), items->l.begin(), items->l.end());
  }
  return out;
}

TEST(CjdnsNodes, TheRealHubsTableAndPeersBecomeCandidatesAndLinks) {
  auto found = interpret(
      real_entries("hub",
                   {"02-NodeStore_dumpTable-page0.reply", "04-NodeStore_dumpTable-page1.reply",
                    "06-NodeStore_dumpTable-page2.reply"},
                   "routingTable"),
      real_entries("hub",
                   {"08-InterfaceController_peerStats-page0.reply",
                    "10-InterfaceController_peerStats-page1.reply"},
                   "peers"));
  EXPECT_TRUE(found.skipped.empty()) << found.skipped.front();
  // Eight nodes in the table, one of them the hub itself.
  ASSERT_EQ(found.candidates.size(), 7u);
  EXPECT_EQ(found.peers, 7u);
  EXPECT_EQ(found.links.size(), 7u);
  auto c = by_address(found);
  EXPECT_EQ(c.count("fc56:5631:3328:c14d:4bb2:b127:10fd:d1a4"), 0u) << "the hub itself";
  const Candidate& n1 = c.at("fc3e:2811:616b:c082:7713:a358:bd7c:ba5f");
  EXPECT_EQ(n1.node, "0m6tyygyjblluf8pmj29gz2s4bv9rm0q6z6pvk1g6k203yy27sn0.k");
  EXPECT_EQ(n1.detail, "cjdns nodestore");
  for (const auto& cand : found.candidates) EXPECT_EQ(cand.address.rfind("fc", 0), 0u);
}

TEST(CjdnsNodes, TheRealLeafListsItselfMidTableAndIsLeftOut) {
  auto found = interpret(
      real_entries("leaf",
                   {"02-NodeStore_dumpTable-page0.reply", "04-NodeStore_dumpTable-page1.reply",
                    "06-NodeStore_dumpTable-page2.reply"},
                   "routingTable"),
      real_entries("leaf", {"08-InterfaceController_peerStats-page0.reply"}, "peers"));
  EXPECT_TRUE(found.skipped.empty()) << found.skipped.front();
  ASSERT_EQ(found.candidates.size(), 7u);
  ASSERT_EQ(found.links.size(), 1u) << "the leaf's one peer is the hub";
  EXPECT_EQ(found.links[0].to, "268x7kchpc8shm6hqqqm5tjy69m9l7zx96pnm572m7hmtwln8j30.k");
  for (const auto& cand : found.candidates)
    EXPECT_NE(cand.node, "5xhjwy6mzfp754k1v12uuwkkdtuvfdhfqjf0l4ugzmytgzsvd9q0.k") << "the leaf";
}

TEST(CjdnsNodes, RoutingTableBecomesCandidates) {
  auto found = interpret(
      {
          entry("fc5c:afd5:da49:0bc6:88ba:7327:e665:ae01", kSelf, "0000.0000.0000.0001"),
          entry(kAIp, kA, "0000.0000.0000.0013"),
          entry(kBIp, "", "0000.0000.0000.0555"),  // an old cjdroute: ip and path only
          entry("", kC, "0000.0000.0001.5553"),    // no ip: derived from the key
      },
      {});
  EXPECT_TRUE(found.skipped.empty()) << found.skipped.front();
  auto c = by_address(found);
  ASSERT_EQ(c.size(), 3u) << "this node itself (label 1) is not a candidate";
  EXPECT_EQ(c.count("fc5c:afd5:da49:bc6:88ba:7327:e665:ae01"), 0u);

  const Candidate& a = c.at("fc72:f475:6337:b8c8:3d2c:70ec:f0dd:64a");
  EXPECT_EQ(a.node, kA);
  EXPECT_EQ(a.detail, "cjdns nodestore");
  EXPECT_EQ(a.port, 0) << "every daemon.scanports port";
  EXPECT_FALSE(a.gateway) << "cjdns has no notion of gateways";
  EXPECT_EQ(a.distance, 4u);

  const Candidate& b = c.at("fca3:ec6f:518:6803:1692:79c6:cba4:b92e");
  EXPECT_EQ(b.node, b.address) << "no key in the entry: the address names the node";

  const Candidate& cc = c.at("fc05:1e75:998f:415a:1564:e3ec:cf43:3087");
  EXPECT_EQ(cc.node, kC);
  EXPECT_EQ(cc.distance, 16u);

  // Nearest first.
  ASSERT_EQ(found.candidates.size(), 3u);
  EXPECT_EQ(found.candidates[0].node, kA);
  EXPECT_EQ(found.candidates[2].node, kC);
  EXPECT_TRUE(found.links.empty());
}

TEST(CjdnsNodes, OneCandidatePerAddressAtItsShortestPath) {
  auto found = interpret(
      {entry(kAIp, kA, "0000.0000.0001.5553"), entry(kAIp, kA, "0000.0000.0000.0013")}, {});
  ASSERT_EQ(found.candidates.size(), 1u);
  EXPECT_EQ(found.candidates[0].distance, 4u);
}

TEST(CjdnsNodes, EstablishedPeersAreLinksAndCandidates) {
  auto found = interpret({entry(kAIp, kA, "0000.0000.0000.0013")},
                         {
                             peer(kA, "0000.0000.0000.0013", "ESTABLISHED"),
                             peer(kD, "0000.0000.0000.0015", "ESTABLISHED"),
                             peer(kD, "0000.0000.0000.0017", "ESTABLISHED"),  // second interface
                             peer(kE, "0000.0000.0000.0019", "UNRESPONSIVE"),
                         });
  EXPECT_TRUE(found.skipped.empty());
  EXPECT_EQ(found.peers, 2u);
  ASSERT_EQ(found.links.size(), 2u);
  EXPECT_EQ(found.links[0].from, "");
  EXPECT_EQ(found.links[0].to, kA);
  EXPECT_EQ(found.links[1].to, kD);

  auto c = by_address(found);
  ASSERT_EQ(c.size(), 2u) << "the unresponsive peer is left out";
  EXPECT_EQ(c.at("fc72:f475:6337:b8c8:3d2c:70ec:f0dd:64a").detail, "cjdns nodestore");
  const Candidate& d = c.at("fca0:8e3d:fb56:cdd8:739c:46fe:70c9:3d75");
  EXPECT_EQ(d.node, kD) << "a peer's address comes from its key";
  EXPECT_EQ(d.detail, "cjdns peer");
}

TEST(CjdnsNodes, ReadsOlderPeerStats) {
  auto old = Value::dict();
  old.d["publicKey"] = Value::string(kB);
  old.d["switchLabel"] = Value::string("0000.0000.0000.0015");
  old.d["state"] = Value::string("ESTABLISHED");
  auto found = interpret({}, {old});
  ASSERT_EQ(found.candidates.size(), 1u);
  EXPECT_EQ(found.candidates[0].address, "fca3:ec6f:518:6803:1692:79c6:cba4:b92e");
  EXPECT_EQ(found.links.size(), 1u);
}

TEST(CjdnsNodes, MalformedEntriesAreSkippedWithAReason) {
  auto wrong_type = Value::integer(5);
  auto found = interpret(
      {
          wrong_type, entry("fd00::1", "", "0000.0000.0000.0013"),  // not fc00::/8
          entry("not-an-ip", "", ""),                               // not an address
          entry(kBIp, kA, "0000.0000.0000.0013"),                   // ip of another key
          entry(kAIp, "", "0000.0000.0000.001"),                    // bad path
          entry("", "", "0000.0000.0000.0013"),                     // nothing to go by
          entry("", "zzzz.k", "0000.0000.0000.0013"),               // bad key
          entry(kAIp, kA, "0000.0000.0000.0013"),                   // good
      },
      {Value::string("x"), peer("bad.k", "0000.0000.0000.0013", "ESTABLISHED"), Value::dict()});
  ASSERT_EQ(found.candidates.size(), 1u);
  EXPECT_EQ(found.candidates[0].node, kA);
  ASSERT_EQ(found.skipped.size(), 10u);
  EXPECT_EQ(found.skipped[0], "routing table: an entry that is not a dictionary");
  EXPECT_NE(found.skipped[1].find("is not an fc00::/8 address"), std::string::npos);
  EXPECT_NE(found.skipped[3].find("does not belong to key"), std::string::npos) << found.skipped[3];
  EXPECT_NE(found.skipped[4].find("is not a switch label"), std::string::npos);
  EXPECT_EQ(found.skipped[7], "peers: a peer that is not a dictionary");
  EXPECT_EQ(found.skipped[9], "peers: a peer without a \"state\"");
  EXPECT_TRUE(found.links.empty());
}

}  // namespace
}  // namespace mnigs::cjdns
