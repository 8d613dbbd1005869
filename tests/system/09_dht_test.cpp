// Gateway offers spread through the DHT, on a babel mesh of twelve
// namespaces, each running the real babeld and mnigsd with the DHT on:
//
//   gw  - n02 - n03 - n04 - n05 - n06
//    |     |     |     |     |     |
//   n07 - n08 - n09 - n10 - n11 - sub
//
// gw is the only gateway; sub, six hops from it, is the subscriber. No node
// ever scans (scan.interval 0 and no startScan), so whatever sub lists, it
// heard through the DHT. Nodes join the DHT as a user's would: through the
// nodes their babel discovery plugin reports (nothing configured), or, in
// the test without discovery, through dht.bootstrap alone. Nodes reach each
// other only over babel routes to their node addresses (10.78.0.N, fd78::N).
//
// The attack test adds mnigs-test-dht-forger in n04's namespace: it joins
// the DHT and puts an offer in gw's name signed with its own key, and an
// offer of its own whose data was changed after signing. Its routing id
// sits next to the offer key, so it is one of the nodes that store offers
// and hands both values to every listener, as a dishonest storing node
// would (honest ones refuse the tampered value).
#include <json/json.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "harness/babel.hpp"
#include "harness/system_test.hpp"
#include "harness/text.hpp"
#include "harness/wait.hpp"

#ifndef MNIGS_TEST_PEER_DIR
#error "MNIGS_TEST_PEER_DIR must name the directory of the test peers"
#endif

namespace mnigs::test {
namespace {

// Declaration order gives the babel node numbers: gw is 10.78.0.1, sub 10.78.0.12.
const std::vector<std::string> top_row = {"gw", "n02", "n03", "n04", "n05", "n06"};
const std::vector<std::string> bottom_row = {"n07", "n08", "n09", "n10", "n11", "sub"};
// Where the forger runs.
const std::string forger_node = "n04";

// Creating twelve RSA-4096 identities at once takes tens of seconds of CPU
// on a small, busy machine.
constexpr auto dht_start_limit = 180s;
// From a node running to an offer (or its withdrawal) reaching the far side.
// A first put made before the gateway has peers is retried after 10 s; a
// DHT that formed in parts (a node pinged before it was up) is joined up
// by the next rejoin round, 30 s on.
constexpr auto spread_limit = 90s;

// Tries for wait_until: `limit` at one poll every `poll` (each poll is an
// RPC or a file read, which only makes the wait longer, never endless).
constexpr auto poll = 100ms;
constexpr int tries(std::chrono::milliseconds limit) { return static_cast<int>(limit / poll); }

// The result of `method` on `node`, or null when the call failed (the
// daemon may be stopping); `last` keeps the whole last response.
Json::Value call(const Node& node, const std::string& method, Json::Value* last = nullptr) {
  Json::Value r;
  try {
    r = node.rpc(method);
  } catch (const RpcError& e) {
    r["error"]["message"] = e.what();
  }
  if (last) *last = r;
  return rpc_succeeded(r) ? r["result"] : Json::Value();
}

// The listGateways entries whose dhtId is `dht_id`.
std::vector<Json::Value> entries_of(const Json::Value& gateways, const std::string& dht_id) {
  std::vector<Json::Value> out;
  for (const auto& g : gateways)
    if (g["dhtId"].asString() == dht_id) out.push_back(g);
  return out;
}

std::set<std::string> strings(const Json::Value& array) {
  std::set<std::string> out;
  for (const auto& v : array) out.insert(v.asString());
  return out;
}

class DhtMesh : public SystemTest {
 protected:
  void SetUp() override {
    SystemTest::SetUp();
    if (HasFatalFailure()) return;
    for (const auto& row : {top_row, bottom_row})
      for (const auto& n : row) topology_.node(n);
    for (const auto& row : {top_row, bottom_row})
      for (size_t i = 0; i + 1 < row.size(); ++i) topology_.link(row[i], row[i + 1]);
    for (size_t i = 0; i < top_row.size(); ++i) topology_.link(top_row[i], bottom_row[i]);
    topology_.up();

    // babeld ran long before mnigsd on a real mesh router: converged first,
    // so that each babel plugin knows the whole mesh when mnigsd starts.
    mesh_ = std::make_unique<BabelMesh>(topology_, std::set<std::string>{"gw"});
    mesh_->start();
    mesh_->wait_converged(60s);
  }

  void TearDown() override {
    if (forger_pid_ > 0) {
      terminate_processes({forger_pid_});
      Reaper::instance().forget_pid(forger_pid_);
      if (HasFailure())
        std::cerr << "---- forger output ----\n" << read_all(forger_log_) << "----\n";
    }
  }

  // Starts mnigsd on every node: the DHT on, no background scans, gw a
  // gateway; `more` adds options per node. Waits until every daemon
  // answers and every DHT node runs.
  void start_nodes(const std::function<void(const std::string&, NodeOptions&)>& more = {}) {
    for (const auto& name : topology_.nodes()) {
      NodeOptions options;
      options.set("dht", "enabled", "true");
      options.set("scan", "interval", "0");
      if (name == "gw") options.set("gateway", "enabled", "true");
      if (more) more(name, options);
      nodes_[name] = std::make_unique<Node>(topology_, name, options);
    }
    for (auto& [name, node] : nodes_) node->start();
    for (auto& [name, node] : nodes_) node->wait_ready(300);
    for (auto& [name, node] : nodes_) {
      Json::Value last;
      const bool running =
          wait_until([&] { return call(*node, "dhtStatus", &last)["running"].asBool(); },
                     tries(dht_start_limit), poll);
      ASSERT_TRUE(running) << name << "'s DHT node did not start: " << to_json(last);
    }
    gw_id_ = call(node("gw"), "nodeInfo")["dht"]["id"].asString();
    ASSERT_EQ(gw_id_.size(), 64u) << "gw's nodeInfo names no DHT id";
  }

  Node& node(const std::string& name) { return *nodes_.at(name); }

  // gw as `node` lists it from the DHT, or null.
  Json::Value gw_entry(const std::string& name) {
    const auto found = entries_of(call(node(name), "listGateways")["gateways"], gw_id_);
    return found.size() == 1 ? found.front() : Json::Value();
  }

  // Waits until `name` lists gw (listed = true) or no longer lists it.
  bool wait_listed(const std::string& name, bool listed) {
    return wait_until([&] { return gw_entry(name).isNull() != listed; }, tries(spread_limit), poll);
  }

  // The offer as sub lists it: heard through the DHT, nothing else.
  void expect_dht_entry(const Json::Value& g) {
    SCOPED_TRACE(to_json(g));
    EXPECT_EQ(g["source"].asString(), "dht");
    EXPECT_EQ(g["name"].asString(), "gw");
    EXPECT_EQ(g["port"].asInt(), node("gw").rpc_port());
    EXPECT_TRUE(strings(g["addresses"]).count(mesh_->address("gw")));
    EXPECT_TRUE(g["gateway"].asBool());
    EXPECT_EQ(g["capacity"]["sessions"].asInt(), 0);
    EXPECT_GE(g["age"].asInt(), 0);
    EXPECT_EQ(g["id"].asString(), "") << "an id only a scan learns";
  }

  void expect_no_scan_ran(const std::string& name) {
    const Json::Value status = call(node(name), "scanStatus");
    EXPECT_EQ(status["scan"].asInt(), 0) << name << " scanned: " << to_json(status);
  }

  // What each node's DHT knows, for failure messages.
  std::string dht_report() {
    std::string out;
    for (auto& [name, n] : nodes_) {
      const Json::Value s = call(*n, "dhtStatus");
      out += "\n  " + name + ": peers " + to_json(s["peers"]) + ", offers " + to_json(s["offers"]) +
             ", puts " + to_json(s["puts"]) + ", dropped " + to_json(s["dropped"]);
    }
    return out;
  }

  // Declared in this order so that mnigsd stops first, then babeld, then the
  // namespaces go.
  Topology topology_;
  std::unique_ptr<BabelMesh> mesh_;
  std::map<std::string, std::unique_ptr<Node>> nodes_;
  std::string gw_id_;
  pid_t forger_pid_ = -1;
  std::string forger_log_;
};

TEST_F(DhtMesh, OfferReachesTheFarSideWithoutAScanAndLeavesWhenWithdrawn) {
  start_nodes();
  ASSERT_FALSE(HasFatalFailure());

  ASSERT_TRUE(wait_listed("sub", true)) << "sub never heard gw's offer; DHT nodes:" << dht_report();
  expect_dht_entry(gw_entry("sub"));
  // Every node hears every offer, not only the far one (gw its own, too).
  for (const auto& name : topology_.nodes())
    EXPECT_TRUE(wait_listed(name, true)) << name << " never heard gw's offer";
  const Json::Value status = call(node("sub"), "dhtStatus");
  EXPECT_EQ(status["offers"].asInt(), 1) << to_json(status);
  EXPECT_EQ(status["dropped"]["forged"].asInt() + status["dropped"]["badSignature"].asInt(), 0)
      << to_json(status);
  EXPECT_TRUE(call(node("gw"), "dhtStatus")["publishing"].asBool());

  // The operator turns the gateway off: its offer goes from every list.
  Json::Value off = node("gw").rpc("setConfig", [] {
    Json::Value p;
    p["gateway.enabled"] = false;
    return p;
  }());
  ASSERT_TRUE(rpc_succeeded(off)) << to_json(off);
  EXPECT_TRUE(wait_listed("sub", false)) << "gw's offer outlived gateway.enabled: false";
  for (const auto& name : topology_.nodes())
    EXPECT_TRUE(wait_listed(name, false)) << name << " still lists gw";
  EXPECT_FALSE(call(node("gw"), "dhtStatus")["publishing"].asBool());
  EXPECT_EQ(call(node("sub"), "dhtStatus")["offers"].asInt(), 0);

  // On again: the offer comes back after its withdrawal.
  Json::Value on = node("gw").rpc("setConfig", [] {
    Json::Value p;
    p["gateway.enabled"] = true;
    return p;
  }());
  ASSERT_TRUE(rpc_succeeded(on)) << to_json(on);
  ASSERT_TRUE(wait_listed("sub", true))
      << "gw's offer did not come back after gateway.enabled: true";
  expect_dht_entry(gw_entry("sub"));

  // mnigsd stops (SIGTERM): it withdraws the offer on the way out.
  ASSERT_EQ(node("gw").stop(), 0);
  EXPECT_TRUE(wait_listed("sub", false)) << "gw's offer outlived its daemon";
  EXPECT_EQ(call(node("sub"), "dhtStatus")["offers"].asInt(), 0);

  expect_no_scan_ran("sub");
}

TEST_F(DhtMesh, NodesWithoutDiscoveryJoinThroughDhtBootstrap) {
  // No discovery plugin reports any node (static discovery with no peers):
  // each node knows of the DHT only the node declared before it, through
  // dht.bootstrap, so the DHT forms along a chain of twelve and gw's
  // offer reaches sub only through DHT routing.
  const auto names = topology_.nodes();
  start_nodes([&](const std::string& name, NodeOptions& options) {
    options.only_discovery("static");
    const auto at = std::find(names.begin(), names.end(), name);
    if (at != names.begin())
      options.set("dht", "bootstrap", "[" + yaml_quote(mesh_->address(*(at - 1)) + ":65531") + "]");
  });
  ASSERT_FALSE(HasFatalFailure());

  ASSERT_TRUE(wait_listed("sub", true)) << "sub never heard gw's offer; DHT nodes:" << dht_report();
  const Json::Value g = gw_entry("sub");
  expect_dht_entry(g);
  EXPECT_TRUE(strings(g["suites"]).count("static-forwarding-free")) << to_json(g);
  // sub knows more of the DHT than the one node it was told about.
  const Json::Value peers = call(node("sub"), "dhtStatus")["peers"];
  EXPECT_GE(peers["ipv4"]["good"].asInt() + peers["ipv6"]["good"].asInt(), 2) << to_json(peers);

  ASSERT_EQ(node("gw").stop(), 0);
  EXPECT_TRUE(wait_listed("sub", false)) << "gw's offer outlived its daemon";
  expect_no_scan_ran("sub");
}

TEST_F(DhtMesh, ForgedAndTamperedOffersAreNotBelieved) {
  start_nodes();
  ASSERT_FALSE(HasFatalFailure());
  // The genuine offer first, so that a forgery believed would replace it.
  ASSERT_TRUE(wait_listed("sub", true)) << "sub never heard gw's offer; DHT nodes:" << dht_report();
  // Every node lists it before the forger comes: what a node lists after is
  // what the forger left of it.
  for (const auto& name : topology_.nodes())
    ASSERT_TRUE(wait_listed(name, true)) << name << " never heard gw's offer";

  const int at = mesh_->index(forger_node);
  const std::string forger_address = babel_address(at);
  forger_log_ = node(forger_node).dir() + "/forger.log";
  forger_pid_ =
      spawn_in_ns(topology_.ns(forger_node),
                  {std::string(MNIGS_TEST_PEER_DIR) + "/mnigs-test-dht-forger", "--bootstrap",
                   mesh_->address("n03") + ":65531", "--victim-id", gw_id_, "--victim-name", "gw",
                   "--address", forger_address, "--bind4", forger_address, "--bind6",
                   babel_address6(at), "--name", "dht-forger", "--seconds", "300"},
                  forger_log_);
  Reaper::instance().watch_pid(forger_pid_);

  // Its own id, as it prints it: an offer of that id must never be listed.
  std::string forger_id;
  ASSERT_TRUE(wait_until(
      [&] {
        std::smatch m;
        const std::string out = read_all(forger_log_);
        if (!std::regex_search(out, m, std::regex("node ([0-9a-f]{64}) on UDP"))) return false;
        forger_id = m[1];
        return true;
      },
      tries(30s), poll))
      << "the forger did not start: " << read_all(forger_log_);
  ASSERT_TRUE(wait_until(
      [&] {
        const std::string out = read_all(forger_log_);
        return count_lines_with(out, "put forged value") >= 1 &&
               count_lines_with(out, "put tampered value") >= 1;
      },
      tries(30s), poll))
      << "the forger did not put both values: " << read_all(forger_log_);

  // The forged value spreads through honest storing nodes: sub's listener
  // is handed it and refuses it. The tampered one surely reaches only the
  // listeners that ask the forger itself (next to the key), and which of
  // them do within the time is the DHT's choice: it is enough that some
  // node was handed it and refused it.
  Json::Value sub_status;
  EXPECT_TRUE(wait_until(
      [&] {
        sub_status = call(node("sub"), "dhtStatus");
        if (sub_status["dropped"]["forged"].asUInt64() < 1) return false;
        for (const auto& name : topology_.nodes())
          if (call(node(name), "dhtStatus")["dropped"]["badSignature"].asUInt64() >= 1)
            return true;
        return false;
      },
      tries(spread_limit), poll))
      << "the forged value did not reach sub, or the tampered one no node: "
      << to_json(sub_status) << "\nDHT nodes:" << dht_report();

  for (const auto& name : topology_.nodes()) {
    SCOPED_TRACE(name);
    const Json::Value gateways = call(node(name), "listGateways")["gateways"];
    EXPECT_TRUE(entries_of(gateways, forger_id).empty()) << to_json(gateways);
    // gw once, with its own addresses: the forged offer did not replace it.
    ASSERT_EQ(gateways.size(), 1u) << to_json(gateways);
    EXPECT_EQ(gateways[0]["dhtId"].asString(), gw_id_) << to_json(gateways);
    EXPECT_EQ(gateways[0]["name"].asString(), "gw");
    EXPECT_EQ(strings(gateways[0]["addresses"]).count(forger_address), 0u) << to_json(gateways);
    EXPECT_TRUE(strings(gateways[0]["addresses"]).count(mesh_->address("gw")));
    EXPECT_EQ(gateways[0]["port"].asInt(), node("gw").rpc_port());
  }
  // What sub holds from the DHT: gw's genuine offer and nothing else.
  sub_status = call(node("sub"), "dhtStatus");
  ASSERT_EQ(sub_status["list"].size(), 1u) << to_json(sub_status);
  EXPECT_EQ(sub_status["list"][0]["id"].asString(), gw_id_);
  EXPECT_EQ(strings(sub_status["list"][0]["addresses"]).count(forger_address), 0u);
  expect_no_scan_ran("sub");
}

}  // namespace
}  // namespace mnigs::test
