// A node that names no gateway for its HTTP tunnels finds one by itself: the
// gateway announces its front in nodeInfo ("services") and its DHT offer, a
// scan finds the gateway, and the node (which takes no connection from
// outside) links to it and is reached through its front.
//
//   client ---- gw ---- node        link 1: client–gw, link 2: gw–node
#include <memory>

#include "harness/http_echo.hpp"
#include "harness/system_test.hpp"
#include "harness/wait.hpp"
#include "httptunnel_lab.hpp"

namespace mnigs::test {
namespace {

constexpr int kServicePort = 9000;
const std::string kDomain = "tunnel.test";

class HttpTunnelOffers : public SystemTest {
 protected:
  void SetUp() override {
    SystemTest::SetUp();
    if (HasFatalFailure()) return;
    topology_.node("client").node("gw").node("node");
    topology_.link("client", "gw").link("gw", "node");
    topology_.up();
    httptunnel::hide(topology_, "node");  // it takes no connection from outside
    service_ = std::make_unique<HttpEcho>(topology_.ns("node"), "127.0.0.1", kServicePort);
    front_ = topology_.address("gw", "client");
    gw_ = std::make_unique<Node>(
        topology_, "gw",
        NodeOptions()
            .only_discovery("static")
            .set("gateway", "enabled", "true")
            .set("forwarding", "uplink", yaml_quote(topology_.interface("gw", "client")))
            .set("httptunnel", "listen", "[" + yaml_quote(front_ + ":8080") + "]")
            .set("httptunnel", "domain", yaml_quote(kDomain)));
    node_ = std::make_unique<Node>(
        topology_, "node",
        NodeOptions()
            .only_discovery("static")
            .set("static", "peers", "[" + yaml_quote(topology_.address("gw", "node")) + "]")
            .set("scan", "interval", "0")  // only the scans the test asks for
            .set("httptunnel", "id", "tim")
            .set("httptunnel", "services", "[\"hello=9000\"]"));
    gw_->start();
    node_->start();
    gw_->wait_ready();
    node_->wait_ready();
  }

  Topology topology_;  // declared first: destroyed after everything in it
  std::unique_ptr<HttpEcho> service_;
  std::unique_ptr<Node> gw_, node_;
  std::string front_;
};

TEST_F(HttpTunnelOffers, ANodeFindsTheGatewayThatAnnouncesTunnelsAndIsReachedThroughIt) {
  // The gateway says where its front is.
  const Json::Value info = gw_->rpc("nodeInfo");
  ASSERT_TRUE(rpc_succeeded(info)) << to_json(info);
  EXPECT_EQ(info["result"]["services"]["httptunnel"].asString(),
            "http://" + kDomain + ":8080/")
      << to_json(info);

  // Before a scan the node knows no gateway, and says so.
  Json::Value status = httptunnel::status(*node_);
  EXPECT_NE(status["error"].asString().find("no gateway known to this node announces"),
            std::string::npos)
      << to_json(status);

  ASSERT_TRUE(rpc_succeeded(node_->rpc("startScan"))) << "the scan did not start";
  const std::string gw_at = topology_.address("gw", "node") + ":65533";
  const bool up = wait_until(
      [&] {
        status = httptunnel::status(*node_);
        return status["node"]["found"].size() == 1 && status["node"]["found"][0] == gw_at &&
               status["node"]["links"].size() == 1 &&
               status["node"]["links"][0]["state"] == "up";
      },
      300, 100ms);
  ASSERT_TRUE(up) << to_json(status);
  EXPECT_EQ(status.get("error", "").asString(), "") << to_json(status);

  // What the node's gateway list shows of it.
  const Json::Value list = node_->rpc("listGateways");
  ASSERT_EQ(list["result"]["gateways"].size(), 1u) << to_json(list);
  EXPECT_EQ(list["result"]["gateways"][0]["services"]["httptunnel"].asString(),
            "http://" + kDomain + ":8080/");

  // And the node's service is reached through the gateway's front.
  EXPECT_EQ(httptunnel::curl(topology_, "client",
                             {"-H", "Host: hello.tim." + kDomain, "http://" + front_ + ":8080/"}),
            "client=127.0.0.1\n\n200");
}

}  // namespace
}  // namespace mnigs::test
