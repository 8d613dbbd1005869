// Unit tests of tether's keys: defaults that work, addresses checked.
#include "settings.hpp"

#include <gtest/gtest.h>

namespace mnigs::tether {
namespace {

Json::Value section(std::initializer_list<std::pair<const char*, Json::Value>> keys) {
  Json::Value v(Json::objectValue);
  for (const auto& [k, value] : keys) v[k] = value;
  return v;
}

TEST(TetherSettings, DefaultsAreUsable) {
  std::string why;
  auto s = read_settings(Json::Value(Json::objectValue), &why);
  ASSERT_TRUE(s) << why;
  EXPECT_FALSE(s->enabled);
  EXPECT_EQ(s->listen_host, "0.0.0.0");
  EXPECT_EQ(s->listen_port, 6354);
  EXPECT_EQ(s->gateway, "");
  EXPECT_EQ(s->interface, "mntether0");
}

TEST(TetherSettings, AddressesAreCheckedAndTheGatewaysPortDefaults) {
  std::string why;
  auto s =
      read_settings(section({{"listen", "169.254.134.89:6354"}, {"gateway", "fd00::1"}}), &why);
  ASSERT_TRUE(s) << why;
  EXPECT_EQ(s->listen_host, "169.254.134.89");
  EXPECT_EQ(s->gateway, "[fd00::1]:65533");
  EXPECT_EQ(read_settings(section({{"listen", "[fe80::1%lo]:6354"}}), &why)->listen_host,
            "fe80::1%lo");
  for (const char* bad : {"laptop:6354", "10.0.0.1", "10.0.0.1:0", ""}) {
    EXPECT_FALSE(read_settings(section({{"listen", bad}}), &why)) << bad;
    EXPECT_NE(why.find("tether.listen"), std::string::npos) << why;
  }
  EXPECT_FALSE(read_settings(section({{"gateway", "gw.example"}}), &why));
  EXPECT_NE(why.find("tether.gateway"), std::string::npos);
  EXPECT_FALSE(read_settings(section({{"interface", "a/b"}}), &why));
  EXPECT_FALSE(read_settings(section({{"table", 254}}), &why));
}

}  // namespace
}  // namespace mnigs::tether
