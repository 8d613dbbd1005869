// httptunnel's keys: defaults, and each value the host cannot check refused
// with a sentence that names the key.
#include "settings.hpp"

#include <gtest/gtest.h>

#include <map>

namespace mnigs::httptunnel {
namespace {

// The section as the host hands it over: every key, with its default.
Json::Value defaults() {
  struct Collect : ConfigDeclarer {
    Json::Value section{Json::objectValue};
    void declare(KeySpec k) override { section[k.name] = k.default_value; }
  } c;
  declare(c);
  return c.section;
}

std::string refusal(Json::Value c) {
  std::string why;
  EXPECT_FALSE(read_settings(c, &why).has_value());
  return why;
}

TEST(HttpTunnelSettings, DefaultsServeNothingAndExposeNothing) {
  std::string why;
  auto s = read_settings(defaults(), &why);
  ASSERT_TRUE(s) << why;
  EXPECT_TRUE(s->listen.empty());
  EXPECT_TRUE(s->gateways.empty());
  EXPECT_EQ(s->timeout, std::chrono::seconds(1200));
  EXPECT_EQ(s->ping_timeout, std::chrono::seconds(30));
  EXPECT_EQ(s->queue, 20u);
  EXPECT_EQ(s->policy, Policy::failover);
  EXPECT_EQ(s->server, "http://localhost:80");
  EXPECT_FALSE(s->regexp);
  EXPECT_TRUE(s->services.empty());
}

TEST(HttpTunnelSettings, ListsAndServicesAreRead) {
  Json::Value c = defaults();
  c["listen"].append("0.0.0.0:8080");
  c["listen"].append("[fd00::1]:8080");
  c["gateways"].append("10.0.0.1:65533");
  c["domain"] = "tunnel.example.net";
  c["policy"] = "balance";
  c["id"] = "tim";
  c["services"].append("hello-world=9000");
  c["services"].append("websockets=9001");
  c["regexp"] = "http://[a-z]+\\.lan";
  std::string why;
  auto s = read_settings(c, &why);
  ASSERT_TRUE(s) << why;
  ASSERT_EQ(s->listen.size(), 2u);
  EXPECT_EQ(s->listen[1].host, "fd00::1");
  EXPECT_EQ(s->listen[1].port, 8080);
  EXPECT_EQ(s->gateways[0].port, 65533);
  EXPECT_EQ(s->policy, Policy::balance);
  ASSERT_EQ(s->services.size(), 2u);
  EXPECT_EQ(s->services[1].name, "websockets");
  EXPECT_EQ(s->services[1].port, 9001);
  ASSERT_TRUE(s->regexp);
  EXPECT_TRUE(std::regex_match("http://printer.lan", *s->regexp));
}

TEST(HttpTunnelSettings, BadValuesAreRefusedNamingTheKey) {
  std::map<std::string, std::function<void(Json::Value&)>> cases = {
      {"httptunnel.listen", [](Json::Value& c) { c["listen"].append("0.0.0.0"); }},
      {"httptunnel.gateways", [](Json::Value& c) { c["gateways"].append("gw:1"); }},
      {"httptunnel.domain", [](Json::Value& c) { c["domain"] = "Example..net"; }},
      {"httptunnel.server", [](Json::Value& c) { c["server"] = "ftp://x"; }},
      {"httptunnel.regexp", [](Json::Value& c) { c["regexp"] = "(unclosed"; }},
      {"httptunnel.id", [](Json::Value& c) { c["id"] = "Tim"; }},
      {"httptunnel.token", [](Json::Value& c) { c["token"] = "short"; }},
      {"httptunnel.services", [](Json::Value& c) {
         c["id"] = "tim";
         c["services"].append("hello=0");
       }},
  };
  for (auto& [key, change] : cases) {
    Json::Value c = defaults();
    change(c);
    EXPECT_NE(refusal(c).find(key), std::string::npos) << key << ": " << refusal(c);
  }
  // Two cases per key cannot share the map: these apart.
  Json::Value long_domain = defaults();
  long_domain["domain"] = std::string(40, 'a') + "." + std::string(40, 'b');  // 81
  EXPECT_EQ(refusal(long_domain), "httptunnel.domain is longer than 80 characters");
  for (const char* path : {"health", "/a b", "/\x01"}) {
    Json::Value health = defaults();
    health["healthCheck"] = path;
    EXPECT_NE(refusal(health).find("httptunnel.healthCheck"), std::string::npos) << path;
  }
  Json::Value health = defaults();
  health["healthCheck"] = "/health?full=1";
  std::string why;
  ASSERT_TRUE(read_settings(health, &why)) << why;
  EXPECT_EQ(read_settings(health, &why)->health_check, "/health?full=1");
  Json::Value twice = defaults();
  twice["id"] = "tim";
  twice["services"].append("a=1");
  twice["services"].append("a=2");
  EXPECT_EQ(refusal(twice), "httptunnel.services names \"a\" twice");
  Json::Value no_id = defaults();
  no_id["services"].append("a=1");
  EXPECT_EQ(refusal(no_id), "httptunnel.services needs httptunnel.id (the name gateways route by)");
}

TEST(HttpTunnelSettings, ServiceSyntax) {
  std::string why;
  EXPECT_TRUE(parse_service("hello-world=9000", &why));
  for (const char* bad : {"hello", "=80", "-a=80", "a-=80", "A=80", "a=", "a=65536", "a=8x",
                          "a=123456"}) {
    EXPECT_FALSE(parse_service(bad, &why)) << bad;
    EXPECT_NE(why.find("NAME=PORT"), std::string::npos) << why;
  }
  EXPECT_TRUE(is_label("a"));
  EXPECT_TRUE(is_label(std::string(63, 'a')));
  EXPECT_FALSE(is_label(std::string(64, 'a')));
}

}  // namespace
}  // namespace mnigs::httptunnel
