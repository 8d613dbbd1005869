// Which gateways a node links to when httptunnel.gateways is empty.
#include "found.hpp"

#include <gtest/gtest.h>

namespace mnigs::httptunnel {
namespace {

Json::Value gateway(const std::string& address, bool announces, bool current = true) {
  Json::Value g(Json::objectValue);
  g["address"] = address;
  g["port"] = 65533;
  g["current"] = current;
  g["age"] = 10;
  g["services"] = Json::Value(Json::objectValue);
  if (announces) g["services"]["httptunnel"] = "http://" + address + ":8080/";
  return g;
}

std::vector<std::string> hosts(const std::vector<Endpoint>& v) {
  std::vector<std::string> out;
  for (const auto& e : v) out.push_back(e.host + ":" + std::to_string(e.port));
  return out;
}

TEST(ChooseGateways, OnlyThoseThatAnnounceHttpTunnelsBestFirst) {
  Json::Value list(Json::arrayValue);
  list.append(gateway("10.0.0.1", false));                 // no httptunnel
  list.append(gateway("10.0.0.2", true, false));           // not seen lately
  Json::Value tested = gateway("10.0.0.3", true);
  tested["score"] = 4.5;
  list.append(tested);
  Json::Value better = gateway("10.0.0.4", true);
  better["score"] = 1.5;
  list.append(better);
  list.append(gateway("fd00::5", true));  // untested, seen lately
  using V = std::vector<std::string>;
  EXPECT_EQ(hosts(choose_gateways(list, 2)), (V{"10.0.0.4:65533", "10.0.0.3:65533"}));
  EXPECT_EQ(hosts(choose_gateways(list, 10)),
            (V{"10.0.0.4:65533", "10.0.0.3:65533", "fd00::5:65533", "10.0.0.2:65533"}));
  EXPECT_TRUE(choose_gateways(list, 0).empty());
}

// An offer alone anyone may publish, with any "current" and score: a
// gateway a scan reached comes first.
TEST(ChooseGateways, ThoseAScanReachedComeFirst) {
  Json::Value list(Json::arrayValue);
  Json::Value offered = gateway("10.0.0.1", true);
  offered["source"] = "dht";
  offered["score"] = 0.1;
  list.append(offered);
  Json::Value scanned = gateway("10.0.0.2", true, false);
  scanned["source"] = "scan";
  list.append(scanned);
  Json::Value both = gateway("10.0.0.3", true, false);
  both["source"] = "scan+dht";
  both["score"] = 9;
  list.append(both);
  using V = std::vector<std::string>;
  EXPECT_EQ(hosts(choose_gateways(list, 3)),
            (V{"10.0.0.3:65533", "10.0.0.2:65533", "10.0.0.1:65533"}));
}

// Links in use stay while their gateway still announces tunnels and they
// are not failing; the rest is filled best first.
TEST(KeepOrChoose, LinksInUseStayUnlessGoneOrFailing) {
  const Endpoint a{"10.0.0.1", 1}, b{"10.0.0.2", 1}, c{"10.0.0.3", 1}, d{"10.0.0.4", 1};
  using V = std::vector<std::string>;
  // c is linked and ranked last: it stays, with the best other.
  EXPECT_EQ(hosts(keep_or_choose({a, b, c}, {c}, {}, 2)), (V{"10.0.0.3:1", "10.0.0.1:1"}));
  // d no longer announces tunnels: it goes.
  EXPECT_EQ(hosts(keep_or_choose({a, b, c}, {d, c}, {}, 2)), (V{"10.0.0.3:1", "10.0.0.1:1"}));
  // c fails: the next best takes its place.
  EXPECT_EQ(hosts(keep_or_choose({a, b, c}, {c, a}, {c}, 2)), (V{"10.0.0.1:1", "10.0.0.2:1"}));
  // Failing ones rather than none.
  EXPECT_EQ(hosts(keep_or_choose({a}, {a}, {a}, 2)), (V{"10.0.0.1:1"}));
  EXPECT_TRUE(keep_or_choose({}, {a}, {}, 2).empty());
  EXPECT_EQ(hosts(keep_or_choose({a, b}, {b, a}, {}, 1)), (V{"10.0.0.2:1"}));
}

TEST(ChooseGateways, MalformedEntriesAreLeftOutAndDuplicatesCountOnce) {
  Json::Value list(Json::arrayValue);
  list.append(Json::Value("10.0.0.9"));
  Json::Value no_address = gateway("", true);
  list.append(no_address);
  Json::Value name = gateway("gw.example", true);  // a name, not an address
  list.append(name);
  Json::Value port = gateway("10.0.0.7", true);
  port["port"] = 70000;
  list.append(port);
  Json::Value text_port = gateway("10.0.0.7", true);
  text_port["port"] = "65533";
  list.append(text_port);
  Json::Value services_list = gateway("10.0.0.8", true);
  services_list["services"] = Json::Value(Json::arrayValue);
  list.append(services_list);
  list.append(gateway("fe80::1%eth0", true));
  list.append(gateway("10.0.0.6", true));
  list.append(gateway("10.0.0.6", true));
  using V = std::vector<std::string>;
  EXPECT_EQ(hosts(choose_gateways(list, 5)), (V{"10.0.0.6:65533", "fe80::1%eth0:65533"}));
  EXPECT_TRUE(choose_gateways(Json::Value(Json::objectValue), 5).empty());
}

}  // namespace
}  // namespace mnigs::httptunnel
