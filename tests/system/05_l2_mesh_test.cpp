// Five namespaces on one Linux bridge, a plain switched LAN, each running
// mnigsd with nothing configured to find the others: the l2 discovery plugin's
// link-local multicast announcements are all a scan from n1 has to go on. A
// node whose daemon stops ages out of the others' view; started again, it
// comes back under the same node id.
#include <json/json.h>

#include <algorithm>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>

#include "harness/scan.hpp"
#include "harness/system_test.hpp"

namespace mnigs::test {
namespace {

const std::vector<std::string> names = {"n1", "n2", "n3", "n4", "n5"};

class L2Mesh : public SystemTest {
 protected:
  void SetUp() override {
    SystemTest::SetUp();
    if (HasFatalFailure()) return;
    for (const auto& n : names) topology_.node(n);
    topology_.bridge("lan", names);
    topology_.up();
    for (const auto& n : names) {
      NodeOptions options;
      // Announce every second; a silent node goes after 3 s (3 x 1 s).
      options.set("l2", "interval", "1");
      options.set("scan", "interval", "0");  // only the scans the test asks for
      nodes_[n] = std::make_unique<Node>(topology_, n, options);
    }
    for (auto& [name, node] : nodes_) node->start();
    for (auto& [name, node] : nodes_) node->wait_ready();
  }

  Node& node(const std::string& name) { return *nodes_.at(name); }

  // The l2 plugin's entry of listPlugins on `name`.
  Json::Value l2_plugin(const std::string& name) {
    Json::Value r = node(name).rpc("listPlugins");
    EXPECT_TRUE(rpc_succeeded(r)) << to_json(r);
    for (const auto& p : r["result"]["plugins"])
      if (p["name"].asString() == "l2") return p;
    ADD_FAILURE() << "no l2 plugin on " << name << ": " << to_json(r);
    return Json::Value();
  }

  // The node ids `name`'s l2 plugin hears now, by l2.listPeers.
  std::set<std::string> peers_of(const std::string& name) {
    Json::Value r = node(name).rpc("l2.listPeers");
    EXPECT_TRUE(rpc_succeeded(r)) << to_json(r);
    std::set<std::string> ids;
    for (const auto& p : r["result"]["peers"]) ids.insert(p["id"].asString());
    return ids;
  }

  // Polls `done` every 100 ms for up to `limit`; whether it came true.
  static bool eventually(const std::function<bool()>& done, std::chrono::milliseconds limit) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
      if (done()) return true;
      std::this_thread::sleep_for(100ms);
    }
    return done();
  }

  // Every node's l2 node id, from its own plugin status.
  std::map<std::string, std::string> node_ids() {
    std::map<std::string, std::string> ids;
    for (const auto& n : names) ids[n] = l2_plugin(n)["status"]["nodeId"].asString();
    return ids;
  }

  std::set<std::string> ids_except(const std::map<std::string, std::string>& ids,
                                   const std::set<std::string>& left_out) {
    std::set<std::string> out;
    for (const auto& [name, id] : ids)
      if (!left_out.count(name)) out.insert(id);
    return out;
  }

  Topology topology_;  // declared first: destroyed after the nodes in it
  std::map<std::string, std::unique_ptr<Node>> nodes_;
};

TEST_F(L2Mesh, AScanFindsEveryNodeOnTheLanThroughL2Announcements) {
  Json::Value plugin = l2_plugin("n1");
  EXPECT_EQ(plugin["state"].asString(), "running") << to_json(plugin);
  Json::Value lan(Json::arrayValue);
  lan.append("to-lan");
  EXPECT_EQ(plugin["status"]["interfaces"], lan) << to_json(plugin);

  const auto ids = node_ids();
  EXPECT_EQ(ids_except(ids, {}).size(), 5u) << "node ids must differ";
  const std::set<std::string> others = ids_except(ids, {"n1"});
  ASSERT_TRUE(eventually([&] { return peers_of("n1") == others; }, 10s))
      << to_json(l2_plugin("n1"));

  Json::Value status = scan(node("n1"));
  EXPECT_EQ(status["found"].asInt(), 4) << to_json(status);
  Json::Value nodes = node("n1").rpc("listNodes")["result"]["nodes"];
  EXPECT_EQ(node_names(nodes), (std::set<std::string>{"n2", "n3", "n4", "n5"})) << to_json(nodes);
  for (const auto& n : nodes) {
    const std::string name = n["name"].asString();
    bool by_l2 = false;
    for (const auto& network : n["networks"]) by_l2 |= network.asString() == "l2";
    EXPECT_TRUE(by_l2) << to_json(n);
    // Reached at the address it announced on the LAN, on the RPC port.
    std::set<std::string> addresses;
    for (const auto& a : n["addresses"]) addresses.insert(a.asString());
    EXPECT_TRUE(addresses.count(topology_.address(name, "lan"))) << to_json(n);
    EXPECT_EQ(n["port"].asInt(), node(name).rpc_port()) << to_json(n);
  }

  // The view the plugin reports: what each peer announced, where it was heard.
  Json::Value peers = l2_plugin("n1")["status"]["peers"];
  ASSERT_EQ(peers.size(), 4u) << to_json(peers);
  for (const auto& p : peers) {
    std::string name;
    for (const auto& [n, id] : ids)
      if (id == p["id"].asString()) name = n;
    ASSERT_FALSE(name.empty()) << to_json(p);
    std::set<std::string> announced;
    for (const auto& a : p["addresses"]) announced.insert(a.asString());
    EXPECT_EQ(announced, (std::set<std::string>{topology_.address(name, "lan"),
                                                topology_.address6(name, "lan")}))
        << to_json(p);
    EXPECT_EQ(p["links"][0]["interface"].asString(), "to-lan") << to_json(p);
  }
  EXPECT_EQ(l2_plugin("n1")["status"]["bad"].asUInt64(), 0u);
}

TEST_F(L2Mesh, AStoppedNodeAgesOutAndComesBackUnderTheSameId) {
  const auto ids = node_ids();
  ASSERT_TRUE(eventually([&] { return peers_of("n1") == ids_except(ids, {"n1"}); }, 10s))
      << to_json(l2_plugin("n1"));

  ASSERT_EQ(node("n5").stop(), 0);
  // Its announcing socket went with it.
  CommandResult sockets = topology_.exec("n5", {"ss", "-Huan"});
  EXPECT_EQ(sockets.out.find(":65532"), std::string::npos) << sockets.out;

  // The others forget it after its holdtime, and only it.
  for (const auto& n : {"n1", "n3"})
    EXPECT_TRUE(eventually(
        [&] {
          return peers_of(n) == ids_except(ids, {n, "n5"});
        },
        15s))
        << n << ": " << to_json(l2_plugin(n));
  Json::Value status = scan(node("n1"));
  EXPECT_EQ(status["found"].asInt(), 3) << to_json(status);

  // Restarted, it keeps its node id and is heard again.
  node("n5").launch();
  EXPECT_EQ(l2_plugin("n5")["status"]["nodeId"].asString(), ids.at("n5"));
  EXPECT_TRUE(eventually([&] { return peers_of("n1") == ids_except(ids, {"n1"}); }, 10s))
      << to_json(l2_plugin("n1"));
}

TEST_F(L2Mesh, ANodeThatJoinsIsListedAtOnceWithoutAScan) {
  // n5 is away while n1 scans; then n1 scans by itself only once an hour.
  const auto ids = node_ids();
  ASSERT_EQ(node("n5").stop(), 0);
  ASSERT_TRUE(eventually([&] { return peers_of("n1") == ids_except(ids, {"n1", "n5"}); }, 15s))
      << to_json(l2_plugin("n1"));
  EXPECT_EQ(scan(node("n1"))["found"].asInt(), 3);
  Json::Value params;
  params["scan.interval"] = 3600;
  ASSERT_TRUE(rpc_succeeded(node("n1").rpc("setConfig", params)));
  const Json::Value before = node("n1").rpc("scanStatus")["result"];

  // n5 comes back: its announcements change n1's l2 view, and n1 probes it
  // (and only it) without waiting for the next scan.
  node("n5").launch();
  auto listed = [&](const std::string& on) {
    const Json::Value nodes = node(on).rpc("listNodes")["result"]["nodes"];
    for (const auto& n : nodes)
      if (n["name"].asString() == "n5") return n;
    return Json::Value();
  };
  ASSERT_TRUE(eventually([&] { return !listed("n1").isNull(); }, 30s))
      << to_json(node("n1").rpc("listNodes"));
  const Json::Value n5 = listed("n1");
  EXPECT_TRUE(n5["current"].asBool()) << to_json(n5);
  EXPECT_EQ(n5["address"].asString(), topology_.address("n5", "lan")) << to_json(n5);
  const Json::Value after = node("n1").rpc("scanStatus")["result"];
  EXPECT_EQ(after["scan"], before["scan"]) << "a scan ran: " << to_json(after);
  EXPECT_EQ(node_names(node("n1").rpc("listNodes")["result"]["nodes"]),
            (std::set<std::string>{"n2", "n3", "n4", "n5"}));

  // n2 scans only when asked (scan.interval 0): its l2 view changed too, but
  // it probed nobody.
  EXPECT_TRUE(eventually([&] { return peers_of("n2") == ids_except(ids, {"n2"}); }, 10s));
  std::this_thread::sleep_for(3s);
  EXPECT_EQ(node("n2").rpc("listNodes")["result"]["nodes"].size(), 0u)
      << to_json(node("n2").rpc("listNodes"));
}

}  // namespace
}  // namespace mnigs::test
