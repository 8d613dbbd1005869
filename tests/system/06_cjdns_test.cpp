// Discovery over cjdns: the scanning node s asks "cjdroute" (the test peer
// mnigs-test-cjdroute, speaking cjdroute's admin protocol on
// 127.0.0.1:11234 in s's namespace) for its node store and peers, and probes
// the fc00::/8 addresses it learns. s's cjdroute.conf is the whole output of
// a real `cjdroute --genconf` (admin password "NONE").
//
//   s, a, b on one bridge. a and b run mnigsd and hold the fc00::/8
//   addresses of their cjdns keys; cjdroute on s also reports a fourth key
//   whose address nobody holds. a is a peer of s, b is only in the store.
//
// Only the cjdns discovery plugin runs on s, so whatever s finds, it found
// through cjdns.
#include <json/json.h>
#include <signal.h>

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
#ifndef MNIGS_CJDNS_TESTDATA
#error "MNIGS_CJDNS_TESTDATA must name plugins/discovery/cjdns/testdata"
#endif

namespace mnigs::test {
namespace {

// cjdns keys and the addresses they own (first 16 bytes of
// sha512(sha512(key))), as inet_ntop prints them.
struct Identity {
  const char* key;
  const char* address;
};
const Identity kS = {"nrjgkkj95zb3thx1uctcurrtu6jl4c71bgl9pm4ydtvsfshltr50.k",
                     "fc5c:afd5:da49:bc6:88ba:7327:e665:ae01"};
const Identity kA = {"dyh3fhkhmmx25f02bblyx80ydc3s3xsxtcrh957c1jy94yvfxc01.k",
                     "fc72:f475:6337:b8c8:3d2c:70ec:f0dd:64a"};
const Identity kB = {"t3ddmq078szxu2crkmw5slsxzlbd88mq4qfgh794l7nkgvsfj220.k",
                     "fca3:ec6f:518:6803:1692:79c6:cba4:b92e"};
const Identity kNobody = {"p2kvsthsc29rxzb89b4qnr94q1qv21nln1xg36vszcndntg4ry90.k",
                          "fc05:1e75:998f:415a:1564:e3ec:cf43:3087"};

// What --genconf puts in admin.password.
const std::string kAdminPassword = "NONE";


class CjdnsScan : public SystemTest {
 protected:
  void SetUp() override {
    SystemTest::SetUp();
    if (HasFatalFailure()) return;
    topology_.node("s").node("a").node("b");
    topology_.bridge("lan", {"s", "a", "b"});
    topology_.up();
    // The addresses cjdroute's tun device would carry, with its fc00::/8 route.
    const std::pair<const char*, Identity> holders[] = {{"s", kS}, {"a", kA}, {"b", kB}};
    for (const auto& [name, id] : holders)
      run_checked({"ip", "-n", topology_.ns(name), "-6", "addr", "add",
                   std::string(id.address) + "/8", "dev", topology_.interface(name, "lan"),
                   "nodad"});
    a_ = std::make_unique<Node>(topology_, "a");
    b_ = std::make_unique<Node>(topology_, "b");
    a_->start();
    b_->start();
  }

  void TearDown() override {
    if (peer_pid_ > 0) {
      terminate_processes({peer_pid_});
      Reaper::instance().forget_pid(peer_pid_);
    }
    if (HasFailure() && s_) std::cerr << "---- test cjdroute log ----\n" << peer_log() << "----\n";
  }

  // Starts cjdroute's stand-in with `password` and s, whose cjdroute.conf is
  // the one --genconf wrote (its password kAdminPassword).
  void start_s(const std::string& password) {
    s_ = std::make_unique<Node>(topology_, "s",
                                NodeOptions()
                                    .only_discovery("cjdns")
                                    .set("cjdns", "adminFile", "\"\"")
                                    .set("scan", "interval", "0")
                                    .set("scan", "timeout", "700"));
    // In s's own scratch directory, which exists once the Node does.
    s_->options().set("cjdns", "confFile", yaml_quote(conf_path()));
    write_files();
    peer_pid_ = spawn_in_ns(topology_.ns("s"),
                            {std::string(MNIGS_TEST_PEER_DIR) + "/mnigs-test-cjdroute", "--bind",
                             "127.0.0.1:11234", "--password", password, "--data", data_path()},
                            peer_log_path());
    Reaper::instance().watch_pid(peer_pid_);
    wait_for_peer();
    s_->start();
    s_->wait_ready();
    a_->wait_ready();
    b_->wait_ready();
  }

  void write_files() {
    std::filesystem::copy_file(std::string(MNIGS_CJDNS_TESTDATA) + "/cjdroute-v21.1-genconf.conf",
                               conf_path(), std::filesystem::copy_options::overwrite_existing);
    Json::Value data(Json::objectValue);
    data["self"] = kS.key;
    // cjdroute lists its own node wherever its node store puts it: here
    // third, and the table (a, b, s, nobody) fills one page of 4, so an
    // empty page follows, as the real one sends.
    data["selfAt"] = 2;
    auto entry = [](const Identity& id, const char* path) {
      Json::Value e(Json::objectValue);
      e["key"] = id.key;
      e["path"] = path;
      return e;
    };
    data["nodes"].append(entry(kA, "0000.0000.0000.0013"));
    data["nodes"].append(entry(kB, "0000.0000.0000.0153"));
    data["nodes"].append(entry(kNobody, "0000.0000.0000.1553"));
    data["peers"].append(entry(kA, "0000.0000.0000.0013"));
    std::ofstream(data_path()) << to_json(data);
  }

  void wait_for_peer() {
    for (int i = 0; i < 100; ++i) {
      if (peer_log().find("admin on 127.0.0.1:11234") != std::string::npos) return;
      if (!process_alive(peer_pid_)) break;
      std::this_thread::sleep_for(50ms);
    }
    FAIL() << "mnigs-test-cjdroute did not start:\n" << peer_log();
  }

  std::string conf_path() const { return s_->dir() + "/cjdroute.conf"; }
  std::string data_path() const { return s_->dir() + "/cjdroute-nodes.json"; }
  std::string peer_log_path() const { return s_->dir() + "/cjdroute.log"; }
  std::string peer_log() const { return s_ ? read_all(peer_log_path()) : ""; }

  Json::Value cjdns_plugin() const {
    Json::Value r = s_->rpc("listPlugins");
    EXPECT_TRUE(rpc_succeeded(r)) << to_json(r);
    for (const auto& p : r["result"]["plugins"])
      if (p["name"].asString() == "cjdns") return p;
    ADD_FAILURE() << "no cjdns plugin in " << to_json(r);
    return Json::Value();
  }

  Topology topology_;  // declared first: destroyed after the nodes in it
  std::unique_ptr<Node> a_, b_, s_;
  pid_t peer_pid_ = -1;
};

TEST_F(CjdnsScan, FindsExactlyTheMnigsNodesCjdrouteKnows) {
  start_s(kAdminPassword);
  Json::Value status = scan(*s_);
  EXPECT_EQ(status["found"].asInt(), 2) << to_json(status);
  EXPECT_TRUE(status["errors"].empty()) << to_json(status);
  // a, b and the address nobody holds; s itself is not a candidate.
  EXPECT_EQ(status["total"].asInt(), 3) << to_json(status);
  EXPECT_EQ(status["probed"], status["total"]) << to_json(status);

  Json::Value r = s_->rpc("listNodes");
  ASSERT_TRUE(rpc_succeeded(r)) << to_json(r);
  const Json::Value& nodes = r["result"]["nodes"];
  EXPECT_EQ(node_names(nodes), (std::set<std::string>{"a", "b"})) << to_json(nodes);
  for (const auto& n : nodes) {
    SCOPED_TRACE(to_json(n));
    const Identity& id = n["name"].asString() == "a" ? kA : kB;
    // Reached at the address its cjdns key owns, known by that key.
    EXPECT_EQ(n["address"].asString(), id.address);
    EXPECT_EQ(n["meshIds"]["cjdns"].asString(), id.key);
    bool by_cjdns = false;
    for (const auto& network : n["networks"]) by_cjdns |= network.asString() == "cjdns";
    EXPECT_TRUE(by_cjdns);
    EXPECT_FALSE(n["gateway"].asBool());
  }

  // The plugin asked cjdroute with the password, page after page.
  const std::string log = peer_log();
  EXPECT_GE(count_lines_with(log, "auth NodeStore_dumpTable page 1 ->"), 1u) << log;
  EXPECT_GE(count_lines_with(log, "auth InterfaceController_peerStats page 0 ->"), 1u) << log;
  EXPECT_EQ(count_lines_with(log, "Auth failed."), 0u) << log;

  Json::Value plugin = cjdns_plugin();
  EXPECT_EQ(plugin["state"].asString(), "running") << to_json(plugin);
  EXPECT_EQ(plugin["status"]["error"].asString(), "") << to_json(plugin);
  EXPECT_EQ(plugin["status"]["nodes"].asInt(), 3) << to_json(plugin);
  EXPECT_EQ(plugin["status"]["peers"].asInt(), 1) << to_json(plugin);
  EXPECT_EQ(plugin["status"]["admin"].asString(), "127.0.0.1:11234") << to_json(plugin);
}

TEST_F(CjdnsScan, WrongPasswordIsReportedClearlyAndTheDaemonCarriesOn) {
  start_s("not-the-password");
  const std::string expected = "cjdroute admin at 127.0.0.1:11234 refused the password from " +
                               conf_path() + " (Auth failed.)";
  for (int round = 0; round < 2; ++round) {
    Json::Value status = scan(*s_);
    EXPECT_EQ(status["found"].asInt(), 0) << to_json(status);
    ASSERT_EQ(status["errors"].size(), 1u) << to_json(status);
    EXPECT_EQ(status["errors"][0]["plugin"].asString(), "cjdns") << to_json(status);
    EXPECT_EQ(status["errors"][0]["error"].asString(), expected) << to_json(status);
  }
  Json::Value plugin = cjdns_plugin();
  EXPECT_EQ(plugin["state"].asString(), "degraded") << to_json(plugin);
  EXPECT_EQ(plugin["error"].asString(), expected) << to_json(plugin);
  EXPECT_EQ(plugin["status"]["error"].asString(), expected) << to_json(plugin);
  // The plain listing says so too, on the plugin's line.
  auto listing = s_->cli({"--plugins"});
  ASSERT_EQ(listing.exit_code, 0) << listing.err;
  std::string line;
  for (std::istringstream in(listing.out); std::getline(in, line);)
    if (line.rfind("cjdns ", 0) == 0) break;
  EXPECT_NE(line.find(" degraded "), std::string::npos) << listing.out;
  EXPECT_NE(line.find(expected), std::string::npos) << listing.out;

  // Logged when it appeared, not at each of the two scans.
  EXPECT_EQ(count_lines_with(s_->log(), "[cjdns] " + expected), 1u) << s_->log_tail(60);
  EXPECT_GE(count_lines_with(peer_log(), "Auth failed."), 2u) << peer_log();

  EXPECT_TRUE(s_->running());
  EXPECT_TRUE(rpc_succeeded(s_->rpc("status")));
}

}  // namespace
}  // namespace mnigs::test
