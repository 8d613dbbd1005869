// tunnel/gre's config checks: each bad value is refused with the key named.
#include "settings.hpp"

#include <gtest/gtest.h>

#include "kernel.hpp"

namespace mnigs::gre {
namespace {

std::string refusal(const Json::Value& section, Encap encap = Encap::gre) {
  std::string why;
  auto s = parse_settings(section, encap, &why);
  return s ? "" : why;
}

TEST(Settings, TheDefaultsOfTheTwinsDoNotCollide) {
  auto g = parse_settings(Json::Value(Json::objectValue), Encap::gre, nullptr);
  auto i = parse_settings(Json::Value(Json::objectValue), Encap::ipip, nullptr);
  ASSERT_TRUE(g && i);
  EXPECT_EQ(g->mode, Mode::auto_);
  EXPECT_NE(g->pool4, i->pool4);
  EXPECT_NE(g->pool6, i->pool6);
  EXPECT_NE(g->table, i->table);
  EXPECT_NE(g->priority, i->priority);
  EXPECT_NE(g->gateway_interface, i->gateway_interface);
  EXPECT_NE(g->subscriber_interface, i->subscriber_interface);
}

TEST(Settings, BadValuesNameTheirKey) {
  auto with = [](const char* key, Json::Value value) {
    Json::Value v(Json::objectValue);
    v[key] = std::move(value);
    return v;
  };
  EXPECT_NE(refusal(with("mode", "fast")).find("gre.mode"), std::string::npos);
  EXPECT_NE(refusal(with("mtu", 400)).find("gre.mtu"), std::string::npos);
  EXPECT_EQ(refusal(with("mtu", 1400)), "");
  EXPECT_NE(refusal(with("gatewayInterface", "a-very-long-nm")).find("gre.gatewayInterface"),
            std::string::npos);
  EXPECT_NE(refusal(with("subscriberInterface", "x\"y")).find("gre.subscriberInterface"),
            std::string::npos);
  EXPECT_NE(refusal(with("subscriberInterface", "mngre-gw")).find("gre.subscriberInterface"),
            std::string::npos);
  EXPECT_NE(refusal(with("table", 254)).find("gre.table"), std::string::npos);
  EXPECT_NE(refusal(with("pool4", "10.0.0.0/31")).find("gre.pool4"), std::string::npos);
  EXPECT_NE(refusal(with("pool6", "fd00::/48"), Encap::ipip).find("ipip.pool6"),
            std::string::npos);
  Json::Value none(Json::objectValue);
  none["pool4"] = "";
  none["pool6"] = "";
  EXPECT_NE(refusal(none).find("gre.pool4"), std::string::npos);
}

TEST(Kernel, DevicesAreTheKernelsTypesWithTheSessionsKey) {
  auto argv = [](const netcmd::Command& c) {
    std::string s;
    for (const auto& a : c.argv) s += (s.empty() ? "" : " ") + a;
    return s;
  };
  EXPECT_EQ(argv(create_device({Encap::gre, "mngre-gw1", "192.168.5.1", "192.168.5.2", false,
                                42})),
            "ip link add name mngre-gw1 type gre remote 192.168.5.2 local 192.168.5.1 key 42");
  EXPECT_EQ(argv(create_device({Encap::gre, "mngre0", "", "fd00::1", true, 42})),
            "ip link add name mngre0 type ip6gre remote fd00::1 key 42");
  EXPECT_EQ(argv(create_device({Encap::ipip, "mnipip0", "", "192.168.5.1", false, 0})),
            "ip link add name mnipip0 type sit mode any remote 192.168.5.1");
  EXPECT_EQ(argv(create_device({Encap::ipip, "mnipip-gw1", "fd00::1", "fd00::2", true, 0})),
            "ip link add name mnipip-gw1 type ip6tnl mode any remote fd00::2 local fd00::1");
  EXPECT_TRUE(delete_device("mngre0").removal);
}

TEST(Kernel, OnlyItsOwnDevicesAreTakenForLeftovers) {
  auto s = *parse_settings(Json::Value(Json::objectValue), Encap::gre, nullptr);
  for (const char* own : {"mngre-gw", "mngre-gw1", "mngre-gw65534", "mngre-gwx", "mngre0",
                          "mngre3"})
    EXPECT_TRUE(own_device(s, own)) << own;
  for (const char* other : {"mngre-gw0", "mngre-gw1a", "mngre4", "eth0", "mngre", "mnws0"})
    EXPECT_FALSE(own_device(s, other)) << other;
}

}  // namespace
}  // namespace mnigs::gre
