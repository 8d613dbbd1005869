// The plugin as the daemon drives it: what a gateway announces in its
// offer, and a node with no gateways named finding them from what this
// node knows.
#include "plugin.hpp"

#include <plugin_fakes.hpp>

#include <gtest/gtest.h>

#include <boost/asio/ip/tcp.hpp>

#include <atomic>
#include <thread>

namespace mnigs::httptunnel {
namespace {

Json::Value defaults() {
  testing::RecordingDeclarer d;
  declare(d);
  Json::Value section(Json::objectValue);
  for (const auto& k : d.keys) section[k.name] = k.default_value;
  return section;
}

// A loopback port nothing listens on now.
std::uint16_t free_port() {
  boost::asio::io_context io;
  boost::asio::ip::tcp::acceptor a(io, {boost::asio::ip::make_address("127.0.0.1"), 0});
  return a.local_endpoint().port();
}

Json::Value gateway(const std::string& address, bool announces) {
  Json::Value g(Json::objectValue);
  g["address"] = address;
  g["port"] = 65533;
  g["current"] = true;
  g["services"] = Json::Value(Json::objectValue);
  if (announces) g["services"]["httptunnel"] = "http://" + address + ":8080/";
  return g;
}

// What a gateway's offer says of its front: the domain when there is one,
// else the first listen address; nothing when it serves no tunnels.
TEST(HttpTunnelPlugin, AGatewayAnnouncesItsFront) {
  testing::FakeContext ctx("httptunnel");
  ctx.config_ = defaults();
  {
    HttpTunnelPlugin p(ctx);
    p.start();
    EXPECT_EQ(p.announce(), "");
    p.stop();
  }
  // Port 0 would pick a free port; the announced one is what was set.
  ctx.config_["listen"].append("127.0.0.1:18080");
  {
    HttpTunnelPlugin p(ctx);
    p.start();
    EXPECT_EQ(p.announce(), "http://127.0.0.1:18080/");
    p.stop();
  }
  ctx.config_["listen"][0] = "[::1]:18080";
  {
    HttpTunnelPlugin p(ctx);
    p.start();
    EXPECT_EQ(p.announce(), "http://[::1]:18080/");
    p.stop();
  }
  ctx.config_["listen"][0] = "0.0.0.0:18080";  // the port on any of its addresses
  {
    HttpTunnelPlugin p(ctx);
    p.start();
    EXPECT_EQ(p.announce(), ":18080");
    p.stop();
  }
  ctx.config_["domain"] = "tunnel.example.net";
  HttpTunnelPlugin p(ctx);
  p.start();
  EXPECT_EQ(p.announce(), "http://tunnel.example.net:18080/");
  p.stop();
  EXPECT_EQ(p.announce(), "");  // stopped: no longer served
}

// A node with httptunnel.gateways empty links to the gateways this node
// knows that announce HTTP tunnels, the best maxGateways of them, and says
// when it knows none.
TEST(HttpTunnelPlugin, ANodeWithoutGatewaysFindsThoseThatAnnounceTunnels) {
  testing::FakeContext ctx("httptunnel");
  ctx.config_ = defaults();
  ctx.config_["id"] = "tim";
  ctx.config_["services"].append("hello=9000");
  ctx.config_["maxGateways"] = 1;
  HttpTunnelPlugin p(ctx);
  p.start();
  ctx.poll();
  Json::Value s = p.status();
  EXPECT_EQ(s["node"]["found"].size(), 0u) << s.toStyledString();
  EXPECT_NE(s["error"].asString().find("no gateway known to this node announces HTTP tunnels"),
            std::string::npos)
      << s.toStyledString();

  // Port 9 on loopback: nothing answers there, the links keep trying.
  ctx.known_gateways.append(gateway("127.0.0.2", false));
  Json::Value gw = gateway("127.0.0.3", true);
  gw["port"] = 9;
  ctx.known_gateways.append(gw);
  Json::Value other = gateway("127.0.0.4", true);
  other["port"] = 9;
  other["current"] = false;
  ctx.known_gateways.append(other);
  Json::Value c = ctx.config_;
  c["maxGateways"] = 2;  // a live change looks again
  ctx.config_ = c;
  p.config_changed();
  // The choice is made on the strand after a look at the links on the
  // plugin's data thread.
  const auto settle = [&](std::size_t found) {
    for (int i = 0; i < 500; ++i) {
      ctx.poll();
      if (p.status()["node"]["found"].size() == found) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  };
  settle(2);
  s = p.status();
  ASSERT_EQ(s["node"]["found"].size(), 2u) << s.toStyledString();
  EXPECT_EQ(s["node"]["found"][0], "127.0.0.3:9");
  EXPECT_EQ(s["node"]["found"][1], "127.0.0.4:9");
  ASSERT_EQ(s["node"]["links"].size(), 2u) << s.toStyledString();
  EXPECT_EQ(s["node"]["links"][0]["gateway"], "127.0.0.3:9") << s.toStyledString();
  EXPECT_FALSE(s["error"].asString().find("announces") != std::string::npos)
      << s.toStyledString();
  p.stop();
}

// After each scan the node looks again: a link in use stays although
// another gateway now ranks first; a gateway that no longer announces
// tunnels is left; a list that comes back empty cuts no link.
TEST(HttpTunnelPlugin, ANodeKeepsTheGatewaysItUsesUntilTheyGo) {
  testing::FakeContext ctx("httptunnel");
  ctx.config_ = defaults();
  ctx.config_["id"] = "tim";
  ctx.config_["maxGateways"] = 1;
  Json::Value a = gateway("127.0.0.3", true), b = gateway("127.0.0.4", true);
  a["port"] = b["port"] = 9;
  b["current"] = false;
  ctx.known_gateways.append(a);
  ctx.known_gateways.append(b);
  HttpTunnelPlugin p(ctx);
  p.start();
  const auto found_after_scan = [&](bool scan) {
    if (scan) ctx.bus_.fire("scan.finished", Json::Value());
    Json::Value last;
    for (int i = 0; i < 50; ++i) {  // settles within a few rounds
      ctx.poll();
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
      last = p.status()["node"]["found"];
    }
    return last.size() == 1 ? last[0].asString() : last.toStyledString();
  };
  EXPECT_EQ(found_after_scan(false), "127.0.0.3:9");
  // b is now the better (a scan reached it): a stays, its link in use.
  ctx.known_gateways[1]["source"] = "scan";
  ctx.known_gateways[1]["current"] = true;
  EXPECT_EQ(found_after_scan(true), "127.0.0.3:9");
  // a no longer announces tunnels: b takes its place.
  ctx.known_gateways[0]["services"] = Json::Value(Json::objectValue);
  EXPECT_EQ(found_after_scan(true), "127.0.0.4:9");
  // Nothing known (or the list could not be read): b stays.
  ctx.known_gateways = Json::Value(Json::arrayValue);
  EXPECT_EQ(found_after_scan(true), "127.0.0.4:9");
  // Its error is that of its link (nothing listens there), not "none known".
  EXPECT_EQ(p.status().get("error", "").asString(), "node: no link to a gateway is up");
  p.stop();
}

// httptunnel.forgetKey: the binding goes from the registry and the store;
// bad params and keys no secret holds are refused and change nothing.
TEST(HttpTunnelPlugin, AnOperatorForgetsAKeyThatALostSecretHolds) {
  testing::FakeContext ctx("httptunnel");
  ctx.config_ = defaults();
  ctx.config_["listen"].append("127.0.0.1:" + std::to_string(free_port()));
  ctx.store_.rows["claim:id:tim"] = std::string(64, 'a');
  ctx.store_.rows["claim:id:tom"] = std::string(64, 'b');
  HttpTunnelPlugin p(ctx);
  p.start();
  ASSERT_TRUE(ctx.methods.count("forgetKey"));
  auto call = [&](const Json::Value& params) {
    Json::Value answer;
    bool ok = false;
    std::atomic<bool> done{false};
    ctx.methods["forgetKey"](params, CallInfo{}, Responder([&](bool good, Json::Value v) {
                               ok = good;
                               answer = std::move(v);
                               done = true;
                             }));
    // The answer comes from the plugin's data thread.
    for (int i = 0; i < 500 && !done; ++i) {
      ctx.poll();
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    EXPECT_TRUE(done);
    answer["ok"] = ok;
    return answer;
  };
  Json::Value params(Json::objectValue);
  params["id"] = "tim";
  Json::Value r = call(params);
  EXPECT_TRUE(r["ok"].asBool()) << r.toStyledString();
  EXPECT_EQ(r["forgotten"], "id:tim");
  for (int i = 0; i < 500 && ctx.store_.rows.count("claim:id:tim"); ++i) {
    ctx.poll();
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(ctx.store_.rows.count("claim:id:tim"), 0u);
  EXPECT_EQ(ctx.store_.rows.count("claim:id:tom"), 1u);  // the others stay

  r = call(params);  // no secret holds it now
  EXPECT_FALSE(r["ok"].asBool());
  EXPECT_EQ(r["code"].asInt(), rpc_error::not_found) << r.toStyledString();
  Json::Value bad(Json::objectValue);
  bad["id"] = "Not A Label";
  EXPECT_EQ(call(bad)["code"].asInt(), rpc_error::invalid_params);
  bad = Json::Value(Json::objectValue);
  bad["token"] = "short";
  EXPECT_EQ(call(bad)["code"].asInt(), rpc_error::invalid_params);
  bad["id"] = "tom";  // two keys at once
  EXPECT_EQ(call(bad)["code"].asInt(), rpc_error::invalid_params);
  EXPECT_EQ(ctx.store_.rows.count("claim:id:tom"), 1u);
  p.stop();
}

}  // namespace
}  // namespace mnigs::httptunnel
