// Discovery over OLSR: the scanning node s asks its "olsrd" (the test peer
// mnigs-test-olsrd in s's namespace, on olsrd's and olsrd2's usual local
// ports) which nodes the mesh has, and probes them.
//
//   s, a, b, g on one bridge. a, b and g run mnigsd, g as a gateway. The
//   peer describes the mesh as OLSR would see it from s: a a neighbour, b
//   behind a, g behind b announcing a default route (HNA 0.0.0.0/0, or ::/0
//   for olsrd2), and a fifth node that runs no mnigsd.
//
// Only the olsr discovery plugin runs on s, so whatever s finds, it found
// through OLSR: first from jsoninfo, then from txtinfo when jsoninfo is not
// there, then from olsrd2's telnet interface; and a jsoninfo that answers
// garbage is reported while the daemon carries on.
#include <json/json.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <set>
#include <sstream>
#include <thread>

#include "harness/scan.hpp"
#include "harness/system_test.hpp"
#include "harness/text.hpp"

#ifndef MNIGS_TEST_PEER_DIR
#error "MNIGS_TEST_PEER_DIR must name the directory of the test peers"
#endif

namespace mnigs::test {
namespace {


// Every discovery plugin of this build except olsr, as a YAML list.
std::string other_discovery_plugins() {
  std::string list = "[";
  for (const auto& entry : std::filesystem::directory_iterator(MNIGS_PLUGIN_BUILD_DIR)) {
    const std::string file = entry.path().filename().string();
    const std::string prefix = "discovery_", suffix = ".so";
    if (file.rfind(prefix, 0) != 0 || file.size() <= prefix.size() + suffix.size() ||
        file.compare(file.size() - suffix.size(), suffix.size(), suffix) != 0)
      continue;
    const std::string name =
        file.substr(prefix.size(), file.size() - prefix.size() - suffix.size());
    if (name == "olsr") continue;
    list += (list.size() > 1 ? ", " : "") + yaml_quote(name);
  }
  return list + "]";
}

enum class Family { v4, v6 };

class OlsrScan : public SystemTest {
 protected:
  void SetUp() override {
    SystemTest::SetUp();
    if (HasFatalFailure()) return;
    topology_.node("s").node("a").node("b").node("g");
    topology_.bridge("lan", {"s", "a", "b", "g"});
    topology_.up();
    a_ = std::make_unique<Node>(topology_, "a");
    b_ = std::make_unique<Node>(topology_, "b");
    g_ = std::make_unique<Node>(topology_, "g", NodeOptions().set("gateway", "enabled", "true"));
    s_ = std::make_unique<Node>(topology_, "s",
                                NodeOptions()
                                    .set("plugins", "disabled", other_discovery_plugins())
                                    .set("scan", "interval", "0")
                                    .set("scan", "timeout", "700"));
    for (auto* n : {s_.get(), a_.get(), b_.get(), g_.get()}) n->start();
    for (auto* n : {s_.get(), a_.get(), b_.get(), g_.get()}) n->wait_ready();
  }

  void TearDown() override {
    stop_peer();
    if (HasFailure() && s_)
      for (const auto& log : peer_logs_)
        std::cerr << "---- " << log << " ----\n" << read_all(log) << "----\n";
  }

  std::string address(const std::string& node, Family f) const {
    return f == Family::v4 ? topology_.address(node, "lan") : topology_.address6(node, "lan");
  }

  // The mesh as OLSR on s sees it. 10.77.1.50 / fd77:0:0:1::50 is in the
  // mesh but holds no mnigsd (nobody holds it at all).
  std::string mesh(Family f) const {
    Json::Value net(Json::objectValue);
    net["self"] = address("s", f);
    net["interface"] = topology_.interface("s", "lan");
    auto node = [&](const std::string& addr, const std::string& via) {
      Json::Value n(Json::objectValue);
      n["address"] = addr;
      n["via"] = via;
      return n;
    };
    const std::string dead = f == Family::v4 ? "10.77.1.50" : "fd77:0:0:1::50";
    net["nodes"].append(node(address("a", f), address("s", f)));
    net["nodes"].append(node(address("b", f), address("a", f)));
    Json::Value gw = node(address("g", f), address("b", f));
    gw["hna"].append(f == Family::v4 ? "0.0.0.0/0" : "::/0");
    net["nodes"].append(gw);
    net["nodes"].append(node(dead, address("g", f)));
    return to_json(net);
  }

  // Starts mnigs-test-olsrd in s's namespace with `listeners` (e.g.
  // {"--jsoninfo", "127.0.0.1:9090"}) and waits until it is ready.
  void start_peer(Family f, std::vector<std::string> args) {
    stop_peer();
    const std::string log = s_->dir() + "/olsrd-" + std::to_string(peer_logs_.size()) + ".log";
    peer_logs_.push_back(log);
    std::vector<std::string> argv = {std::string(MNIGS_TEST_PEER_DIR) + "/mnigs-test-olsrd",
                                     "--network", mesh(f)};
    argv.insert(argv.end(), args.begin(), args.end());
    peer_pid_ = spawn_in_ns(topology_.ns("s"), argv, log);
    Reaper::instance().watch_pid(peer_pid_);
    for (int i = 0; i < 100; ++i) {
      if (read_all(log).find("ready") != std::string::npos) return;
      if (!process_alive(peer_pid_)) break;
      std::this_thread::sleep_for(50ms);
    }
    FAIL() << "mnigs-test-olsrd did not start:\n" << read_all(log);
  }

  void stop_peer() {
    if (peer_pid_ <= 0) return;
    terminate_processes({peer_pid_});
    Reaper::instance().forget_pid(peer_pid_);
    peer_pid_ = -1;
  }

  std::string peer_log() const { return peer_logs_.empty() ? "" : read_all(peer_logs_.back()); }

  Json::Value olsr_plugin() const {
    Json::Value r = s_->rpc("listPlugins");
    EXPECT_TRUE(rpc_succeeded(r)) << to_json(r);
    for (const auto& p : r["result"]["plugins"])
      if (p["name"].asString() == "olsr") return p;
    ADD_FAILURE() << "no olsr plugin in " << to_json(r);
    return Json::Value();
  }

  // A scan finds a, b and g (not the node without mnigsd), through olsr,
  // known by their originator addresses, and g as the one gateway.
  void expect_mesh_found(Family f) {
    Json::Value status = scan(*s_);
    EXPECT_EQ(status["found"].asInt(), 3) << to_json(status);
    EXPECT_EQ(status["gateways"].asInt(), 1) << to_json(status);
    EXPECT_TRUE(status["errors"].empty()) << to_json(status);

    Json::Value r = s_->rpc("listNodes");
    ASSERT_TRUE(rpc_succeeded(r)) << to_json(r);
    const Json::Value& nodes = r["result"]["nodes"];
    EXPECT_EQ(node_names(nodes), (std::set<std::string>{"a", "b", "g"})) << to_json(nodes);
    for (const auto& n : nodes) {
      SCOPED_TRACE(to_json(n));
      const std::string expected = address(n["name"].asString(), f);
      EXPECT_EQ(n["address"].asString(), expected);
      EXPECT_EQ(n["meshIds"]["olsr"].asString(), expected);
      bool by_olsr = false;
      for (const auto& network : n["networks"]) by_olsr |= network.asString() == "olsr";
      EXPECT_TRUE(by_olsr);
    }
    Json::Value gw = s_->rpc("listGateways");
    ASSERT_TRUE(rpc_succeeded(gw)) << to_json(gw);
    EXPECT_EQ(node_names(gw["result"]["gateways"]), std::set<std::string>{"g"}) << to_json(gw);
  }

  Topology topology_;  // declared first: destroyed after the nodes in it
  std::unique_ptr<Node> a_, b_, g_, s_;
  pid_t peer_pid_ = -1;
  std::vector<std::string> peer_logs_;
};

TEST_F(OlsrScan, JsoninfoGivesTheNodesAndTheGateway) {
  start_peer(Family::v4, {"--jsoninfo", "127.0.0.1:9090"});
  expect_mesh_found(Family::v4);

  // One request for the four tables, as an HTTP GET.
  EXPECT_GE(count_lines_with(peer_log(),
                             "jsoninfo: request \"GET /neighbors/routes/hna/topology HTTP/1.0"),
            1u)
      << peer_log();
  Json::Value plugin = olsr_plugin();
  EXPECT_EQ(plugin["state"].asString(), "running") << to_json(plugin);
  const Json::Value& st = plugin["status"];
  EXPECT_EQ(st["source"].asString(), "jsoninfo") << to_json(plugin);
  EXPECT_EQ(st["endpoint"].asString(), "127.0.0.1:9090") << to_json(plugin);
  EXPECT_EQ(st["gateways"].asInt(), 1) << to_json(plugin);
  EXPECT_EQ(st["lastError"].asString(), "") << to_json(plugin);
}

TEST_F(OlsrScan, TxtinfoStandsInWhenJsoninfoIsNotThere) {
  start_peer(Family::v4, {"--txtinfo", "127.0.0.1:2006"});
  expect_mesh_found(Family::v4);
  EXPECT_GE(count_lines_with(peer_log(), "txtinfo: request \"GET /all HTTP/1.0"), 1u) << peer_log();
  Json::Value st = olsr_plugin()["status"];
  EXPECT_EQ(st["source"].asString(), "txtinfo") << to_json(st);
  ASSERT_EQ(st["attempts"].size(), 2u) << to_json(st);
  EXPECT_NE(st["attempts"][0]["error"].asString().find("cannot connect to 127.0.0.1:9090"),
            std::string::npos)
      << to_json(st);
  // An olsrd without jsoninfo is normal: no warning (only a debug line).
  for (const char* warning : {"answered, but the answer is unusable", "no OLSR daemon gave"})
    EXPECT_EQ(count_lines_with(s_->log(), warning), 0u) << s_->log_tail(40);
}

TEST_F(OlsrScan, JunkLinesAmongTxtinfoRowsAreSkippedAndLogged) {
  // A junk line after every row: the rows still count, the junk is logged.
  start_peer(Family::v4, {"--txtinfo", "127.0.0.1:2006", "--fault", "garbage"});
  expect_mesh_found(Family::v4);
  scan(*s_);
  EXPECT_EQ(count_lines_with(s_->log(), "[olsr] txtinfo on 127.0.0.1:2006: skipped "), 1u)
      << s_->log_tail(40);
  Json::Value st = olsr_plugin()["status"];
  EXPECT_GT(st["skipped"].asInt(), 0) << to_json(st);
  EXPECT_EQ(st["lastError"].asString(), "") << to_json(st);
}

TEST_F(OlsrScan, Olsrd2TelnetOverIpv6) {
  start_peer(Family::v6, {"--olsrd2", "127.0.0.1:2009"});
  expect_mesh_found(Family::v6);
  EXPECT_GE(count_lines_with(peer_log(),
                             "olsrd2 telnet: input \"/nhdpinfo head neighbor/nhdpinfo neighbor/"),
            1u)
      << peer_log();
  Json::Value st = olsr_plugin()["status"];
  EXPECT_EQ(st["source"].asString(), "olsrd2") << to_json(st);
  EXPECT_EQ(st["gateways"].asInt(), 1) << to_json(st);
}

TEST_F(OlsrScan, InvalidJsonIsReportedOnceAndTheLastViewStands) {
  start_peer(Family::v4, {"--jsoninfo", "127.0.0.1:9090"});
  expect_mesh_found(Family::v4);

  // The same daemon now answers with something that is not JSON.
  start_peer(Family::v4, {"--jsoninfo", "127.0.0.1:9090", "--fault", "garbage"});
  for (int round = 0; round < 2; ++round) {
    Json::Value status = scan(*s_);
    ASSERT_EQ(status["errors"].size(), 1u) << to_json(status);
    EXPECT_EQ(status["errors"][0]["plugin"].asString(), "olsr") << to_json(status);
    const std::string error = status["errors"][0]["error"].asString();
    EXPECT_NE(error.find("jsoninfo on 127.0.0.1:9090: the reply is not valid JSON"),
              std::string::npos)
        << error;
    // What the daemon said before still counts: the same nodes are probed.
    EXPECT_EQ(status["found"].asInt(), 3) << to_json(status);
  }
  EXPECT_GE(count_lines_with(peer_log(), "jsoninfo: request"), 2u) << peer_log();

  // Logged with the plugin's name when it appeared, not at every scan.
  std::size_t logged = 0;
  std::string line;
  for (std::istringstream in(s_->log()); std::getline(in, line);)
    logged += line.find("[olsr] no OLSR daemon gave a usable answer") != std::string::npos &&
              line.find("not valid JSON") != std::string::npos;
  EXPECT_EQ(logged, 1u) << s_->log_tail(60);
  Json::Value plugin = olsr_plugin();
  EXPECT_EQ(plugin["state"].asString(), "degraded") << to_json(plugin);
  EXPECT_NE(plugin["error"].asString().find("not valid JSON"), std::string::npos)
      << to_json(plugin);
  EXPECT_NE(plugin["status"]["lastError"].asString().find("not valid JSON"), std::string::npos)
      << to_json(plugin);
  EXPECT_TRUE(s_->running());
  EXPECT_TRUE(rpc_succeeded(s_->rpc("status")));
}

TEST_F(OlsrScan, GarbageFromTheStartFindsNothingAndHarmsNothing) {
  start_peer(Family::v4, {"--jsoninfo", "127.0.0.1:9090", "--fault", "garbage"});
  Json::Value status = scan(*s_);
  EXPECT_EQ(status["found"].asInt(), 0) << to_json(status);
  ASSERT_EQ(status["errors"].size(), 1u) << to_json(status);
  EXPECT_NE(status["errors"][0]["error"].asString().find("not valid JSON"), std::string::npos)
      << to_json(status);
  EXPECT_TRUE(rpc_succeeded(s_->rpc("status")));

  // Once the daemon is sane again, the next scan finds everything.
  start_peer(Family::v4, {"--jsoninfo", "127.0.0.1:9090"});
  expect_mesh_found(Family::v4);
}

}  // namespace
}  // namespace mnigs::test
