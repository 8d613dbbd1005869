// The node and gateway lists (core/gateways): scan results merged with the
// offers heard in the DHT, read from a real store.
#include "gateways/gateway_list.hpp"

#include "store/sqlite.hpp"
#include "store/store.hpp"
#include "test_util.hpp"
#include "util/json_text.hpp"

#include <gtest/gtest.h>

namespace mnigs {
namespace {

using test::RecordingLogger;
using test::TempDir;

constexpr std::int64_t now = 1'800'000'000;

class GatewayListTest : public ::testing::Test {
 protected:
  GatewayListTest() : store_(Store::open(dir_.file("mnigs.sqlite"), log_)) {}

  void exec_sql(const std::string& sql) {
    store_->call<int>([&](sqlite3* db) {
      exec(db, sql);
      return 0;
    });
  }
  // A node as a scan stores it; `info` is its nodeInfo reply.
  void add_node(const std::string& id, const std::string& name, bool gateway,
                const std::string& info, std::int64_t last_seen, std::int64_t last_scan) {
    store_->call<int>([&](sqlite3* db) {
      Statement st(db,
                   "INSERT INTO nodes (id, name, address, port, addresses, networks, mesh_ids, "
                   "gateway, info, rtt_ms, first_seen, last_seen, last_scan) VALUES "
                   "(?, ?, '10.0.0.1', 65533, '[\"10.0.0.1\"]', '[\"babel\"]', '{}', ?, ?, 7, "
                   "?, ?, ?)");
      st.bind_text(1, id)
          .bind_text(2, name)
          .bind_int64(3, gateway ? 1 : 0)
          .bind_text(4, info)
          .bind_int64(5, last_seen - 100)
          .bind_int64(6, last_seen)
          .bind_int64(7, last_scan);
      st.step();
      return 0;
    });
  }
  void add_offer(const std::string& node_id, const std::string& name, std::int64_t received,
                 std::int64_t expires, const Json::Value& services = Json::Value()) {
    Json::Value o(Json::objectValue);
    o["id"] = node_id;
    o["name"] = name;
    o["addresses"].append("10.9.0.1");
    o["rpcPort"] = 65533;
    o["suites"].append("babel-forwarding-free");
    o["price"] = 0;
    o["currency"] = "";
    o["maxConnections"] = 10;
    o["sessions"] = 3;
    o["ipv6"] = false;
    o["expires"] = static_cast<Json::Int64>(expires);
    if (!services.isNull()) o["services"] = services;
    store_->call<int>([&](sqlite3* db) {
      Statement st(db, "INSERT INTO dht_offers (node_id, offer, received, expires) "
                       "VALUES (?, ?, ?, ?)");
      st.bind_text(1, node_id)
          .bind_text(2, to_json_text(o))
          .bind_int64(3, received)
          .bind_int64(4, expires);
      st.step();
      return 0;
    });
  }
  Json::Value read(bool gateways_only) {
    return store_->call<Json::Value>(
        [&](sqlite3* db) { return read_node_list(db, now, gateways_only); });
  }

  TempDir dir_;
  RecordingLogger log_;
  std::unique_ptr<Store> store_;
};

const std::string gateway_info = R"({"id":"gw","name":"roof","gateway":true,
  "suites":["babel-forwarding-free"],"version":"1.0","ipv6support":true,
  "dht":{"id":"aaaa"},"capacity":{"maxConnections":10,"sessions":1},
  "payments":{"free":{"price":0.5,"currency":"EUR"},"webpage":{"price":0.25,"currency":"EUR"},
              "odd":{"currency":"EUR"}}})";

TEST(CheapestPrice, PicksTheLowestNumericPriceAndItsCurrency) {
  auto p = cheapest_price(from_json_text(R"({"a":{"price":3,"currency":"EUR"},
      "b":{"price":1.5,"currency":"USD"},"c":{"price":"0"},"d":7})"));
  ASSERT_TRUE(p);
  EXPECT_DOUBLE_EQ(p->price.asDouble(), 1.5);
  EXPECT_EQ(p->currency, "USD");
  EXPECT_FALSE(cheapest_price(from_json_text(R"({"c":{"price":"0"}})")));
  EXPECT_FALSE(cheapest_price(Json::Value()));
  EXPECT_FALSE(cheapest_price(from_json_text("[1,2]")));
  auto free = cheapest_price(from_json_text(R"({"free":{"price":0}})"));
  ASSERT_TRUE(free);
  EXPECT_EQ(free->currency, "");
}

TEST(OnlyPaidAccess, WhenEveryMethodChargesAndOnlyThen) {
  EXPECT_TRUE(only_paid_access(from_json_text(R"({"webpage":{"price":0,"charges":true}})")));
  EXPECT_FALSE(only_paid_access(
      from_json_text(R"({"webpage":{"charges":true},"free":{"price":0}})")));
  EXPECT_FALSE(only_paid_access(from_json_text(R"({"webpage":{"charges":"yes"}})")));
  EXPECT_FALSE(only_paid_access(from_json_text("{}")));
  EXPECT_FALSE(only_paid_access(Json::Value()));
}

TEST_F(GatewayListTest, NodesCarryWhatTheScanFoundAndWhetherTheLatestScanReachedThem) {
  exec_sql("INSERT INTO scans (id, started, finished, candidates, probed, found, gateways, "
           "errors) VALUES (4, 0, 0, 2, 2, 2, 1, '[]'), (5, 0, 0, 1, 1, 1, 1, '[]')");
  add_node("gw", "roof", true, gateway_info, now - 30, 5);
  add_node("leaf", "leaf", false, R"({"id":"leaf","name":"leaf","gateway":false,"suites":[]})",
           now - 500, 4);
  exec_sql("INSERT INTO links VALUES ('babel', '', 'x', 96, 1)");

  const Json::Value all = read(false);
  ASSERT_EQ(all["nodes"].size(), 2u);
  const Json::Value leaf = all["nodes"][0], gw = all["nodes"][1];  // by name
  EXPECT_EQ(leaf["name"], "leaf");
  EXPECT_FALSE(leaf["current"].asBool());
  EXPECT_EQ(leaf["age"].asInt64(), 500);
  EXPECT_FALSE(leaf.isMember("price"));
  EXPECT_EQ(gw["name"], "roof");
  EXPECT_TRUE(gw["current"].asBool());
  EXPECT_EQ(gw["source"], "scan");
  EXPECT_EQ(gw["dhtId"], "aaaa");
  EXPECT_TRUE(gw["ipv6support"].asBool());
  EXPECT_DOUBLE_EQ(gw["price"].asDouble(), 0.25);
  EXPECT_EQ(gw["currency"], "EUR");
  EXPECT_EQ(gw["capacity"]["sessions"].asInt(), 1);
  ASSERT_EQ(all["links"].size(), 1u);
  EXPECT_EQ(all["links"][0]["cost"].asInt(), 96);

  const Json::Value gateways = read(true);
  EXPECT_FALSE(gateways.isMember("links"));
  ASSERT_EQ(gateways["gateways"].size(), 1u);
  EXPECT_EQ(gateways["gateways"][0]["id"], "gw");
}

TEST_F(GatewayListTest, DhtOffersMergeIntoTheGatewaysTheScanFoundOrJoinThemUntilTheyExpire) {
  add_node("gw", "roof", true, gateway_info, now - 300, 1);
  add_offer("aaaa", "roof", now - 20, now + 100);  // the same gateway (dht id aaaa)
  add_offer("bbbb", "far", now - 5, now + 100);    // heard only in the DHT
  add_offer("cccc", "old", now - 900, now - 1);    // expired

  const Json::Value list = read(true)["gateways"];
  ASSERT_EQ(list.size(), 2u) << to_json_text(list);
  const Json::Value& both = list[0];
  EXPECT_EQ(both["source"], "scan+dht");
  EXPECT_EQ(both["age"].asInt64(), 20);  // the fresher of the two
  EXPECT_EQ(both["capacity"]["sessions"].asInt(), 3);  // the offer's load is newer
  const Json::Value& far = list[1];
  EXPECT_EQ(far["source"], "dht");
  EXPECT_EQ(far["dhtId"], "bbbb");
  EXPECT_EQ(far["id"], "");
  EXPECT_EQ(far["name"], "far");
  EXPECT_EQ(far["address"], "10.9.0.1");
  EXPECT_EQ(far["port"].asInt(), 65533);
  EXPECT_EQ(far["capacity"]["maxConnections"].asInt(), 10);
  EXPECT_EQ(far["age"].asInt64(), 5);
  EXPECT_TRUE(far["current"].asBool());

  // listNodes lists scan results only.
  EXPECT_EQ(read(false)["nodes"].size(), 1u);
}

// What each gateway serves beside its suites: from its nodeInfo when the
// offer's rules allow it, from its signed offer (which wins) when there is one.
TEST_F(GatewayListTest, GatewaysCarryTheServicesTheyAnnounce) {
  Json::Value info = from_json_text(gateway_info);
  info["services"]["httptunnel"] = "http://roof:8080/";
  add_node("gw", "roof", true, to_json_text(info), now - 10, 1);
  info["id"] = "bad";
  info["dht"]["id"] = "dddd";
  info["services"]["httptunnel"] = "http://a b/";  // a space: not as an offer allows
  add_node("bad", "zz-bad", true, to_json_text(info), now - 10, 1);
  Json::Value list = read(true)["gateways"];
  ASSERT_EQ(list.size(), 2u) << to_json_text(list);
  EXPECT_EQ(list[0]["services"]["httptunnel"], "http://roof:8080/") << to_json_text(list);
  EXPECT_TRUE(list[1]["services"].isObject()) << to_json_text(list);
  EXPECT_TRUE(list[1]["services"].empty()) << to_json_text(list);

  Json::Value signed_services(Json::objectValue);
  signed_services["httptunnel"] = "http://roof.example:8080/";
  add_offer("aaaa", "roof", now - 5, now + 100, signed_services);
  add_offer("bbbb", "far", now - 5, now + 100, signed_services);
  add_offer("cccc", "plain", now - 5, now + 100);
  list = read(true)["gateways"];
  ASSERT_EQ(list.size(), 4u) << to_json_text(list);
  EXPECT_EQ(list[0]["source"], "scan+dht");
  EXPECT_EQ(list[0]["services"], signed_services) << to_json_text(list);
  for (const auto& g : list) {
    if (g["dhtId"] == "bbbb") {
      EXPECT_EQ(g["services"], signed_services) << to_json_text(g);
    }
    if (g["dhtId"] == "cccc") {
      EXPECT_TRUE(g["services"].empty()) << to_json_text(g);
    }
  }
}

}  // namespace
TEST_F(GatewayListTest, EachGatewayCarriesItsLastTestAndScore) {
  add_node("gw", "roof", true, gateway_info, now - 10, 1);
  exec_sql("INSERT INTO scans (id, started, finished, candidates, probed, found, gateways, errors) "
      "VALUES (1, 0, 0, 0, 0, 0, 0, '[]')");
  exec_sql(R"(INSERT INTO gateway_tests (address, time, result) VALUES
         ('10.0.0.1', 100, '{"score": 9.5, "loss": 0.1}'),
         ('10.0.0.1', 200, '{"score": 3.5, "loss": 0}'),
         ('10.0.0.9', 300, '{"score": 1}'))");
  Json::Value g = read(true)["gateways"];
  ASSERT_EQ(g.size(), 1u) << g.toStyledString();
  EXPECT_EQ(g[0]["score"].asDouble(), 3.5) << "the newest test";
  EXPECT_EQ(g[0]["lastTest"]["loss"].asDouble(), 0.0);
}

}  // namespace mnigs
