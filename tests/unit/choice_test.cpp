// Auto mode's ranking of gateways (core/subscriber/choice.hpp): what it
// leaves out and why, and the order of the rest.
#include "subscriber/choice.hpp"

#include <gtest/gtest.h>

namespace mnigs {
namespace {

Json::Value gateway(const std::string& address, const std::string& name, double rtt,
                    const std::string& suite = "static-forwarding-free") {
  Json::Value g(Json::objectValue);
  g["address"] = address;
  g["name"] = name;
  g["port"] = 65533;
  g["suites"].append(suite);
  g["rtt"] = rtt;
  g["price"] = Json::Value();
  g["current"] = true;
  return g;
}

ChoiceRules rules() {
  ChoiceRules r;
  r.our_suites = {"static-forwarding-free", "static-websocket-free"};
  return r;
}

std::vector<std::string> order(const std::vector<GatewayChoice>& ranked) {
  std::vector<std::string> out;
  for (const auto& c : ranked) out.push_back(c.name);
  return out;
}

TEST(Choice, NearestFirstByTheScansRoundTrip) {
  Json::Value list(Json::arrayValue);
  list.append(gateway("10.0.0.3", "far", 40));
  list.append(gateway("10.0.0.1", "near", 2));
  list.append(gateway("10.0.0.2", "middle", 10));
  EXPECT_EQ(order(rank_gateways(list, rules(), {})),
            (std::vector<std::string>{"near", "middle", "far"}));
}

TEST(Choice, MeasuredRoundTripsAndLossOutweighTheScan) {
  Json::Value list(Json::arrayValue);
  list.append(gateway("10.0.0.1", "a", 2));
  list.append(gateway("10.0.0.2", "b", 10));
  std::map<std::string, GatewayQuality> measured;
  measured["10.0.0.1"] = GatewayQuality{30.0, 0};
  EXPECT_EQ(order(rank_gateways(list, rules(), measured)), (std::vector<std::string>{"b", "a"}));
  measured["10.0.0.1"] = GatewayQuality{1.0, 0};
  measured["10.0.0.2"] = GatewayQuality{1.0, 0.3};  // 30 % loss: 300 ms worse
  EXPECT_EQ(order(rank_gateways(list, rules(), measured)), (std::vector<std::string>{"a", "b"}));
}

TEST(Choice, TheLastStoredTestCountsWhenNothingIsMeasuredThisRun) {
  Json::Value list(Json::arrayValue);
  list.append(gateway("10.0.0.1", "a", 2));
  Json::Value b = gateway("10.0.0.2", "b", 10);
  b["lastTest"]["rttMs"]["median"] = 1.0;
  b["lastTest"]["loss"] = 0.0;
  list.append(b);
  EXPECT_EQ(order(rank_gateways(list, rules(), {})), (std::vector<std::string>{"b", "a"}));
  std::map<std::string, GatewayQuality> measured;
  measured["10.0.0.2"] = GatewayQuality{30.0, 0};  // this run's probes win
  EXPECT_EQ(order(rank_gateways(list, rules(), measured)), (std::vector<std::string>{"a", "b"}));
}

TEST(Choice, LeavesOutWhatCannotBeUsedAndSaysWhy) {
  Json::Value list(Json::arrayValue);
  list.append(gateway("10.0.0.1", "other-suite", 1, "cjdns-openvpn-free"));
  Json::Value paid = gateway("10.0.0.2", "paid", 1);
  paid["price"] = 5;
  list.append(paid);
  Json::Value full = gateway("10.0.0.3", "full", 1);
  full["capacity"]["maxConnections"] = 10;
  full["capacity"]["sessions"] = 10;
  list.append(full);
  list.append(gateway("10.0.0.4", "avoided", 1));
  list.append(gateway("10.0.0.5", "self", 1));
  list.append(gateway("10.0.0.6", "usable", 50));
  Json::Value broken(Json::objectValue);
  broken["address"] = "not an address";
  list.append(broken);
  list.append(Json::Value("junk"));
  ChoiceRules r = rules();
  r.avoid = {"avoided"};
  r.own_addresses = {"10.0.0.5"};
  std::vector<std::string> skipped;
  EXPECT_EQ(order(rank_gateways(list, r, {}, &skipped)), (std::vector<std::string>{"usable"}));
  ASSERT_EQ(skipped.size(), 4u);
  EXPECT_EQ(skipped[0], "10.0.0.1 (other-suite): no suite in common");
  EXPECT_EQ(skipped[1], "10.0.0.2 (paid): price 5 above subscriber.maxPrice");
  EXPECT_EQ(skipped[2], "10.0.0.3 (full): full");
  EXPECT_EQ(skipped[3], "10.0.0.4 (avoided): on subscriber.avoid");

  r.max_price = 5;  // now affordable
  EXPECT_EQ(order(rank_gateways(list, r, {})), (std::vector<std::string>{"paid", "usable"}));
}

// A gateway that lets nothing through before payment on its page (every
// method charges, even at price 0: vouchers only) is for subscribers that
// accept paying.
TEST(Choice, AGatewayThatWaitsForPaymentOnlyWhenPayingIsAccepted) {
  Json::Value list(Json::arrayValue);
  Json::Value vouchers = gateway("10.0.0.1", "vouchers", 1, "static-forwarding-webpage");
  vouchers["price"] = 0;
  vouchers["paymentRequired"] = true;
  list.append(vouchers);
  list.append(gateway("10.0.0.2", "free", 50));
  ChoiceRules r = rules();
  r.our_suites.push_back("static-forwarding-webpage");
  std::vector<std::string> skipped;
  EXPECT_EQ(order(rank_gateways(list, r, {}, &skipped)), (std::vector<std::string>{"free"}));
  ASSERT_EQ(skipped.size(), 1u);
  EXPECT_EQ(skipped[0], "10.0.0.1 (vouchers): payment required and subscriber.maxPrice is 0");
  r.max_price = 1;
  EXPECT_EQ(order(rank_gateways(list, r, {})), (std::vector<std::string>{"vouchers", "free"}));
}

TEST(Choice, PreferredGatewaysComeFirstInListOrder) {
  Json::Value list(Json::arrayValue);
  list.append(gateway("10.0.0.1", "a", 1));
  list.append(gateway("10.0.0.2", "b", 20));
  list.append(gateway("10.0.0.3", "c", 30));
  ChoiceRules r = rules();
  r.prefer = {"10.0.0.3", "b"};
  auto ranked = rank_gateways(list, r, {});
  EXPECT_EQ(order(ranked), (std::vector<std::string>{"c", "b", "a"}));
  EXPECT_TRUE(ranked[0].preferred);
  EXPECT_FALSE(ranked[2].preferred);
  // Where each stands on the list, which the standby's review compares.
  EXPECT_EQ(ranked[0].prefer_at, 0u);
  EXPECT_EQ(ranked[1].prefer_at, 1u);
  EXPECT_EQ(ranked[2].prefer_at, 2u);  // not on it: the list's size
}

TEST(Choice, LoadAndStalenessCount) {
  Json::Value list(Json::arrayValue);
  Json::Value busy = gateway("10.0.0.1", "busy", 10);
  busy["capacity"]["maxConnections"] = 100;
  busy["capacity"]["sessions"] = 90;  // +45 ms
  list.append(busy);
  Json::Value stale = gateway("10.0.0.2", "stale", 10);
  stale["current"] = false;  // +100 ms
  list.append(stale);
  list.append(gateway("10.0.0.3", "plain", 40));
  EXPECT_EQ(order(rank_gateways(list, rules(), {})),
            (std::vector<std::string>{"plain", "busy", "stale"}));
}

}  // namespace
}  // namespace mnigs
