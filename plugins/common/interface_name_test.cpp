#include "interface_name.hpp"

#include <gtest/gtest.h>

#include <set>

#include <string>

namespace mnigs {
namespace {

TEST(InterfaceName, TheKernelsRule) {
  for (const std::string good :
       {"eth0", "a", "br-lan.10", "wlan0mon_x", "abcdefghijklmno", "wlan-\xc3\xa9", "a\"b", "a\\b",
        "...", ".a"})
    EXPECT_TRUE(valid_interface_name(good)) << good;
  for (const std::string bad : {"", "abcdefghijklmnop", ".", "..", "a/b", "a:1", "a b", "a\tb",
                                "a\nb", "a\vb", "a\fb", "a\rb", "a\xa0", "tun%d"})
    EXPECT_FALSE(valid_interface_name(bad)) << bad;
  EXPECT_FALSE(valid_interface_name(std::string("a\0b", 3)));
}

TEST(InterfaceName, NftQuotableIsValidAndPrintableAsciiWithoutQuotes) {
  for (const std::string good : {"eth0", "abcdefghijklmno", "br-lan.10", "lte_0", "a'b"})
    EXPECT_TRUE(nft_quotable_interface_name(good)) << good;
  for (const std::string bad : {"a\"b", "a\\b", "wlan-\xc3\xa9", "a\x01", "a\x7f", "", "..",
                                "a b", "a:1", "abcdefghijklmnop"})
    EXPECT_FALSE(nft_quotable_interface_name(bad)) << bad;
}

TEST(InterfaceName, EachSessionsDeviceCountsTheBaseNumberUp) {
  EXPECT_EQ(uplink_interface("mnws0", 0), "mnws0");
  EXPECT_EQ(uplink_interface("mnws0", 3), "mnws3");
  EXPECT_EQ(uplink_interface("tun9", 1), "tun10");
  EXPECT_EQ(uplink_interface("tun", 0), "tun");
  EXPECT_EQ(uplink_interface("tun", 2), "tun2");
  EXPECT_EQ(uplink_interface("x1234567890", 1), "x12345678901");
}

TEST(InterfaceName, TheFirstFreeSessionDeviceAndWhichAreOurs) {
  auto taken = [](std::set<std::string> names) {
    return [names](const std::string& n) { return names.count(n) > 0; };
  };
  EXPECT_EQ(free_uplink_interface("mnovpn0", 4, taken({})), "mnovpn0");
  EXPECT_EQ(free_uplink_interface("mnovpn0", 4, taken({"mnovpn0", "mnovpn2"})), "mnovpn1");
  EXPECT_EQ(free_uplink_interface("mnovpn0", 2, taken({"mnovpn0", "mnovpn1"})), "");
  EXPECT_TRUE(is_uplink_interface("mnovpn0", 4, "mnovpn3"));
  EXPECT_FALSE(is_uplink_interface("mnovpn0", 4, "mnovpn4"));
  EXPECT_FALSE(is_uplink_interface("mnovpn0", 4, "eth0"));
}

}  // namespace
}  // namespace mnigs
