// The plugin as the daemon drives it: what a gateway announces in its
// offer, and a node with no gateways named finding them from what this
// node knows.
#include "plugin.hpp"

#include <plugin_fakes.hpp>

#include <gtest/gtest.h>

namespace mnigs::httptunnel {
namespace {

Json::Value defaults() {
  testing::RecordingDeclarer d;
  declare(d);
  Json::Value section(Json::objectValue);
  for (const auto& k : d.keys) section[k.name] = k.default_value;
  return section;
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
  ctx.poll();
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

}  // namespace
}  // namespace mnigs::httptunnel
