// cjdns keys and addresses: the key -> fc00::/8 derivation against pairs
// published with cjdns, base32, labels and "addr" strings.
#include "keys.hpp"

#include <gtest/gtest.h>

namespace mnigs::cjdns {
namespace {

// From cjdns' doc/configure.md (the example cjdroute.conf).
constexpr const char* kDocKey = "u2jf87mgqlxfzdnywp60z3tx6tkulvgh2nyc2jk1zc69zzt2s8u0.k";
constexpr const char* kDocIp = "fcff:a215:1e7b:a4e9:c00d:0813:93b3:7c87";
// From the README of cjdnskeys (cjdns' key tools for node.js).
constexpr const char* kToolsKey = "qgkjd0stfvk9r3j28s4gh8rgslbgx2r5xgxzxkgm5vdxqwn8xsu0.k";
constexpr const char* kToolsIp = "fcf5:c1ec:be67:9ad5:1f6c:f31b:5d74:37b0";

TEST(CjdnsKeys, PublishedKeysGiveTheirAddresses) {
  std::string why;
  auto ip = key_to_ip(kDocKey, &why);
  ASSERT_TRUE(ip) << why;
  EXPECT_EQ(format_ip(*ip), kDocIp);
  ip = key_to_ip(kToolsKey, &why);
  ASSERT_TRUE(ip) << why;
  EXPECT_EQ(format_ip(*ip), kToolsIp);
}

TEST(CjdnsKeys, UpperCaseKeysAreTheSameKey) {
  std::string upper = kDocKey;
  for (std::size_t i = 0; i + 2 < upper.size(); ++i)
    upper[i] = static_cast<char>(std::toupper(upper[i]));
  auto ip = key_to_ip(upper, nullptr);
  ASSERT_TRUE(ip);
  EXPECT_EQ(format_ip(*ip), kDocIp);
}

TEST(CjdnsKeys, RefusesMalformedKeys) {
  std::string why;
  EXPECT_FALSE(key_to_ip("u2jf87mgqlxfzdnywp60z3tx6tkulvgh2nyc2jk1zc69zzt2s8u0", &why)) << "no .k";
  EXPECT_FALSE(key_to_ip("u2jf87mgqlxfzdnywp60z3tx6tkulvgh2nyc2jk1zc69zzt2s8u.k", &why)) << "short";
  // 'e', 'i', 'o' and 'a' are not in cjdns' alphabet.
  EXPECT_FALSE(key_to_ip("e2jf87mgqlxfzdnywp60z3tx6tkulvgh2nyc2jk1zc69zzt2s8u0.k", &why));
  EXPECT_NE(why.find("base32"), std::string::npos) << why;
  // The last character carries one bit of the key; the rest must be zero.
  EXPECT_FALSE(key_to_ip("u2jf87mgqlxfzdnywp60z3tx6tkulvgh2nyc2jk1zc69zzt2s8uz.k", &why));
}

TEST(CjdnsKeys, RefusesKeysOutsideFc00) {
  // All-zero key bytes: a well-formed key whose address is not in fc00::/8.
  std::string key = base32_encode(std::vector<std::uint8_t>(32, 0)) + ".k";
  ASSERT_EQ(key.size(), 54u);
  std::string why;
  EXPECT_FALSE(key_to_ip(key, &why));
  EXPECT_NE(why.find("outside fc00::/8"), std::string::npos) << why;
}

TEST(CjdnsKeys, Base32RoundTrips) {
  std::vector<std::uint8_t> bytes;
  for (int i = 0; i < 32; ++i) bytes.push_back(static_cast<std::uint8_t>(i * 37 + 11));
  auto text = base32_encode(bytes);
  EXPECT_EQ(text.size(), 52u);
  EXPECT_EQ(base32_decode(text), bytes);
  // And the published key decodes and encodes back unchanged.
  auto doc = base32_decode(std::string(kDocKey).substr(0, 52));
  ASSERT_TRUE(doc);
  EXPECT_EQ(base32_encode(*doc) + ".k", kDocKey);
}

TEST(CjdnsKeys, Sha256MatchesKnownDigest) {
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(CjdnsKeys, ParsesLabelsAndTheirReach) {
  EXPECT_EQ(parse_label("0000.0000.0000.0001"), 1u);
  EXPECT_EQ(parse_label("0000.0000.0000.0013"), 0x13u);
  EXPECT_EQ(parse_label("ffff.ffff.ffff.ffff"), UINT64_MAX);
  EXPECT_FALSE(parse_label("0000.0000.0000.001"));
  EXPECT_FALSE(parse_label("0000-0000-0000-0013"));
  EXPECT_FALSE(parse_label("0000.0000.0000.00g3"));
  EXPECT_EQ(label_reach(1), 0u);  // this node
  EXPECT_EQ(label_reach(0x13), 4u);
  EXPECT_LT(label_reach(0x13), label_reach(0x1553)) << "a longer path reaches further";
}

TEST(CjdnsKeys, ParsesAdminAddrStrings) {
  std::string why;
  auto a = parse_node_address(std::string("v20.0000.0000.0000.0013.") + kDocKey, &why);
  ASSERT_TRUE(a) << why;
  EXPECT_EQ(a->version, 20u);
  EXPECT_EQ(a->label, 0x13u);
  EXPECT_EQ(a->key, kDocKey);
  EXPECT_FALSE(parse_node_address(std::string("20.0000.0000.0000.0013.") + kDocKey, &why));
  EXPECT_FALSE(parse_node_address(std::string("v20.0000.0000.0013.") + kDocKey, &why));
  EXPECT_FALSE(parse_node_address("v20.0000.0000.0000.0013.nokey.k", &why));
  EXPECT_NE(why.find("v<version>.<label>.<key>.k"), std::string::npos) << why;
}

TEST(CjdnsKeys, ParsesAndFormatsAddresses) {
  auto ip = parse_ip("fc00::1");
  ASSERT_TRUE(ip);
  EXPECT_TRUE(is_cjdns_ip(*ip));
  EXPECT_EQ(format_ip(*ip), "fc00:0000:0000:0000:0000:0000:0000:0001");
  EXPECT_FALSE(is_cjdns_ip(*parse_ip("fd00::1")));
  EXPECT_FALSE(parse_ip("10.0.0.1"));
  EXPECT_FALSE(parse_ip("fc00::1::2"));
}

}  // namespace
}  // namespace mnigs::cjdns
