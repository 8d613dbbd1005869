// tunnel/httptunnel end to end with real daemons: a node whose firewall
// lets nothing in serves a web service on its loopback; a client outside
// reaches it through the gateway's public front, by name and by token.
//
//   client ---- gw ---- node        link 1: client–gw, link 2: gw–node
//
// The node drops every connection that is not its own (nft, input, ct state
// new), so the only way in is the link it opened to the gateway. Its service
// (HttpEcho on 127.0.0.1) answers "client=<peer>": 127.0.0.1 proves the
// request came out of the node's own mnigsd.
#include <memory>
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
constexpr int kServicePort = 9000;
const std::string kToken = "0123456789abcdef-token";
const std::string kDomain = "tunnel.test";

class HttpTunnel : public SystemTest {
 protected:
  void SetUp() override {
    SystemTest::SetUp();
    if (HasFatalFailure()) return;
    topology_.node("client").node("gw").node("node");
    topology_.link("client", "gw").link("gw", "node");
    topology_.up();
    // Nothing reaches the node that it did not ask for.
    httptunnel::hide(topology_, "node");
    service_ = std::make_unique<HttpEcho>(topology_.ns("node"), "127.0.0.1", kServicePort);
    front_ = topology_.address("gw", "client");
    gw_ = std::make_unique<Node>(
        topology_, "gw",
        NodeOptions()
            .only_discovery("static")
            .set("httptunnel", "listen", "[" + yaml_quote(front_ + ":8080") + "]")
            .set("httptunnel", "domain", yaml_quote(kDomain)));
    node_ = std::make_unique<Node>(
        topology_, "node",
        NodeOptions()
            .only_discovery("static")
            .set("httptunnel", "gateways",
                 "[" + yaml_quote(topology_.address("gw", "node") + ":65533") + "]")
            .set("httptunnel", "id", "tim")
            .set("httptunnel", "services", "[\"hello=9000\"]")
            .set("httptunnel", "token", yaml_quote(kToken))
            .set("httptunnel", "server", yaml_quote("http://127.0.0.1:9000"))
            .set("httptunnel", "pingTimeout", "6"));
    gw_->start();
    node_->start();
    gw_->wait_ready();
    node_->wait_ready();
  }

  static Json::Value plugin_status(const Node& n) { return httptunnel::status(n); }
  // Both of the node's links (token and id) are up.
  bool links_up() const { return httptunnel::links_up(*node_, 2); }
  // curl from the client's namespace: "<body>\n<status>".
  std::string curl(const std::vector<std::string>& args) {
    return httptunnel::curl(topology_, "client", args);
  }
  std::string url(const std::string& path) const {
    return "http://" + front_ + ":" + std::to_string(kFrontPort) + path;
  }

  Topology topology_;  // declared first: destroyed after everything in it
  std::unique_ptr<HttpEcho> service_;
  std::unique_ptr<Node> gw_, node_;
  std::string front_;
};

TEST_F(HttpTunnel, NamedAndTokenRequestsReachTheHiddenService) {
  ASSERT_TRUE(wait_until([&] { return links_up(); }, 100, 100ms))
      << plugin_status(*node_).toStyledString() << node_->log_tail() << gw_->log_tail();
  // Not directly: the node takes no connection from outside.
  auto direct = topology_.exec("gw", {"curl", "-s", "-m", "3", "-o", "/dev/null", "-w",
                                      "%{http_code}", "http://" +
                                          topology_.address("node", "gw") + ":65533/"},
                               10s);
  EXPECT_EQ(direct.out, "000");

  EXPECT_EQ(curl({"-H", "Host: hello.tim." + kDomain, url("/page")}), "client=127.0.0.1\n\n200");
  EXPECT_EQ(curl({url("/_token/" + kToken + "/x")}), "client=127.0.0.1\n\n200");
  EXPECT_EQ(curl({"-H", "X-Token: " + kToken, url("/y")}), "client=127.0.0.1\n\n200");
  EXPECT_TRUE(wait_until([&] { return service_->served() == 3; }, 50, 20ms))
      << service_->served();
  // The node's services by its id, and WStunnel's answers.
  EXPECT_EQ(curl({"-H", "Host: tim." + kDomain, url("/")}),
            "{\"id\":\"tim\",\"services\":[\"hello\"]}\n\n200");
  EXPECT_EQ(curl({url("/_health_check")}), "WSTUNSRV RUNNING\n\n200");
  EXPECT_EQ(curl({url("/_token/short/x")}),
            "Rendez-vous token is too short (must be 16 chars)\n\n400");
  EXPECT_EQ(curl({"-H", "X-Token: fedcba9876543210-other", url("/")}),
            "Tunnel not found (or not seen in a long time)\n\n404");
  EXPECT_EQ(curl({"-H", "Host: nothing.tim." + kDomain, url("/")}),
            "No service nothing at tim\n\n404");

  // A 20 MB answer, streamed.
  auto big = topology_.exec("client",
                            {"curl", "-s", "-m", "60", "-o", "/dev/null", "-w",
                             "%{http_code} %{size_download}", "-H", "X-Token: " + kToken,
                             url("/bytes/20000000")},
                            90s);
  EXPECT_EQ(big.out, "200 20000000");

  const Json::Value gw = plugin_status(*gw_)["gateway"];
  EXPECT_EQ(gw["tunnels"].asUInt(), 2u) << gw.toStyledString();
  EXPECT_GE(gw["front"]["requests"].asUInt(), 9u);
  // Each key's metrics: the token (shown by its first 8 characters) and the
  // named service; the unknown token and service made no entry.
  const Json::Value& token = gw["keys"]["token:01234567..."];
  EXPECT_EQ(token["requests"].asUInt(), 3u) << gw.toStyledString();
  EXPECT_GT(token["bytesOut"].asUInt64(), 20000000u);
  EXPECT_EQ(token["latencyMs"]["count"].asUInt(), 3u);
  EXPECT_EQ(gw["keys"]["hello.tim"]["requests"].asUInt(), 1u) << gw.toStyledString();
  EXPECT_EQ(gw["keys"].size(), 2u) << gw.toStyledString();
}

// The node's mnigsd goes away: requests wait for it, and are answered once
// it is back (it keeps its secret, so it may hold its id and token again).
TEST_F(HttpTunnel, ARequestWaitsWhileTheNodeIsAwayAndIsAnsweredWhenItIsBack) {
  ASSERT_TRUE(wait_until([&] { return links_up(); }, 100, 100ms)) << node_->log_tail();
  node_->kill9();
  ASSERT_TRUE(wait_until([&] { return plugin_status(*gw_)["gateway"]["tunnels"].asUInt() == 0; },
                         200, 100ms))
      << gw_->log_tail();
  std::string answer;
  std::thread waiting([&] { answer = curl({"-H", "Host: hello.tim." + kDomain, url("/w")}); });
  ASSERT_TRUE(wait_until([&] { return plugin_status(*gw_)["gateway"]["waiting"].asUInt() == 1; },
                         100, 100ms));
  node_->start();
  node_->wait_ready();
  waiting.join();
  EXPECT_EQ(answer, "client=127.0.0.1\n\n200") << gw_->log_tail() << node_->log_tail();
}

// While the node is away, at most httptunnel.queue (20) requests wait for
// it; one more is told at once that the tunnel looks broken, rather than
// holding a connection for nothing, and the ones waiting are all answered
// once the node is back.
TEST_F(HttpTunnel, AtMostTheQueueWaitsForANodeThatIsAway) {
  ASSERT_TRUE(wait_until([&] { return links_up(); }, 100, 100ms)) << node_->log_tail();
  node_->kill9();
  ASSERT_TRUE(wait_until([&] { return plugin_status(*gw_)["gateway"]["tunnels"].asUInt() == 0; },
                         200, 100ms))
      << gw_->log_tail();
  constexpr int kQueue = 20;
  std::vector<std::string> answers(kQueue);
  std::vector<std::jthread> waiting;  // joined even when the test ends early
  for (int i = 0; i < kQueue; ++i)
    waiting.emplace_back([&, i] {
      answers[i] = curl({"-H", "Host: hello.tim." + kDomain, url("/q" + std::to_string(i))});
    });
  const bool queued = wait_until(
      [&] { return plugin_status(*gw_)["gateway"]["waiting"].asUInt() == kQueue; }, 100, 100ms);
  EXPECT_TRUE(queued) << plugin_status(*gw_).toStyledString();
  if (queued) {
    EXPECT_EQ(curl({"-H", "Host: hello.tim." + kDomain, url("/one-more")}),
              "Too many requests in-flight, tunnel broken?\n\n504");
    EXPECT_EQ(plugin_status(*gw_)["gateway"]["front"]["queueFull"].asUInt(), 1u);
  }
  node_->start();
  node_->wait_ready();
  for (auto& t : waiting) t.join();
  for (int i = 0; i < kQueue; ++i)
    EXPECT_EQ(answers[i], "client=127.0.0.1\n\n200") << "request " << i << gw_->log_tail();
  EXPECT_TRUE(wait_until([&] { return service_->served() == kQueue; }, 50, 20ms))
      << service_->served();
}

// mnigs-cli --expose adds a service to a running node, and takes it back,
// without a restart.
TEST_F(HttpTunnel, ExposeAddsAndRemovesAServiceLive) {
  ASSERT_TRUE(wait_until([&] { return links_up(); }, 100, 100ms)) << node_->log_tail();
  HttpEcho second(topology_.ns("node"), "127.0.0.1", kServicePort + 1);
  auto r = node_->cli({"--expose", "second=9001"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(r.out, "second (127.0.0.1:9001) is exposed as second.tim.<the gateway's domain>\n");
  const std::string listing = "{\"id\":\"tim\",\"services\":[\"hello\",\"second\"]}\n\n200";
  ASSERT_TRUE(wait_until([&] { return curl({"-H", "Host: tim." + kDomain, url("/")}) == listing; },
                         100, 100ms))
      << curl({"-H", "Host: tim." + kDomain, url("/")}) << node_->log_tail();
  EXPECT_EQ(curl({"-H", "Host: second.tim." + kDomain, url("/")}), "client=127.0.0.1\n\n200");
  // The echo counts a request once its answer is written: it may count it
  // just after curl has read it.
  EXPECT_TRUE(wait_until([&] { return second.served() == 1; }, 50, 20ms)) << second.served();
  r = node_->cli({"--expose", "second=off"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  ASSERT_TRUE(wait_until(
      [&] {
        return curl({"-H", "Host: second.tim." + kDomain, url("/")}) ==
               "No service second at tim\n\n404";
      },
      100, 100ms));
  EXPECT_EQ(curl({"-H", "Host: hello.tim." + kDomain, url("/")}), "client=127.0.0.1\n\n200");
  // Bad input changes nothing.
  r = node_->cli({"--expose", "Bad=1"});
  EXPECT_NE(r.exit_code, 0);
  r = node_->cli({"--expose", "x=70000"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("NAME=PORT"), std::string::npos) << r.err;
}

// A second node claims the same id (and token) with a secret of its own:
// it is refused and says why; the first keeps serving.
TEST_F(HttpTunnel, AnotherNodeWithTheIdButAnotherSecretIsRefused) {
  ASSERT_TRUE(wait_until([&] { return links_up(); }, 100, 100ms)) << node_->log_tail();
  // The rival sits on the gateway's client side; it has its own secret.
  Node rival(topology_, "client",
             NodeOptions()
                 .only_discovery("static")
                 .set("httptunnel", "gateways", "[" + yaml_quote(front_ + ":65533") + "]")
                 .set("httptunnel", "id", "tim")
                 .set("httptunnel", "services", "[\"hello=9000\"]"));
  rival.launch();
  std::string state;
  ASSERT_TRUE(wait_until(
      [&] {
        const Json::Value links = plugin_status(rival)["node"]["links"];
        state = links.size() == 1 ? links[0]["lastError"].asString() : "";
        return !state.empty();
      },
      100, 100ms))
      << plugin_status(rival).toStyledString() << rival.log_tail();
  EXPECT_EQ(state, "refused: 403 another secret holds this id");
  EXPECT_EQ(plugin_status(*gw_)["gateway"]["tunnels"].asUInt(), 2u);
  EXPECT_EQ(curl({"-H", "Host: hello.tim." + kDomain, url("/still")}), "client=127.0.0.1\n\n200");
  rival.stop();
}

}  // namespace
}  // namespace mnigs::test
