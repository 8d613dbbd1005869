// tunnel/httptunnel with more than one of a kind, real daemons in
// namespaces: a node linked to two gateways keeps serving through one while
// the other dies, and links to it again when it is back; two nodes holding
// one token with the same secret follow httptunnel.policy (reject,
// failover, balance).
#include <atomic>
#include <fstream>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "harness/http_echo.hpp"
#include "harness/system_test.hpp"
#include "harness/wait.hpp"
#include "httptunnel_lab.hpp"

namespace mnigs::test {
namespace {

constexpr int kFrontPort = 8080;
const std::string kDomain = "tunnel.test";
const std::string kServed = "client=127.0.0.1\n\n200";

//          .---- gwa ----.        link 1: client–gwa   link 3: gwa–node
//   client                node    link 2: client–gwb   link 4: gwb–node
//          `---- gwb ----'
//
// The node (whose firewall lets nothing in) has httptunnel.gateways listing
// both, and two services on its loopback: "hello" (9000) and "big" (9001).
class HttpTunnelTwoGateways : public SystemTest {
 protected:
  void SetUp() override {
    SystemTest::SetUp();
    if (HasFatalFailure()) return;
    topology_.node("client").node("gwa").node("gwb").node("node");
    topology_.link("client", "gwa").link("client", "gwb");
    topology_.link("gwa", "node").link("gwb", "node");
    topology_.up();
    httptunnel::hide(topology_, "node");
    hello_ = std::make_unique<HttpEcho>(topology_.ns("node"), "127.0.0.1", 9000);
    big_ = std::make_unique<HttpEcho>(topology_.ns("node"), "127.0.0.1", 9001);
    for (const char* gw : {"gwa", "gwb"}) {
      const std::string front = topology_.address(gw, "client") + ":" + std::to_string(kFrontPort);
      (gw == std::string("gwa") ? gwa_ : gwb_) =
          std::make_unique<Node>(topology_, gw,
                                 NodeOptions()
                                     .only_discovery("static")
                                     .set("httptunnel", "listen", "[" + yaml_quote(front) + "]")
                                     .set("httptunnel", "domain", yaml_quote(kDomain)));
    }
    to_a_ = topology_.address("gwa", "node") + ":65533";
    to_b_ = topology_.address("gwb", "node") + ":65533";
    node_ = std::make_unique<Node>(
        topology_, "node",
        NodeOptions()
            .only_discovery("static")
            .set("httptunnel", "gateways", "[" + yaml_quote(to_a_) + ", " + yaml_quote(to_b_) + "]")
            .set("httptunnel", "id", "tim")
            .set("httptunnel", "services", "[\"hello=9000\", \"big=9001\"]")
            .set("httptunnel", "pingTimeout", "6"));
    gwa_->start();
    gwb_->start();
    node_->start();
    gwa_->wait_ready();
    gwb_->wait_ready();
    node_->wait_ready();
  }

  // curl from the client through gateway `gw`'s front to the service
  // `service` of tim.
  std::string get(const std::string& gw, const std::string& service, const std::string& path,
                  const std::vector<std::string>& more = {}) {
    std::vector<std::string> args = {"-H", "Host: " + service + ".tim." + kDomain};
    args.insert(args.end(), more.begin(), more.end());
    args.push_back("http://" + topology_.address(gw, "client") + ":" + std::to_string(kFrontPort) +
                   path);
    return httptunnel::curl(topology_, "client", args);
  }
  std::string state_to(const std::string& gateway) const {
    return httptunnel::link(*node_, gateway)["state"].asString();
  }

  Topology topology_;  // declared first: destroyed after everything in it
  std::unique_ptr<HttpEcho> hello_, big_;
  std::unique_ptr<Node> gwa_, gwb_, node_;
  std::string to_a_, to_b_;
};

// Gateway A's mnigsd is killed (SIGKILL) while a client keeps asking
// through gateway B and a download through A is under way at the node: not
// one request through B fails, the node lets go of the download's service
// connection, and once A is back the node links to it again by itself and
// requests through A are answered again.
TEST_F(HttpTunnelTwoGateways, OneGatewayDyingLosesNothingThroughTheOther) {
  ASSERT_TRUE(wait_until([&] { return httptunnel::links_up(*node_, 2); }, 100, 100ms))
      << httptunnel::status(*node_).toStyledString();
  ASSERT_EQ(get("gwa", "hello", "/a"), kServed);

  // A slow download through A (1 MB/s of 100 MB), in flight at the node.
  std::string slow;
  std::jthread download([&] {
    slow = topology_
               .exec("client",
                     {"curl", "-s", "-m", "120", "--limit-rate", "1M", "-o", "/dev/null", "-w",
                      "%{http_code} %{size_download}", "-H", "Host: big.tim." + kDomain,
                      "http://" + topology_.address("gwa", "client") + ":" +
                          std::to_string(kFrontPort) + "/bytes/100000000"},
                     150s)
               .out;
  });
  ASSERT_TRUE(wait_until(
      [&] { return httptunnel::link(*node_, to_a_)["streamsOpen"].asUInt() >= 1; }, 100, 100ms))
      << httptunnel::status(*node_).toStyledString();

  // Requests through B, one after the other: at least 200, and on until A
  // is back (20000 at most: the node may wait a minute to try A again).
  std::atomic<int> done{0};
  std::mutex mutex;  // guards failures
  std::vector<std::string> failures;
  std::jthread client([&](std::stop_token stop) {
    for (int i = 0; i < 20000 && (i < 200 || !stop.stop_requested()); ++i) {
      const std::string answer = get("gwb", "hello", "/b" + std::to_string(i));
      if (answer != kServed) {
        std::lock_guard<std::mutex> lock(mutex);
        failures.push_back("request " + std::to_string(i) + ": " + answer);
      }
      ++done;
    }
  });
  ASSERT_TRUE(wait_until([&] { return done >= 20; }, 300, 100ms)) << done;

  EXPECT_EQ(gwa_->kill9(), 128 + 9);
  ASSERT_TRUE(wait_until([&] { return state_to(to_a_).starts_with("down"); }, 100, 100ms))
      << httptunnel::status(*node_).toStyledString();
  download.join();
  EXPECT_NE(slow, "200 100000000");
  // The node closed the download's connection to "big" (which serves one
  // connection at a time): it answers again, through B.
  EXPECT_EQ(get("gwb", "big", "/after"), kServed) << node_->log_tail();
  const int at_kill = done;
  ASSERT_TRUE(wait_until([&] { return done >= at_kill + 20; }, 300, 100ms)) << done;

  gwa_->start();
  gwa_->wait_ready();
  // The node tries again after 1 s, doubling: well within 90 s.
  ASSERT_TRUE(wait_until([&] { return state_to(to_a_) == "up"; }, 900, 100ms))
      << httptunnel::status(*node_).toStyledString() << gwa_->log_tail();
  const int at_back = done;
  ASSERT_TRUE(wait_until([&] { return done >= at_back + 20; }, 300, 100ms)) << done;
  client.request_stop();
  client.join();

  EXPECT_GE(done, 200);
  std::lock_guard<std::mutex> lock(mutex);
  EXPECT_TRUE(failures.empty()) << failures.size() << " failed, the first: " << failures[0]
                                << gwb_->log_tail() << node_->log_tail();
  EXPECT_TRUE(httptunnel::links_up(*node_, 2)) << httptunnel::status(*node_).toStyledString();
  EXPECT_EQ(get("gwa", "hello", "/a-again"), kServed) << gwa_->log_tail();
  EXPECT_EQ(httptunnel::status(*gwa_)["gateway"]["tunnels"].asUInt(), 1u);
}

//            .---- n1        link 1: client–gw
//   client -- gw             link 2: gw–n1
//            `---- n2        link 3: gw–n2
//
// Two nodes hold one token with the same secret (httptunnel.secretFile,
// the same text in a file of each), each with its own HttpEcho as the
// token's server, so the echo that counts a request tells which node
// served it. n1 links first.
class HttpTunnelSameToken : public SystemTest {
 protected:
  static constexpr const char* kToken = "fedcba9876543210-shared";
  static constexpr const char* kSecret = "0f1e2d3c4b5a69788796a5b4c3d2e1f0-same";

  void SetUp() override {
    SystemTest::SetUp();
    if (HasFatalFailure()) return;
    topology_.node("client").node("gw").node("n1").node("n2");
    topology_.link("client", "gw").link("gw", "n1").link("gw", "n2");
    topology_.up();
    front_ = "http://" + topology_.address("gw", "client") + ":" + std::to_string(kFrontPort);
    for (const char* name : {"n1", "n2"}) {
      echo_.push_back(std::make_unique<HttpEcho>(topology_.ns(name), "127.0.0.1", 9000));
      auto n = std::make_unique<Node>(topology_, name, NodeOptions());
      const std::string secret_file = n->dir() + "/secret";
      std::ofstream(secret_file) << kSecret << "\n";
      n->options()
          .only_discovery("static")
          .set("httptunnel", "gateways",
               "[" + yaml_quote(topology_.address("gw", name) + ":65533") + "]")
          .set("httptunnel", "token", yaml_quote(kToken))
          .set("httptunnel", "server", yaml_quote("http://127.0.0.1:9000"))
          .set("httptunnel", "secretFile", yaml_quote(secret_file));
      nodes_.push_back(std::move(n));
    }
  }

  // The gateway with httptunnel.policy `policy`, then n1 with its link up,
  // then n2.
  void start(const std::string& policy) {
    gw_ = std::make_unique<Node>(topology_, "gw",
                                 NodeOptions()
                                     .only_discovery("static")
                                     .set("httptunnel", "listen",
                                          "[" +
                                              yaml_quote(topology_.address("gw", "client") + ":" +
                                                         std::to_string(kFrontPort)) +
                                              "]")
                                     .set("httptunnel", "policy", yaml_quote(policy)));
    gw_->launch();
    nodes_[0]->launch();
    ASSERT_TRUE(wait_until([&] { return httptunnel::links_up(*nodes_[0], 1); }, 100, 100ms))
        << httptunnel::status(*nodes_[0]).toStyledString() << nodes_[0]->log_tail();
    nodes_[1]->launch();
  }

  // `count` requests by token, one after the other; true if all are served.
  bool ask(int count) {
    bool all = true;
    for (int i = 0; i < count; ++i) {
      const std::string answer = httptunnel::curl(
          topology_, "client", {front_ + "/_token/" + kToken + "/r" + std::to_string(i)});
      EXPECT_EQ(answer, kServed) << "request " << i;
      all = all && answer == kServed;
    }
    return all;
  }
  // The echoes of n1 and n2 have counted `first` and `second` requests. An
  // echo counts a request once its answer is written, which curl may have
  // read already: wait for the sum.
  bool served(int first, int second) {
    wait_until([&] { return echo_[0]->served() + echo_[1]->served() >= first + second; }, 50, 20ms);
    return echo_[0]->served() == first && echo_[1]->served() == second;
  }
  std::string counts() const {
    return "n1 served " + std::to_string(echo_[0]->served()) + ", n2 " +
           std::to_string(echo_[1]->served());
  }
  unsigned tunnels() const { return httptunnel::status(*gw_)["gateway"]["tunnels"].asUInt(); }

  Topology topology_;  // declared first: destroyed after everything in it
  std::vector<std::unique_ptr<HttpEcho>> echo_;
  std::vector<std::unique_ptr<Node>> nodes_;
  std::unique_ptr<Node> gw_;
  std::string front_;
};

// reject: the second node is refused while the first holds the token, and
// its status says why; requests go to the first.
TEST_F(HttpTunnelSameToken, RejectRefusesTheSecondNode) {
  start("reject");
  if (HasFatalFailure()) return;
  std::string error;
  ASSERT_TRUE(wait_until(
      [&] {
        error = httptunnel::link(*nodes_[1], topology_.address("gw", "n2") + ":65533")["lastError"]
                    .asString();
        return !error.empty();
      },
      100, 100ms))
      << httptunnel::status(*nodes_[1]).toStyledString();
  EXPECT_EQ(error, "refused: 403 a node holds this token already (httptunnel.policy is reject)");
  EXPECT_EQ(tunnels(), 1u);
  ask(4);
  EXPECT_TRUE(served(4, 0)) << counts();
}

// failover: both are linked; requests go to the first, and once it stops,
// to the second.
TEST_F(HttpTunnelSameToken, FailoverServesFromTheFirstThenTheSecond) {
  start("failover");
  if (HasFatalFailure()) return;
  ASSERT_TRUE(wait_until([&] { return httptunnel::links_up(*nodes_[1], 1); }, 100, 100ms))
      << httptunnel::status(*nodes_[1]).toStyledString();
  EXPECT_EQ(tunnels(), 2u);
  ask(4);
  EXPECT_TRUE(served(4, 0)) << counts();
  nodes_[0]->stop();
  ASSERT_TRUE(wait_until([&] { return tunnels() == 1; }, 100, 100ms)) << gw_->log_tail();
  ask(4);
  EXPECT_TRUE(served(4, 4)) << counts();
}

// balance: both are linked and take requests in turn.
TEST_F(HttpTunnelSameToken, BalanceServesFromBoth) {
  start("balance");
  if (HasFatalFailure()) return;
  ASSERT_TRUE(wait_until([&] { return httptunnel::links_up(*nodes_[1], 1); }, 100, 100ms))
      << httptunnel::status(*nodes_[1]).toStyledString();
  EXPECT_EQ(tunnels(), 2u);
  ask(10);
  EXPECT_TRUE(served(5, 5)) << counts();
}

}  // namespace
}  // namespace mnigs::test
