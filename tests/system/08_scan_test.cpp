// The scanner end to end, on static discovery so that nothing but the scanner
// is under test: a LAN of five namespaces (s scans; a, b and the gateway g
// run mnigsd; x answers HTTP but is no mnigs node) plus a second link from s
// to a, so that a is reported under two addresses. CliTables: the tables of
// mnigs-cli -l and --nodes with a gateway at a 39-character IPv6 address.
#include <json/json.h>

#include <memory>
#include <sstream>
#include <thread>
#include <vector>

#include "harness/http_echo.hpp"
#include "harness/scan.hpp"
#include "harness/system_test.hpp"

namespace mnigs::test {
namespace {

class Scan : public SystemTest {
 protected:
  void SetUp() override {
    SystemTest::SetUp();
    if (HasFatalFailure()) return;
    topology_.node("s").node("a").node("b").node("g").node("x");
    topology_.bridge("lan", {"s", "a", "b", "g", "x"});
    topology_.link("s", "a");
    topology_.up();

    // Every address s is told about, plus one nobody holds (10.77.1.99): its
    // probe can only end by the deadline.
    std::string peers = "[";
    for (const auto& n : {"a", "b", "g", "x"}) peers += yaml_quote(topology_.address(n, "lan")) + ", ";
    peers += yaml_quote(topology_.address("a", "s")) + ", \"10.77.1.99\"]";
    s_ = std::make_unique<Node>(topology_, "s",
                                NodeOptions()
                                    .set("static", "peers", peers)
                                    .set("scan", "timeout", "700")
                                    .set("scan", "interval", "0"));
    a_ = std::make_unique<Node>(topology_, "a");
    b_ = std::make_unique<Node>(topology_, "b");
    g_ = std::make_unique<Node>(topology_, "g", NodeOptions().set("gateway", "enabled", "true"));
    for (auto* n : {s_.get(), a_.get(), b_.get(), g_.get()}) n->start();
    for (auto* n : {s_.get(), a_.get(), b_.get(), g_.get()}) n->wait_ready();
    // x speaks HTTP on the RPC port but is not mnigs: it answers POST with 405.
    web_ = std::make_unique<HttpEcho>(topology_.ns("x"), topology_.address("x", "lan"),
                                      s_->rpc_port());
  }

  Json::Value list(const char* method, const char* field) {
    Json::Value r = s_->rpc(method);
    EXPECT_TRUE(rpc_succeeded(r)) << to_json(r);
    return r["result"][field];
  }

  static const Json::Value* find(const Json::Value& list, const std::string& name) {
    for (const auto& n : list)
      if (n["name"].asString() == name) return &n;
    return nullptr;
  }

  Topology topology_;
  std::unique_ptr<Node> s_, a_, b_, g_;
  std::unique_ptr<HttpEcho> web_;
};

TEST_F(Scan, FindsEveryNodeOnceAndTheGatewayWithItsOffer) {
  Json::Value status = scan(*s_);
  EXPECT_EQ(status["found"].asInt(), 3) << to_json(status);
  EXPECT_EQ(status["gateways"].asInt(), 1) << to_json(status);
  // Six addresses; static discovery has no node ids, so only another
  // plugin (l2 runs here too) can tell that two of them are one node.
  EXPECT_GE(status["total"].asInt(), 5) << to_json(status);
  EXPECT_EQ(status["probed"], status["total"]) << to_json(status);
  // Other discovery plugins run here without their daemons and say so;
  // static discovery itself had nothing to complain about.
  for (const auto& e : status["errors"]) EXPECT_NE(e["plugin"].asString(), "static") << to_json(e);

  Json::Value nodes = list("listNodes", "nodes");
  EXPECT_EQ(node_names(nodes), (std::set<std::string>{"a", "b", "g"})) << to_json(nodes);
  // a answered on both of its addresses: one node that has both.
  const Json::Value* a = find(nodes, "a");
  ASSERT_NE(a, nullptr);
  std::set<std::string> a_addresses;
  for (const auto& x : (*a)["addresses"]) a_addresses.insert(x.asString());
  // (l2, running here too, adds a's IPv6 addresses.)
  EXPECT_TRUE(a_addresses.count(topology_.address("a", "lan"))) << to_json(*a);
  EXPECT_TRUE(a_addresses.count(topology_.address("a", "s"))) << to_json(*a);
  EXPECT_EQ((*a)["id"].asString(), a_->rpc("nodeInfo")["result"]["id"].asString());
  EXPECT_TRUE((*a)["current"].asBool());
  bool by_static = false;
  for (const auto& n : (*a)["networks"]) by_static |= n.asString() == "static";
  EXPECT_TRUE(by_static) << to_json(*a);

  Json::Value gateways = list("listGateways", "gateways");
  ASSERT_EQ(gateways.size(), 1u) << to_json(gateways);
  const Json::Value& g = gateways[0];
  EXPECT_EQ(g["name"].asString(), "g");
  EXPECT_EQ(g["address"].asString(), topology_.address("g", "lan"));
  EXPECT_EQ(g["port"].asInt(), g_->rpc_port());
  bool offers_forwarding = false;
  for (const auto& suite : g["suites"]) offers_forwarding |= suite.asString() == "static-forwarding-free";
  EXPECT_TRUE(offers_forwarding) << to_json(g);
  EXPECT_EQ(g["price"].asDouble(), 0.0) << to_json(g);
  EXPECT_EQ(g["capacity"]["sessions"].asInt(), 0) << to_json(g);
  EXPECT_GT(g["lastSeen"].asInt64(), 0);
  // The scanner did ask x, which is no mnigs node.
  EXPECT_GE(web_->served(), 1);
}

TEST_F(Scan, ASecondStartWhileOneRunsFollowsTheRunningScan) {
  Json::Value first = s_->rpc("startScan");
  Json::Value second = s_->rpc("startScan");
  ASSERT_TRUE(rpc_succeeded(first)) << to_json(first);
  ASSERT_TRUE(rpc_succeeded(second)) << to_json(second);
  EXPECT_TRUE(first["result"]["started"].asBool());
  // The dead address keeps the first scan running for its 700 ms deadline.
  EXPECT_FALSE(second["result"]["started"].asBool()) << to_json(second);
  EXPECT_EQ(second["result"]["scan"], first["result"]["scan"]);
  Json::Value status = scan(*s_);
  EXPECT_EQ(status["found"].asInt(), 3) << to_json(status);
}

TEST_F(Scan, ANodeThatStoppedIsRememberedButNotCurrent) {
  scan(*s_);
  ASSERT_EQ(b_->stop(), 0);
  Json::Value status = scan(*s_);
  EXPECT_EQ(status["found"].asInt(), 2) << to_json(status);
  Json::Value nodes = list("listNodes", "nodes");
  const Json::Value* b = find(nodes, "b");
  ASSERT_NE(b, nullptr) << to_json(nodes);
  EXPECT_FALSE((*b)["current"].asBool()) << to_json(*b);
  EXPECT_TRUE((*find(nodes, "a"))["current"].asBool());
}

TEST_F(Scan, NodeIdStaysTheSameAcrossRestarts) {
  const std::string id = a_->rpc("nodeInfo")["result"]["id"].asString();
  EXPECT_EQ(id.size(), 32u);
  ASSERT_EQ(a_->stop(), 0);
  a_->launch();
  EXPECT_EQ(a_->rpc("nodeInfo")["result"]["id"].asString(), id);
  EXPECT_NE(b_->rpc("nodeInfo")["result"]["id"].asString(), id);
}

TEST_F(Scan, CliScansWithProgressAndListsGateways) {
  CommandResult r = s_->cli({"-s"}, 60s);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("3 node(s), 1 gateway(s)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("static-forwarding-free"), std::string::npos) << r.out;

  r = s_->cli({"-l", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  Json::Value parsed;
  std::string errors;
  std::istringstream in(r.out);
  ASSERT_TRUE(Json::parseFromStream(Json::CharReaderBuilder(), in, &parsed, &errors)) << r.out;
  ASSERT_EQ(parsed["gateways"].size(), 1u) << r.out;
  EXPECT_EQ(parsed["gateways"][0]["name"].asString(), "g");

  r = s_->cli({"--nodes"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const char* name : {"a ", "b ", "g "}) EXPECT_NE(r.out.find(name), std::string::npos) << r.out;

  r = s_->cli({"-s", "--json"}, 60s);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::istringstream in2(r.out);
  ASSERT_TRUE(Json::parseFromStream(Json::CharReaderBuilder(), in2, &parsed, &errors)) << r.out;
  EXPECT_EQ(parsed["found"].asInt(), 3) << r.out;
}

TEST_F(Scan, BackgroundScansRunEveryInterval) {
  // s runs with scan.interval 0: nothing happens by itself.
  EXPECT_EQ(s_->rpc("scanStatus")["result"]["scan"].asInt(), 0);
  Json::Value change(Json::objectValue);
  change["scan.interval"] = 1;
  ASSERT_TRUE(rpc_succeeded(s_->rpc("setConfig", change)));
  // No scan has run yet, so the first is due at once; then one a second.
  Json::Value status;
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (std::chrono::steady_clock::now() < deadline) {
    status = s_->rpc("scanStatus")["result"];
    if (status["scan"].asInt() >= 2 && !status["running"].asBool()) break;
    std::this_thread::sleep_for(200ms);
  }
  EXPECT_GE(status["scan"].asInt(), 2) << to_json(status);
  EXPECT_TRUE(status["background"].asBool()) << to_json(status);
  EXPECT_EQ(status["found"].asInt(), 3) << to_json(status);
  EXPECT_EQ(node_names(s_->rpc("listGateways")["result"]["gateways"]),
            std::set<std::string>{"g"});
}

TEST_F(Scan, ScanMethodsAreAdminOnly) {
  for (const char* method : {"startScan", "scanStatus", "listNodes", "listGateways"}) {
    Json::Value r = rpc(topology_.ns("a"), topology_.address("s", "lan"), s_->rpc_port(), method);
    EXPECT_EQ(rpc_error_code(r), rpc_unauthorized) << method << " " << to_json(r);
  }
  Json::Value params(Json::objectValue);
  params["now"] = true;
  Json::Value bad = s_->rpc("startScan", params);
  EXPECT_EQ(rpc_error_code(bad), -32602) << to_json(bad);
}

// A gateway at an IPv6 address of full length (as cjdns addresses are), with
// a long UTF-8 name and several suites: each value must stay its own column
// in what `mnigs-cli -l` and `--nodes` print.
class CliTables : public SystemTest {
 protected:
  static constexpr const char* kAddress = "fd77:a1b2:c3d4:e5f6:a7b8:c9da:ebfc:1d2e";
  static constexpr const char* kName = "Dachgarten-Zürich-rooftop-gateway";

  void SetUp() override {
    SystemTest::SetUp();
    if (HasFatalFailure()) return;
    topology_.node("s").node("g").link("s", "g");
    topology_.up();
    run_checked({"ip", "-n", topology_.ns("g"), "-6", "addr", "add", std::string(kAddress) + "/64",
                 "dev", topology_.interface("g", "s"), "nodad"});
    run_checked({"ip", "-n", topology_.ns("s"), "-6", "addr", "add", "fd77:a1b2:c3d4:e5f6::1/64",
                 "dev", topology_.interface("s", "g"), "nodad"});
    // Static discovery alone, told only the long address: g is found there.
    s_ = std::make_unique<Node>(topology_, "s",
                                NodeOptions()
                                    .only_discovery("static")
                                    .set("static", "peers", "[" + yaml_quote(kAddress) + "]")
                                    .set("scan", "timeout", "700")
                                    .set("scan", "interval", "0"));
    g_ = std::make_unique<Node>(
        topology_, "g",
        NodeOptions().set("main", "name", yaml_quote(kName)).set("gateway", "enabled", "true"));
    for (auto* n : {s_.get(), g_.get()}) n->start();
    for (auto* n : {s_.get(), g_.get()}) n->wait_ready();
  }

  static std::vector<std::string> lines(const std::string& text) {
    std::vector<std::string> out;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) out.push_back(line);
    return out;
  }

  static std::vector<std::string> fields(const std::string& line) {
    std::vector<std::string> out;
    std::istringstream in(line);
    for (std::string f; in >> f;) out.push_back(f);
    return out;
  }

  // The terminal column (from 0; every character here is one column wide)
  // at which each of the first `n` whitespace-separated fields starts.
  static std::vector<std::size_t> starts(const std::string& line, std::size_t n) {
    std::vector<std::size_t> out;
    std::size_t column = 0;
    bool in_field = false;
    for (unsigned char c : line) {
      if ((c & 0xc0) == 0x80) continue;  // UTF-8 continuation byte
      const bool space = c == ' ';
      if (!space && !in_field && out.size() < n) out.push_back(column);
      in_field = !space;
      ++column;
    }
    return out;
  }

  Topology topology_;
  std::unique_ptr<Node> s_, g_;
};

TEST_F(CliTables, GatewayListKeepsEveryValueInItsColumn) {
  ASSERT_EQ(scan(*s_)["gateways"].asInt(), 1);
  const Json::Value gateways = s_->rpc("listGateways")["result"]["gateways"];
  ASSERT_EQ(gateways.size(), 1u) << to_json(gateways);
  std::string suites;
  for (const auto& suite : gateways[0]["suites"])
    suites += (suites.empty() ? "" : ",") + suite.asString();
  ASSERT_GE(gateways[0]["suites"].size(), 2u) << to_json(gateways);

  CommandResult r = s_->cli({"-l"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  const auto out = lines(r.out);
  ASSERT_EQ(out.size(), 2u) << r.out;
  EXPECT_EQ(fields(out[0]), (std::vector<std::string>{"NAME", "ADDRESS", "PORT", "SUITES", "PRICE",
                                                      "SCORE", "SOURCE", "LAST", "SEEN"}))
      << r.out;
  const auto row = fields(out[1]);
  ASSERT_GE(row.size(), 9u) << r.out;
  EXPECT_EQ(row[0], kName) << r.out;
  EXPECT_EQ(row[1], kAddress) << r.out;
  EXPECT_EQ(row[2], std::to_string(g_->rpc_port())) << r.out;
  EXPECT_EQ(row[3], suites) << r.out;
  EXPECT_EQ(row[4], "free") << r.out;
  EXPECT_EQ(row[5], "-") << "never tested: no score\n" << r.out;
  EXPECT_EQ(row[6], "scan") << r.out;
  EXPECT_EQ(row.back(), "ago") << r.out;
  // Under their headers, too.
  EXPECT_EQ(starts(out[1], 7), starts(out[0], 7)) << r.out;
  for (const auto& line : out) EXPECT_TRUE(line.empty() || line.back() != ' ') << r.out;
}

TEST_F(CliTables, NodeListKeepsEveryValueInItsColumn) {
  ASSERT_EQ(scan(*s_)["found"].asInt(), 1);
  CommandResult r = s_->cli({"--nodes"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  const auto out = lines(r.out);
  ASSERT_EQ(out.size(), 2u) << r.out;
  EXPECT_EQ(fields(out[0]), (std::vector<std::string>{"NAME", "ADDRESS", "PORT", "GATEWAY",
                                                      "NETWORKS", "LAST", "SEEN"}))
      << r.out;
  const auto row = fields(out[1]);
  ASSERT_GE(row.size(), 7u) << r.out;
  EXPECT_EQ(row[0], kName) << r.out;
  EXPECT_EQ(row[1], kAddress) << r.out;
  EXPECT_EQ(row[2], std::to_string(g_->rpc_port())) << r.out;
  EXPECT_EQ(row[3], "yes") << r.out;
  EXPECT_EQ(row[4], "static") << r.out;
  EXPECT_EQ(row.back(), "ago") << r.out;
  EXPECT_EQ(starts(out[1], 5), starts(out[0], 5)) << r.out;
  for (const auto& line : out) EXPECT_TRUE(line.empty() || line.back() != ' ') << r.out;
}

}  // namespace
}  // namespace mnigs::test
