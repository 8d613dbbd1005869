// What a probe learns about a node (core/scanner/found.*): the checks on a
// nodeInfo reply from anyone on the mesh, the merge of what several targets
// say about one node, and the rows a scan keeps.
#include "scanner/found.hpp"

#include "store/sqlite.hpp"
#include "store/store.hpp"
#include "test_util.hpp"
#include "util/json_text.hpp"

#include <gtest/gtest.h>

namespace mnigs::scan {
namespace {

Json::Value info(const std::string& text) { return from_json_text(text); }

const char* good = R"({"id":"n1","name":"roof","gateway":true,"suites":["babel-forwarding-free"]})";

TEST(CheckNodeInfo, AcceptsAWellFormedReply) { EXPECT_EQ(check_node_info(info(good)), ""); }

TEST(CheckNodeInfo, RefusesWhatAScanCannotUseAndSaysWhy) {
  const std::string long_id(129, 'a'), long_suite(129, 's');
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"[1]", "nodeInfo is not an object"},
      {R"({"name":"x","gateway":true,"suites":[]})", "nodeInfo has no id"},
      {R"({"id":"","name":"x","gateway":true,"suites":[]})", "nodeInfo has no id"},
      {R"({"id":")" + long_id + R"(","name":"x","gateway":true,"suites":[]})",
       "nodeInfo has no id"},
      {R"({"id":"a","name":7,"gateway":true,"suites":[]})", "nodeInfo has no name"},
      {R"({"id":"a","name":"x","gateway":"yes","suites":[]})", "nodeInfo has no gateway flag"},
      {R"({"id":"a","name":"x","gateway":true,"suites":"all"})", "nodeInfo has no suites"},
      {R"({"id":"a","name":"x","gateway":true,"suites":[")" + long_suite + R"("]})",
       "nodeInfo has a suite that is not a short string"},
      {R"({"id":"a","name":"x","gateway":true,"suites":[],"payments":[]})",
       "nodeInfo payments is not an object"},
      // What a terminal or a page would interpret: refused, not stored.
      {R"({"id":"a","name":"[2Jroof","gateway":true,"suites":[]})",
       "nodeInfo has no name"},
      {R"({"id":"a","name":"x","gateway":true,"suites":["s
t"]})",
       "nodeInfo has a suite that is not a short string"},
      {R"({"id":"a b","name":"x","gateway":true,"suites":[]})", "nodeInfo has no id"},
      {R"({"id":"<script>","name":"x","gateway":true,"suites":[]})", "nodeInfo has no id"},
  };
  for (const auto& [text, why] : bad) EXPECT_EQ(check_node_info(info(text)), why) << text;
}

TEST(MergeReply, AFreshReplyIsTakenWholeLaterTargetsAddTheirAddressesAndNetworks) {
  Target babel;
  babel.addresses = {"10.0.0.1", "fd00::1"};
  babel.port = 65533;
  babel.networks = {"babel"};
  babel.mesh_ids = {{"babel", "02:00:00:ff:fe:00:00:01"}};
  Target l2;
  l2.addresses = {"fe80::1%eth0", "10.0.0.1"};
  l2.port = 65533;
  l2.networks = {"l2"};
  l2.mesh_ids = {{"l2", "abc"}};

  Found f;
  merge_reply(f, true, babel, "10.0.0.1", info(good), 12);
  EXPECT_EQ(f.id, "n1");
  EXPECT_EQ(f.name, "roof");
  EXPECT_TRUE(f.gateway);
  EXPECT_EQ(f.address, "10.0.0.1");
  EXPECT_EQ(f.rtt_ms, 12);
  // The same node reached again through another network's target: what it
  // answered first stays, the addresses and networks add up, none twice.
  merge_reply(f, false, l2, "fe80::1%eth0",
              info(R"({"id":"n1","name":"other","gateway":false,"suites":[]})"), 99);
  EXPECT_EQ(f.name, "roof");
  EXPECT_TRUE(f.gateway);
  EXPECT_EQ(f.rtt_ms, 12);
  EXPECT_EQ(f.addresses, (std::vector<std::string>{"10.0.0.1", "fd00::1", "fe80::1%eth0"}));
  EXPECT_EQ(f.networks, (std::set<std::string>{"babel", "l2"}));
  EXPECT_EQ(f.mesh_ids.at("l2"), "abc");
  EXPECT_EQ(f.mesh_ids.at("babel"), "02:00:00:ff:fe:00:00:01");

  const Json::Value e = node_event(f, 4);
  EXPECT_EQ(e["scan"].asUInt64(), 4u);
  EXPECT_EQ(e["id"], "n1");
  EXPECT_EQ(e["address"], "10.0.0.1");
  EXPECT_TRUE(e["gateway"].asBool());
}

TEST(StoreFound, ANodeSeenAgainKeepsItsFirstSightingAndTakesTheNewScan) {
  test::TempDir dir;
  test::RecordingLogger log;
  auto store = Store::open(dir.file("mnigs.sqlite"), log);
  Found f;
  f.id = "n1";
  f.name = "roof";
  f.address = "10.0.0.1";
  f.port = 65533;
  f.addresses = {"10.0.0.1"};
  f.networks = {"babel"};
  f.info = info(good);
  auto save = [&](std::int64_t seen, std::uint64_t scan) {
    store->call<int>([&](sqlite3* db) {
      store_found(db, {f}, seen, scan);
      return 0;
    });
  };
  save(1000, 1);
  f.name = "roof-2";
  save(2000, 2);
  const auto row = store->call<std::string>([](sqlite3* db) {
    Statement st(db, "SELECT name, first_seen, last_seen, last_scan, networks FROM nodes");
    EXPECT_TRUE(st.step());
    return st.column_text(0) + " " + std::to_string(st.column_int64(1)) + " " +
           std::to_string(st.column_int64(2)) + " " + std::to_string(st.column_int64(3)) + " " +
           st.column_text(4);
  });
  EXPECT_EQ(row, "roof-2 1000 2000 2 [\"babel\"]");
}

}  // namespace
}  // namespace mnigs::scan
