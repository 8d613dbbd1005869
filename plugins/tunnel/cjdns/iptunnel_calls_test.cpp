// The arguments tunnel/cjdns sends cjdroute and the replies it accepts.
// Replies are written out byte for byte as cjdroute v22.3 frames them
// (padded first key, keys in order) from the shapes in its source:
// tunnel/IpTunnel_admin.c and admin/angel/Core.c nodeInfo().
#include <gtest/gtest.h>

#include "iptunnel_calls.hpp"

namespace mnigs::iptunnel {
namespace {

// cjdns keys and the addresses they own (also in tests/system/06_cjdns_test.cpp).
const std::string kKey = "nrjgkkj95zb3thx1uctcurrtu6jl4c71bgl9pm4ydtvsfshltr50.k";
const std::string kKeyIp = "fc5c:afd5:da49:bc6:88ba:7327:e665:ae01";
const std::string kOther = "dyh3fhkhmmx25f02bblyx80ydc3s3xsxtcrh957c1jy94yvfxc01.k";

bencode::Value decode(const std::string& bytes) {
  std::string why;
  auto v = bencode::decode(bytes, &why);
  EXPECT_TRUE(v) << why;
  return v.value_or(bencode::Value());
}

std::string str(const std::string& s) { return std::to_string(s.size()) + ":" + s; }

TEST(IpTunnelKeys, AcceptsOnlyKeysCjdnsWouldMake) {
  EXPECT_EQ(key_refusal(kKey), "");
  EXPECT_EQ(key_refusal(kOther), "");
  EXPECT_EQ(key_refusal(""), "no key");
  EXPECT_NE(key_refusal(kKey.substr(0, 53)), "");               // too short
  EXPECT_NE(key_refusal(kKey + "x"), "");                       // Key_parse would take it: not we
  EXPECT_EQ(key_refusal(kKey.substr(0, 52) + ".x"), "key must end in .k");
  // 'a' is not in cjdns' alphabet (no a, e, i, o).
  EXPECT_EQ(key_refusal(std::string(52, 'a') + ".k"), "failed to base-32 decode key");
  // Decodes, but its address is not in fc00::/8.
  EXPECT_NE(key_refusal(std::string(52, '0') + ".k").find("not a valid cjdns public key"),
            std::string::npos);
  // Base32 leftover bits must be zero: the last character carries 2 of 5.
  std::string tail = kKey;
  tail[51] = 'z';
  EXPECT_NE(key_refusal(tail), "");
  // Upper case decodes in cjdns, but is not how cjdroute writes the key back.
  std::string upper = kKey;
  for (std::size_t i = 0; i < 52; ++i) upper[i] = static_cast<char>(std::toupper(upper[i]));
  EXPECT_NE(key_refusal(upper).find("lower case"), std::string::npos);
}

TEST(IpTunnelArgs, AllowConnectionCarriesBothFamiliesAsCjdnsNamesThem) {
  Allowance a;
  a.key = kKey;
  a.ip4 = "10.94.0.2";
  a.ip6 = "fd94::2";
  a.ip4_prefix = 0;
  a.ip6_prefix = 128;
  EXPECT_EQ(bencode::encode(allow_args(a)),
            "d10:ip4Address9:10.94.0.28:ip4Alloci32e9:ip4Prefixi0e10:ip6Address7:fd94::2"
            "8:ip6Alloci128e9:ip6Prefixi128e25:publicKeyOfAuthorizedNode" +
                str(kKey) + "e");
  // A pool without IPv6: no ip6 arguments at all (cjdroute refuses
  // ip6Prefix without ip6Address).
  a.ip6.clear();
  auto args = allow_args(a);
  EXPECT_FALSE(args.find("ip6Address"));
  EXPECT_FALSE(args.find("ip6Prefix"));
  EXPECT_FALSE(args.find("ip6Alloc"));
  EXPECT_EQ(bencode::encode(connect_args(kOther)),
            "d26:publicKeyOfNodeToConnectTo" + str(kOther) + "e");
  EXPECT_EQ(bencode::encode(connection_args(7)), "d10:connectioni7ee");
}

TEST(IpTunnelReplies, ConnectionNumbers) {
  std::string why;
  // {"connection": N, "error": "none"}, padded as cjdroute pads.
  EXPECT_EQ(parse_connection(decode("d00000010:connectioni3e5:error4:none4:txid4:abcde"), &why),
            3);
  EXPECT_FALSE(parse_connection(decode("d5:error9:not_founde"), &why));
  EXPECT_EQ(why, "not_found");
  EXPECT_FALSE(
      parse_connection(decode("d5:error30:key must be 52 characters longe"), &why));
  EXPECT_EQ(why, "key must be 52 characters long");
  EXPECT_FALSE(parse_connection(decode("d10:connectioni-1e5:error4:nonee"), &why));
  EXPECT_FALSE(parse_connection(decode("d10:connection1:35:error4:nonee"), &why));
  EXPECT_FALSE(parse_connection(decode("d10:connectioni4294967296e5:error4:nonee"), &why));
}

TEST(IpTunnelReplies, ListedConnections) {
  std::string why;
  auto list = parse_connections(decode("d11:connectionsli0ei2ei1ee5:error4:nonee"), &why);
  ASSERT_TRUE(list) << why;
  EXPECT_EQ(*list, (std::vector<std::int64_t>{0, 2, 1}));
  EXPECT_EQ(parse_connections(decode("d11:connectionsle5:error4:nonee"), &why)->size(), 0u);
  EXPECT_FALSE(parse_connections(decode("d11:connectionsl1:0e5:error4:nonee"), &why));
  EXPECT_FALSE(parse_connections(decode("d5:error4:nonee"), &why));
  std::string many = "d11:connectionsl";
  for (std::size_t i = 0; i <= kMaxConnections; ++i) many += "i" + std::to_string(i) + "e";
  EXPECT_FALSE(parse_connections(decode(many + "e5:error4:nonee"), &why));
}

TEST(IpTunnelReplies, ShownConnections) {
  std::string why;
  // An allowed (incoming) one: its addresses as Sockaddr_print prints them.
  auto in = parse_connection_shown(
      decode("d5:error4:none8:ip4Alloci32e10:ip4Address9:10.94.0.29:ip4Prefixi32e8:ip6Alloci128e"
             "10:ip6Address7:fd94::29:ip6Prefixi128e3:key" +
             str(kKey) + "8:outgoingi0ee"),
      4, &why);
  ASSERT_TRUE(in) << why;
  EXPECT_EQ(in->number, 4);
  EXPECT_EQ(in->key, kKey);
  EXPECT_FALSE(in->outgoing);
  EXPECT_EQ(in->ip4, "10.94.0.2");
  EXPECT_EQ(in->ip6, "fd94::2");
  EXPECT_EQ(in->ip6_alloc, 128);
  // An outgoing one before the gateway's addresses arrived: no addresses.
  auto out = parse_connection_shown(
      decode("d5:error4:none3:key" + str(kOther) + "8:outgoingi1ee"), 5, &why);
  ASSERT_TRUE(out) << why;
  EXPECT_TRUE(out->outgoing);
  EXPECT_EQ(out->ip4, "");
  EXPECT_FALSE(parse_connection_shown(decode("d5:error20:connection not founde"), 9, &why));
  EXPECT_EQ(why, "connection not found");
  EXPECT_FALSE(parse_connection_shown(decode("d5:error4:none3:key3:abc8:outgoingi0ee"), 1, &why));
  EXPECT_FALSE(parse_connection_shown(
      decode("d5:error4:none10:ip4Address9:10.94.0.29:ip4Prefixi33e8:ip4Alloci32e3:key" +
             str(kKey) + "8:outgoingi0ee"),
      1, &why));
  EXPECT_FALSE(parse_connection_shown(
      decode("d5:error4:none10:ip4Address7:fd94::23:key" + str(kKey) + "8:outgoingi0ee"), 1,
      &why));
}

TEST(IpTunnelReplies, NodeInfoGivesTheOwnKey) {
  std::string why;
  const std::string reply =
      "d00000019:compressedSchemeHex10:611445810014:encodingSchemeld8:bitCounti8e6:prefix2:00"
      "9:prefixLeni2eed8:bitCounti5e6:prefix2:029:prefixLeni2eed8:bitCounti3e6:prefix2:01"
      "9:prefixLeni1eee5:error4:none6:myAddr" +
      str("v22.0000.0000.0000.0001." + kKey) +
      "5:myIp639:fc5c:afd5:da49:0bc6:88ba:7327:e665:ae014:txid2:n17:versioni22ee";
  auto me = parse_node_info(decode(reply), &why);
  ASSERT_TRUE(me) << why;
  EXPECT_EQ(me->key, kKey);
  EXPECT_EQ(me->ip6, kKeyIp);
  // myIp6 that is not the key's address is not believed.
  auto wrong = parse_node_info(
      decode("d5:error4:none6:myAddr" + str("v22.0000.0000.0000.0001." + kKey) +
             "5:myIp639:fc72:f475:6337:b8c8:3d2c:70ec:f0dd:064ae"),
      &why);
  EXPECT_FALSE(wrong);
  EXPECT_FALSE(parse_node_info(decode("d5:error4:none6:myAddr3:abce"), &why));
}

TEST(IpTunnelRoutes, WhatCjdrouteRoutesForAPrefix) {
  EXPECT_TRUE(cjdroute_routes("10.94.0.2", 32, false).empty());
  EXPECT_TRUE(cjdroute_routes("fd94::2", 128, true).empty());
  EXPECT_EQ(cjdroute_routes("10.94.0.2", 0, false),
            (std::vector<std::string>{"0.0.0.0/1", "128.0.0.0/1"}));
  EXPECT_EQ(cjdroute_routes("fd94::2", 0, true), (std::vector<std::string>{"::/1", "8000::/1"}));
  EXPECT_EQ(cjdroute_routes("10.94.0.2", 24, false), (std::vector<std::string>{"10.94.0.0/24"}));
  EXPECT_EQ(cjdroute_routes("fd94::1:2", 64, true), (std::vector<std::string>{"fd94::/64"}));
  EXPECT_EQ(network_of("10.94.7.200", 20, false), "10.94.0.0/20");
}

// What a gateway's cjdroute issued to this node's (showConnection of the
// outgoing connection) must be the session's addresses, one each, no route.
TEST(IpTunnelIssued, OnlyTheSessionsAddressesWithoutRoutes) {
  Connection c;
  c.outgoing = true;
  EXPECT_EQ(issued_refusal(c, "10.94.0.2", "fd94::2"), "");  // nothing arrived yet
  c.ip4 = "10.94.0.2";
  EXPECT_EQ(issued_refusal(c, "10.94.0.2", "fd94::2"), "");
  c.ip6 = "fd94::2";
  EXPECT_EQ(issued_refusal(c, "10.94.0.2", "fd94::2"), "");
  // A default route (prefix 0: RouteGen's two /1 routes), a wider alloc,
  // another address, an address of a family the session has none of.
  c.ip4_prefix = 0;
  EXPECT_NE(issued_refusal(c, "10.94.0.2", "fd94::2"), "");
  c.ip4_prefix = 32;
  c.ip6_alloc = 64;
  EXPECT_NE(issued_refusal(c, "10.94.0.2", "fd94::2"), "");
  c.ip6_alloc = 128;
  EXPECT_NE(issued_refusal(c, "10.94.0.3", "fd94::2"), "");
  EXPECT_NE(issued_refusal(c, "10.94.0.2", ""), "");
  EXPECT_EQ(issued_refusal(c, "10.94.0.2", "fd94:0::2"), "");  // spelling does not matter
}

TEST(IpTunnelArgs, RouteGenTakesTheIssuedAddressWithItsPrefix) {
  EXPECT_EQ(bencode::encode(routegen_prefix_args("10.94.0.2", 0)), "d5:route11:10.94.0.2/0e");
  EXPECT_EQ(bencode::encode(routegen_commit_args("tun0")), "d7:tunName4:tun0e");
}

// A key must be that of the node at a cjdns address (no squatting on
// another's); other addresses cannot be checked.
TEST(IpTunnelKeys, BoundToTheirCjdnsAddress) {
  EXPECT_EQ(mesh_key_refusal(kKey, kKeyIp), "");
  EXPECT_EQ(mesh_key_refusal(kKey, "fc5c:afd5:da49:0bc6:88ba:7327:e665:ae01"), "");
  EXPECT_NE(mesh_key_refusal(kOther, kKeyIp), "");
  EXPECT_EQ(mesh_key_refusal(kOther, "10.77.1.2"), "");
  EXPECT_EQ(mesh_key_refusal(kOther, "fd00::2"), "");
}

TEST(IpTunnelParams, HostilePrefixesAndMeshAddressesAreRefused) {
  Json::Value p(Json::objectValue);
  EXPECT_NE(tunnel_params_refusal(p), "");  // no address
  p["address4"] = "10.94.0.2";
  p["address6"] = "fd94::2";
  p["cjdnsPrefix4"] = 32;
  p["cjdnsPrefix6"] = 128;
  EXPECT_EQ(tunnel_params_refusal(p), "");
  p["cjdnsPrefix4"] = 0;
  EXPECT_NE(tunnel_params_refusal(p), "");
  p["cjdnsPrefix4"] = 24;
  EXPECT_NE(tunnel_params_refusal(p), "");
  p["cjdnsPrefix4"] = 32;
  p["cjdnsPrefix6"] = "128";
  EXPECT_NE(tunnel_params_refusal(p), "");
  p["cjdnsPrefix6"] = 128;
  p["address6"] = "fc72:f475:6337:b8c8:3d2c:70ec:f0dd:64a";
  EXPECT_NE(tunnel_params_refusal(p), "");
}

TEST(IpTunnelTun, FindsTheDeviceHoldingCjdroutesAddress) {
  const std::string json =
      R"([{"ifindex":1,"ifname":"lo","addr_info":[{"family":"inet6","local":"::1"}]},)"
      R"({"ifindex":5,"ifname":"tun0","addr_info":[{"family":"inet6",)"
      R"("local":"fc5c:afd5:da49:bc6:88ba:7327:e665:ae01","prefixlen":8}]}])";
  EXPECT_EQ(device_holding(json, "fc5c:afd5:da49:0bc6:88ba:7327:e665:ae01"), "tun0");
  EXPECT_EQ(device_holding(json, "fc72::1"), "");
  EXPECT_EQ(device_holding("not json", kKeyIp), "");
}

}  // namespace
}  // namespace mnigs::iptunnel
