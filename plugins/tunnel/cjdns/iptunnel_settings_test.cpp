#include <gtest/gtest.h>

#include "iptunnel_settings.hpp"

namespace mnigs::iptunnel {
namespace {

TEST(IpTunnelSettings, DefaultsAndChecks) {
  std::string why;
  auto s = parse_settings(Json::Value(Json::objectValue), &why);
  ASSERT_TRUE(s) << why;
  EXPECT_EQ(s->pool4, "10.94.0.0/24");
  EXPECT_EQ(s->pool6, "fd94::/64");
  EXPECT_EQ(s->ip4_prefix, 32);
  EXPECT_EQ(s->ip6_prefix, 128);
  EXPECT_EQ(s->admin.conf_file, "/etc/cjdroute.conf");
  EXPECT_EQ(s->admin.admin_file, "~/.cjdnsadmin");

  Json::Value c(Json::objectValue);
  c["tunDevice"] = "tun 0";
  EXPECT_FALSE(parse_settings(c, &why));
  EXPECT_NE(why.find("iptunnel.tunDevice"), std::string::npos) << why;
  c = Json::Value(Json::objectValue);
  c["table"] = 254;
  EXPECT_FALSE(parse_settings(c, &why));
  EXPECT_NE(why.find("iptunnel.table"), std::string::npos) << why;
  c = Json::Value(Json::objectValue);
  c["pool4"] = "";
  c["pool6"] = "";
  EXPECT_FALSE(parse_settings(c, &why));
  c = Json::Value(Json::objectValue);
  c["pool4"] = "10.94.0.0/33";
  EXPECT_FALSE(parse_settings(c, &why));
  EXPECT_NE(why.find("iptunnel.pool4"), std::string::npos) << why;
  c = Json::Value(Json::objectValue);
  c["ip4Prefix"] = 0;
  c["confFile"] = "/tmp/x.conf";
  c["timeout"] = 500;
  s = parse_settings(c, &why);
  ASSERT_TRUE(s) << why;
  EXPECT_EQ(s->ip4_prefix, 0);
  EXPECT_EQ(s->admin.conf_file, "/tmp/x.conf");
  EXPECT_EQ(s->admin.timeout.count(), 500);
}

}  // namespace
}  // namespace mnigs::iptunnel
