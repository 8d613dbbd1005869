// A babel mesh of eight namespaces, each running the real babeld and mnigsd:
// what a scan from the far side of the mesh finds through the babel
// discovery plugin.
//
//   gw1 - n2 - n3 - far - n5 - n6 - n7 - gw2 - (back to gw1)    a ring,
//         n2 ------------------- n6                            with a chord.
//
// gw1 and gw2 are gateways: mnigsd with gateway.enabled, and babeld
// announcing a default route. "far" is 3 hops from gw1 and 4 from gw2, the
// node farthest from both, and does every scan. Nodes reach each other only
// over babel routes to their node addresses (10.78.0.N, fd78::N); the link
// subnets are not routed beyond their link.
#include <json/json.h>

#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "harness/babel.hpp"
#include "harness/scan.hpp"
#include "harness/system_test.hpp"

namespace mnigs::test {
namespace {

const std::vector<std::string> ring = {"gw1", "n2", "n3", "far", "n5", "n6", "n7", "gw2"};
const std::set<std::string> gateway_names = {"gw1", "gw2"};

class BabelMeshScan : public SystemTest {
 protected:
  void SetUp() override {
    SystemTest::SetUp();
    if (HasFatalFailure()) return;
    for (const auto& n : ring) topology_.node(n);
    for (size_t i = 0; i < ring.size(); ++i) topology_.link(ring[i], ring[(i + 1) % ring.size()]);
    topology_.link("n2", "n6");
    topology_.up();

    mesh_ = std::make_unique<BabelMesh>(topology_, gateway_names);
    // babeld first, so that each babel plugin finds its daemon at start.
    mesh_->start();
    for (const auto& n : ring) {
      NodeOptions options;
      options.set("scan", "interval", "0");  // only the scans the test asks for
      if (gateway_names.count(n)) options.set("gateway", "enabled", "true");
      nodes_[n] = std::make_unique<Node>(topology_, n, options);
    }
    for (auto& [name, node] : nodes_) node->start();
    for (auto& [name, node] : nodes_) node->wait_ready();
    mesh_->wait_converged(60s);
    ASSERT_GE(wait_for_babel_plugin(node("far"), 7), 7) << "the babel plugin of far lags babeld";
  }

  Node& node(const std::string& name) { return *nodes_.at(name); }

  Json::Value list(const char* method, const char* field) {
    Json::Value r = node("far").rpc(method);
    EXPECT_TRUE(rpc_succeeded(r)) << to_json(r);
    return r["result"][field];
  }

  static std::set<std::string> strings(const Json::Value& array) {
    std::set<std::string> out;
    for (const auto& v : array) out.insert(v.asString());
    return out;
  }

  static std::set<std::string> everyone_but_far() {
    std::set<std::string> names(ring.begin(), ring.end());
    names.erase("far");
    return names;
  }

  // Declared in this order so that mnigsd stops first, then babeld, then the
  // namespaces go.
  Topology topology_;
  std::unique_ptr<BabelMesh> mesh_;
  std::map<std::string, std::unique_ptr<Node>> nodes_;
};

TEST_F(BabelMeshScan, ScanFromTheFarNodeFindsEveryNodeAndBothGateways) {
  Json::Value status = scan(node("far"));
  EXPECT_EQ(status["found"].asInt(), 7) << to_json(status);
  EXPECT_EQ(status["gateways"].asInt(), 2) << to_json(status);
  EXPECT_EQ(status["probed"], status["total"]) << to_json(status);
  // Other discovery plugins may complain that their daemons are missing
  // here; babel's must not.
  for (const auto& e : status["errors"]) EXPECT_NE(e["network"].asString(), "babel") << to_json(e);

  Json::Value nodes = list("listNodes", "nodes");
  EXPECT_EQ(node_names(nodes), everyone_but_far()) << to_json(nodes);
  for (const auto& n : nodes) {
    const std::string name = n["name"].asString();
    if (!nodes_.count(name)) continue;  // reported by the set comparison above
    SCOPED_TRACE(name + ": " + to_json(n));
    // Found through babel, with both addresses babel routes to it (l2
    // discovery, when built, adds a neighbour's link addresses too).
    EXPECT_TRUE(strings(n["networks"]).count("babel"));
    EXPECT_TRUE(strings(n["addresses"]).count(mesh_->address(name)));
    EXPECT_TRUE(strings(n["addresses"]).count(mesh_->address6(name)));
    EXPECT_EQ(n["id"].asString(), node(name).rpc("nodeInfo")["result"]["id"].asString());
    EXPECT_EQ(n["gateway"].asBool(), gateway_names.count(name) == 1);
    EXPECT_TRUE(n["current"].asBool());
    // Each node is tied to its babel router id, as its babeld tells it.
    EXPECT_EQ(n["meshIds"]["babel"].asString(), mesh_->babeld(name).router_id());
  }

  Json::Value gateways = list("listGateways", "gateways");
  EXPECT_EQ(node_names(gateways), gateway_names) << to_json(gateways);
  for (const auto& g : gateways) {
    SCOPED_TRACE(to_json(g));
    // A suite is network-tunnel-payment; these gateways are offered over babel.
    bool over_babel = false;
    for (const auto& suite : g["suites"])
      over_babel |= suite.asString().substr(0, suite.asString().find('-')) == "babel";
    EXPECT_TRUE(over_babel);
    EXPECT_EQ(g["port"].asInt(), node(g["name"].asString()).rpc_port());
  }
}

TEST_F(BabelMeshScan, ANodeWhoseDaemonStoppedIsNoLongerCurrent) {
  Json::Value first = scan(node("far"));
  ASSERT_EQ(first["found"].asInt(), 7) << to_json(first);

  // babeld on n5 keeps running, so babel still routes to it: only mnigsd is gone.
  ASSERT_EQ(node("n5").stop(), 0);
  ASSERT_TRUE(missing_babel_routes(topology_.ns("far"), {mesh_->address("n5")}).empty());
  Json::Value second = scan(node("far"));
  EXPECT_EQ(second["found"].asInt(), 6) << to_json(second);
  EXPECT_EQ(second["gateways"].asInt(), 2) << to_json(second);

  Json::Value nodes = list("listNodes", "nodes");
  EXPECT_EQ(node_names(nodes), everyone_but_far()) << to_json(nodes);
  for (const auto& n : nodes)
    EXPECT_EQ(n["current"].asBool(), n["name"].asString() != "n5") << to_json(n);
  EXPECT_EQ(node_names(list("listGateways", "gateways")), gateway_names);
}

}  // namespace
}  // namespace mnigs::test
