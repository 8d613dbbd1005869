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
      (gw == std::string("gwa") ? gwa_ : gwb_) = std::make_unique<Node>(
          topology_, gw,
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
    args.push_back("http://" + topology_.address(gw, "client") + ":" +
                   std::to_string(kFrontPort) + path);
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
  // is back (3000 at most).
  std::atomic<int> done{0};
  std::mutex mutex;  // guards failures
  std::vector<std::string> failures;
  std::jthread client([&](std::stop_token stop) {
    for (int i = 0; i < 3000 && (i < 200 || !stop.stop_requested()); ++i) {
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

}  // namespace
}  // namespace mnigs::test
