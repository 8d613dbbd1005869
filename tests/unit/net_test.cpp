// Prefix parsing and matching, used by the admin access check.
#include "util/net.hpp"
#include "util/text.hpp"
#include "util/token.hpp"

#include <gtest/gtest.h>

namespace mnigs {
namespace {

boost::asio::ip::address A(const char* s) { return boost::asio::ip::make_address(s); }

TEST(Prefix, ParsesAndMatches) {
  auto p = parse_prefix("10.1.0.0/16");
  ASSERT_TRUE(p);
  EXPECT_TRUE(p->contains(A("10.1.200.3")));
  EXPECT_FALSE(p->contains(A("10.2.0.1")));
  EXPECT_FALSE(p->contains(A("fd00::1")));
  auto loop6 = parse_prefix("::1/128");
  ASSERT_TRUE(loop6);
  EXPECT_TRUE(loop6->contains(A("::1")));
  EXPECT_FALSE(loop6->contains(A("::2")));
}

TEST(Prefix, V4MappedCallersMatchV4Prefixes) {
  auto p = parse_prefix("127.0.0.0/8");
  EXPECT_TRUE(p->contains(A("::ffff:127.0.0.1")));
}

TEST(Prefix, RejectsHostBitsAndBadLengths) {
  std::string why;
  EXPECT_FALSE(parse_prefix("10.0.0.1/8", &why));
  EXPECT_NE(why.find("host bits"), std::string::npos);
  EXPECT_FALSE(parse_prefix("10.0.0.0/33", &why));
  EXPECT_FALSE(parse_prefix("fd00::/129", &why));
  EXPECT_FALSE(parse_prefix("10.0.0.0/", &why));
  EXPECT_FALSE(parse_prefix("example.org/8", &why));
  EXPECT_TRUE(parse_prefix("0.0.0.0/0"));
  EXPECT_TRUE(parse_prefix("0.0.0.0/0")->contains(A("192.0.2.1")));
}

TEST(Prefix, BareAddressIsFullLengthUnlessTheLengthIsRequired) {
  EXPECT_EQ(parse_prefix("10.0.0.1")->to_string(), "10.0.0.1/32");
  EXPECT_EQ(parse_prefix("fd00::1")->to_string(), "fd00::1/128");
  std::string why;
  EXPECT_FALSE(parse_prefix("10.0.0.1", &why, {.bare_address = false, .host_bits = false}));
  EXPECT_EQ(why, "not a prefix: no /LENGTH after the address");
  EXPECT_EQ(parse_prefix("10.0.0.0/8", &why, {.bare_address = false})->to_string(), "10.0.0.0/8");
}

// An address with the length of its network, as interfaces and daemons'
// tables write them: kept as written, and matching uses the network.
TEST(Prefix, HostBitsWhereAllowed) {
  const PrefixRules loose{.bare_address = false, .host_bits = true};
  auto p = parse_prefix("10.97.0.1/24", nullptr, loose);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->to_string(), "10.97.0.1/24");
  EXPECT_TRUE(p->contains(A("10.97.0.200")));
  EXPECT_FALSE(p->contains(A("10.97.1.1")));
  auto p6 = parse_prefix("fd98::1/64", nullptr, loose);
  ASSERT_TRUE(p6);
  EXPECT_TRUE(p6->contains(A("fd98::ffff")));
  EXPECT_FALSE(p6->contains(A("fd99::1")));
  EXPECT_EQ(parse_prefix("::/0", nullptr, loose)->length, 0u);
  std::string why;
  for (const char* bad : {"10.0.0.0/33", "fd00::/129", "10.0.0.0/", "10.0.0.0/-1", "10.0.0.0/+8",
                          "10.0.0.0/ 8", "10.0.0.0/8x", "garbage/0", "/8", ""}) {
    why.clear();
    EXPECT_FALSE(parse_prefix(bad, &why, loose)) << bad;
    EXPECT_FALSE(why.empty()) << bad;
  }
}

TEST(Prefix, ZonesAreRefused) {
  std::string why;
  EXPECT_FALSE(parse_prefix("fe80::%lo/64", &why));
  EXPECT_NE(why.find("zone"), std::string::npos) << why;
  EXPECT_FALSE(parse_prefix("fe80::1%lo", &why));
  EXPECT_FALSE(parse_prefix("fe80::1%lo/128", &why, {.bare_address = false, .host_bits = true}));
}

TEST(Text, NearestSuggestsTyposOnly) {
  std::vector<std::string> keys{"maxConnections", "subscriberTimeout", "enabled"};
  EXPECT_EQ(nearest("maxconnection", keys), "maxConnections");
  EXPECT_EQ(nearest("enabld", keys), "enabled");
  EXPECT_EQ(nearest("completelydifferent", keys), "");
}

TEST(Token, IsRandom256BitHex) {
  auto a = generate_token(), b = generate_token();
  EXPECT_EQ(a.size(), 64u);
  EXPECT_NE(a, b);
  EXPECT_EQ(a.find_first_not_of("0123456789abcdef"), std::string::npos);
  EXPECT_TRUE(constant_time_equal(a, a));
  EXPECT_FALSE(constant_time_equal(a, b));
  EXPECT_FALSE(constant_time_equal(a, a.substr(1)));
}

// A browser's Origin: an address, never a name (any site has one).
TEST(Origin, OnlyAddressesCount) {
  EXPECT_EQ(origin_address("http://192.168.7.10:6354")->to_string(), "192.168.7.10");
  EXPECT_EQ(origin_address("https://[fd00::1]")->to_string(), "fd00::1");
  EXPECT_EQ(origin_address("http://10.0.0.1")->to_string(), "10.0.0.1");
  for (const char* no : {"null", "", "http://evil.example", "http://10.0.0.1.evil.example",
                         "ftp://10.0.0.1", "http://10.0.0.1/path", "http://10.0.0.1:",
                         "http://10.0.0.1:99999999", "http://[fe80::1%eth0]:80", "http://[fd00::1",
                         "http://fd00::1", "HTTP://10.0.0.1x"})
    EXPECT_FALSE(origin_address(no)) << no;
  const std::vector<Prefix> lan = {*parse_prefix("192.168.0.0/16")};
  EXPECT_TRUE(origin_allowed("http://192.168.7.10:6354", lan));
  EXPECT_FALSE(origin_allowed("http://203.0.113.9", lan));
  EXPECT_FALSE(origin_allowed("http://192.168.7.10:6354", {}));
}

}  // namespace
}  // namespace mnigs
