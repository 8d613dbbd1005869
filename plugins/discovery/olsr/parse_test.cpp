// Parsing what olsrd's jsoninfo/txtinfo and olsrd2's telnet viewers send.
// The fixtures in fixtures/ follow the output code of olsrd 0.9
// (lib/jsoninfo, lib/txtinfo, lib/info), olsrd 0.6 and OONF
// (nhdpinfo/olsrv2info through the telnet plugin); see README.md.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "fields.hpp"
#include "http_reply.hpp"
#include "jsoninfo.hpp"
#include "olsrd2.hpp"
#include "settings.hpp"
#include "txtinfo.hpp"
#include "view.hpp"

namespace mnigs::olsr {
namespace {

std::string fixture(const std::string& name) {
  std::ifstream in(std::string(MNIGS_OLSR_FIXTURES) + "/" + name, std::ios::binary);
  EXPECT_TRUE(in.good()) << "missing fixture " << name;
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

bool has_link(const View& v, const std::string& from, const std::string& to,
              std::uint32_t* cost = nullptr) {
  for (const auto& l : v.links)
    if (l.from == from && l.to == to) {
      if (cost) *cost = l.cost;
      return true;
    }
  return false;
}

std::vector<std::string> node_list(const View& v) {
  std::vector<std::string> out;
  for (const auto& [a, _] : v.nodes) out.push_back(a);
  return out;
}

std::vector<std::string> gateways(const View& v) {
  std::vector<std::string> out;
  for (const auto& [a, f] : v.nodes)
    if (f.gateway) out.push_back(a);
  return out;
}

using Strings = std::vector<std::string>;

// The four-node IPv4 mesh every olsrd fixture describes: we are 10.0.0.1;
// 10.0.0.2 is a neighbour, 10.0.0.3 two hops away announcing 10.10.0.0/24,
// 10.0.0.4 three hops away announcing 0.0.0.0/0; 10.0.0.5 is heard but
// not symmetric.
void expect_fixture_mesh(const View& v) {
  EXPECT_EQ(node_list(v), (Strings{"10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4"}));
  EXPECT_EQ(gateways(v), (Strings{"10.0.0.4"}));
  ASSERT_TRUE(v.nodes.count("10.0.0.2"));
  EXPECT_TRUE(v.nodes.at("10.0.0.2").neighbour);
  EXPECT_FALSE(v.nodes.at("10.0.0.3").neighbour);
  EXPECT_EQ(v.nodes.at("10.0.0.2").hops, 1u);
  EXPECT_EQ(v.nodes.at("10.0.0.3").hops, 2u);
  EXPECT_EQ(v.nodes.at("10.0.0.4").hops, 3u);
  EXPECT_TRUE(has_link(v, "", "10.0.0.2"));
  EXPECT_TRUE(has_link(v, "10.0.0.3", "10.0.0.4"));
  EXPECT_FALSE(has_link(v, "", "10.0.0.5")) << "an asymmetric neighbour is no link";
  EXPECT_EQ(v.skipped_total, 0u) << (v.skipped.empty() ? "" : v.skipped.front());
}

// ------------------------------------------------------------- jsoninfo

TEST(OlsrJsoninfo, RequestNamesTheFourTablesAsAnHttpGet) {
  EXPECT_EQ(jsoninfo::request(), "GET /neighbors/routes/hna/topology HTTP/1.0\r\n\r\n");
}

TEST(OlsrJsoninfo, ReadsOlsrd09ReplyWithHttpHeader) {
  View v;
  ASSERT_EQ(jsoninfo::parse(fixture("jsoninfo-0.9.http"), v), "");
  expect_fixture_mesh(v);
  std::uint32_t cost = 0;
  ASSERT_TRUE(has_link(v, "10.0.0.2", "10.0.0.3", &cost));
  EXPECT_EQ(cost, 1126u) << "ETX 1.1 in olsrd's unit (x1024)";
}

TEST(OlsrJsoninfo, ReadsOlsrd06ReplyWithoutHeader) {
  View v;
  ASSERT_EQ(jsoninfo::parse(fixture("jsoninfo-0.6.json"), v), "");
  expect_fixture_mesh(v);
  std::uint32_t cost = 0;
  ASSERT_TRUE(has_link(v, "10.0.0.2", "10.0.0.3", &cost));
  EXPECT_EQ(cost, 1126u) << "0.6 prints the raw integer cost";
}

TEST(OlsrJsoninfo, PlainBodyWithoutHeaderIsReadToo) {
  std::string reply = fixture("jsoninfo-0.9.http");
  View v;
  ASSERT_EQ(jsoninfo::parse(reply.substr(reply.find("\r\n\r\n") + 4), v), "");
  expect_fixture_mesh(v);
}

TEST(OlsrJsoninfo, Ipv6DefaultRouteMarksGatewayAndLinkLocalGetsZone) {
  View v;
  ASSERT_EQ(jsoninfo::parse(fixture("jsoninfo-0.9-ipv6.json"), v), "");
  EXPECT_EQ(gateways(v), (Strings{"fd00::4"}));
  EXPECT_EQ(v.nodes.at("fd00::4").hops, 2u);
  Discovery d = to_discovery(v, "olsr topology");
  auto found = [&](const std::string& address) {
    return std::any_of(d.candidates.begin(), d.candidates.end(),
                       [&](const Candidate& c) { return c.address == address; });
  };
  EXPECT_TRUE(found("fe80::2%wlan0")) << "link-local needs its route's interface";
  EXPECT_TRUE(found("fd00::4"));
}

TEST(OlsrJsoninfo, TruncatedJsonIsAnErrorNotAPartialView) {
  std::string reply = fixture("jsoninfo-0.9.http");
  View v;
  std::string error = jsoninfo::parse(reply.substr(0, reply.size() / 2), v);
  EXPECT_NE(error.find("not valid JSON"), std::string::npos) << error;
}

TEST(OlsrJsoninfo, GarbageIsAnError) {
  for (std::string garbage : {std::string("\x01\x02\xff{{{ not json"), std::string("[1, 2, 3]"),
                              std::string(""), std::string("{\"neighbors\": [} trailing")}) {
    View v;
    EXPECT_NE(jsoninfo::parse(garbage, v), "") << "accepted: " << garbage;
  }
}

TEST(OlsrJsoninfo, DaemonErrorsAreReported) {
  View v;
  EXPECT_NE(jsoninfo::parse("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n", v).find("404"),
            std::string::npos);
  // olsrd 0.9 without header: output_error() in lib/jsoninfo.
  EXPECT_NE(jsoninfo::parse("{\"pid\": 1,\"systemTime\": 2,\"error\": \"404 Not Found\"}\n", v)
                .find("404 Not Found"),
            std::string::npos);
  EXPECT_NE(jsoninfo::parse("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n", v), "")
      << "a header without end";
}

TEST(OlsrJsoninfo, MalformedEntriesAreSkippedAndTheRestIsRead) {
  const char* reply = R"({"neighbors": [7, {"ipAddress": "10.0.0.2", "symmetric": true},
                  {"ipAddress": "10.0.0.5", "symmetric": "yes"}],
    "routes": [{"destination": "10.0.0.3", "genmask": 32, "metric": 2},
               {"destination": "10.0.0.9"}],
    "hna": [{"gateway": "10.0.0.3", "destination": "0.0.0.0"},
            {"gateway": "banana", "destination": "0.0.0.0", "genmask": 0}],
    "topology": [{"lastHopIP": "10.0.0.2", "destinationIP": "300.1.1.1"},
                 {"lastHopIP": "10.0.0.2", "destinationIP": "10.0.0.3", "tcEdgeCost": 1.0}]})";
  View v;
  ASSERT_EQ(jsoninfo::parse(reply, v), "");
  EXPECT_EQ(node_list(v), (Strings{"10.0.0.2", "10.0.0.3"}));
  EXPECT_TRUE(gateways(v).empty()) << "an HNA without genmask says nothing";
  EXPECT_EQ(v.nodes.at("10.0.0.3").hops, 2u);
  EXPECT_EQ(v.skipped_total, 6u);
  ASSERT_GE(v.skipped.size(), 2u);
  EXPECT_EQ(v.skipped.front(), "neighbors entry 1 is not an object");
  // A long fuzz run's finding: a "symmetric" that is no boolean made the
  // parser throw.
  EXPECT_EQ(v.skipped[1], "neighbors entry 3 has a \"symmetric\" that is not true or false");
}

// ------------------------------------------------------------- txtinfo

TEST(OlsrTxtinfo, RequestAsksForAllTables) {
  EXPECT_EQ(txtinfo::request(), "GET /all HTTP/1.0\r\n\r\n");
}

TEST(OlsrTxtinfo, ReadsOlsrd09TablesAndPassesOverOthers) {
  View v;
  ASSERT_EQ(txtinfo::parse(fixture("txtinfo-0.9.http"), v), "");
  expect_fixture_mesh(v);  // Links, MID, Gateways and the 2-hop table add nothing wrong
  std::uint32_t cost = 0;
  ASSERT_TRUE(has_link(v, "10.0.0.2", "10.0.0.3", &cost));
  EXPECT_EQ(cost, 1126u);
  EXPECT_EQ(v.nodes.at("10.0.0.4").zone, "wlan0");
}

TEST(OlsrTxtinfo, ReadsOlsrd06ReplyWithBareLineFeeds) {
  View v;
  ASSERT_EQ(txtinfo::parse(fixture("txtinfo-0.6.txt"), v), "");
  EXPECT_EQ(gateways(v), (Strings{"10.0.0.4"}));
  EXPECT_EQ(v.nodes.at("10.0.0.3").hops, 2u);
  EXPECT_TRUE(v.nodes.at("10.0.0.2").neighbour);
}

TEST(OlsrTxtinfo, Ipv6DefaultRouteMarksGateway) {
  const char* reply =
      "Table: HNA\nDestination\tGateway\n::/0\tfd00::4\nfd00:1::/64\tfd00::3\n\n"
      "Table: Topology\nDest. IP\tLast hop "
      "IP\tLQ\tNLQ\tCost\nfd00::4\tfd00::3\t1.000\t1.000\tINFINITE\n\n";
  View v;
  ASSERT_EQ(txtinfo::parse(reply, v), "");
  EXPECT_EQ(gateways(v), (Strings{"fd00::4"}));
  EXPECT_TRUE(has_link(v, "fd00::3", "fd00::4"));
}

TEST(OlsrTxtinfo, GarbageRowsAreSkipped) {
  const char* reply =
      "junk before any table\n"
      "Table: Neighbors\nIP address\tSYM\tMPR\tMPRS\tWill.\t2-hop count\n"
      "\x01\x02\x03 binary\n10.0.0.2\tYES\tNO\tNO\t3\t0\n10.0.0.\n\n"
      "Table: HNA\nDestination\tGateway\n0.0.0.0/0\n0.0.0.0/99\t10.0.0.4\n0.0.0.0/0\t10.0.0.4\n";
  View v;
  ASSERT_EQ(txtinfo::parse(reply, v), "");
  EXPECT_EQ(node_list(v), (Strings{"10.0.0.2", "10.0.0.4"}));
  EXPECT_EQ(gateways(v), (Strings{"10.0.0.4"}));
  EXPECT_EQ(v.skipped_total, 5u);
}

TEST(OlsrTxtinfo, ReplyWithoutTablesIsAnError) {
  View v;
  EXPECT_NE(txtinfo::parse("hello, this is not olsrd\n", v), "");
  EXPECT_NE(txtinfo::parse("error: 404 Not Found\n", v).find("404"), std::string::npos);
  EXPECT_NE(txtinfo::parse("HTTP/1.1 503 Service Unavailable\r\n\r\n", v).find("503"),
            std::string::npos);
}

// ------------------------------------------------------------- olsrd2

TEST(OlsrOlsrd2, RequestChainsHeadAndTableOfEachViewer) {
  EXPECT_EQ(olsrd2::request(),
            "/nhdpinfo head neighbor/nhdpinfo neighbor"
            "/olsrv2info head node/olsrv2info node"
            "/olsrv2info head attached_network/olsrv2info attached_network"
            "/olsrv2info head edge/olsrv2info edge"
            "/olsrv2info head route/olsrv2info route\n");
}

TEST(OlsrOlsrd2, ReadsTelnetOutputByHeadKeys) {
  View v;
  ASSERT_EQ(olsrd2::parse(fixture("olsrd2-telnet.txt"), v), "");
  EXPECT_EQ(node_list(v), (Strings{"10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4", "fd00::2"}));
  EXPECT_EQ(gateways(v), (Strings{"10.0.0.4", "fd00::2"})) << "0.0.0.0/0 and ::/0";
  EXPECT_TRUE(v.nodes.at("10.0.0.2").neighbour);
  EXPECT_EQ(v.nodes.at("10.0.0.2").aliases, (Strings{"fd00::2"})) << "dual-stack partner";
  EXPECT_EQ(v.nodes.at("10.0.0.4").hops, 3u);
  std::uint32_t cost = 0;
  ASSERT_TRUE(has_link(v, "", "10.0.0.2", &cost));
  EXPECT_EQ(cost, 2390u) << "the outgoing raw metric";
  EXPECT_TRUE(has_link(v, "10.0.0.3", "10.0.0.4"));
  EXPECT_FALSE(v.nodes.count("10.0.0.5")) << "not symmetric, not an OLSRv2 node";
  EXPECT_EQ(v.skipped_total, 0u) << (v.skipped.empty() ? "" : v.skipped.front());
}

TEST(OlsrOlsrd2, OlderKeyOrderAndUnknownSubcommandsAreHandled) {
  View v;
  ASSERT_EQ(olsrd2::parse(fixture("olsrd2-telnet-older.txt"), v), "");
  EXPECT_EQ(node_list(v), (Strings{"10.0.0.2", "10.0.0.4"}));
  EXPECT_EQ(gateways(v), (Strings{"10.0.0.4"})) << "attached_net, not attached_net_src";
  EXPECT_TRUE(v.nodes.at("10.0.0.2").neighbour);
  EXPECT_EQ(v.skipped_total, 2u) << "the two \"Wrong parameter\" lines";
}

TEST(OlsrOlsrd2, GarbageAndBrokenLinesAreSkipped) {
  const char* reply =
      "10.0.0.9\tbefore any head\n"
      "node\tnode_ansn\tnode_vtime\tnode_virtual\tnode_neighbor\n"
      "10.0.0.2\t1\t2.000\tfalse\ttrue\n"
      "10.0.0.3\t1\n"
      "\x7f\x01 binary junk\n"
      "10.0.0.3\t1\t2.000\tfalse\tfalse\n"
      "node\tattached_net\tattached_net_src\n"
      "10.0.0.3\t0.0.0.0/0\t-\n"
      "10.0.0.";
  View v;
  ASSERT_EQ(olsrd2::parse(reply, v), "");
  EXPECT_EQ(node_list(v), (Strings{"10.0.0.2", "10.0.0.3"}));
  EXPECT_EQ(gateways(v), (Strings{"10.0.0.3"}));
  // Before any head, wrong field count, the junk, the line after the junk
  // (which no head line vouches for any more) and the cut-off last line.
  EXPECT_EQ(v.skipped_total, 5u);
}

TEST(OlsrOlsrd2, NoTableAtAllIsAnError) {
  View v;
  EXPECT_NE(
      olsrd2::parse("Error, unknown command 'nhdpinfo'\nError, unknown command 'olsrv2info'\n", v)
          .find("unknown command"),
      std::string::npos);
  View w;
  EXPECT_NE(olsrd2::parse("{\"neighbors\": []}\n", w), "");
  View x;
  EXPECT_NE(olsrd2::parse("", x), "");
}

// ------------------------------------------------------------- shared pieces

TEST(OlsrHttpReply, SplitsBothLineEndStyles) {
  auto crlf = split_http("HTTP/1.1 200 OK\r\nA: b\r\n\r\nbody");
  EXPECT_TRUE(crlf.has_header);
  EXPECT_EQ(crlf.status, 200);
  EXPECT_EQ(crlf.body, "body");
  auto lf = split_http("HTTP/1.0 200 OK\nContent-type: text/plain\n\nTable: HNA\n");
  EXPECT_EQ(lf.status, 200);
  EXPECT_EQ(lf.body, "Table: HNA\n");
  auto none = split_http("{\"a\": 1}");
  EXPECT_FALSE(none.has_header);
  EXPECT_EQ(none.body, "{\"a\": 1}");
  EXPECT_NE(split_http("HTTP/1.1 abc\r\n\r\n").error, "");
}

TEST(OlsrHttpReply, MessageSizeHonoursPaddedContentLength) {
  // lib/info pads the length with spaces up to 12 characters.
  std::string m = "HTTP/1.1 200 OK\r\nContent-Length: 4           \r\n\r\nab";
  EXPECT_FALSE(http_message_size(m));
  m += "cd";
  EXPECT_EQ(http_message_size(m), m.size());
  EXPECT_FALSE(http_message_size("HTTP/1.0 200 OK\n\nTable"));  // no length: until close
}

TEST(OlsrFields, SplitsAtEveryTabKeepingEmptyFields) {
  using V = std::vector<std::string_view>;
  EXPECT_EQ(split_tabs("10.0.0.1\tYES\t1"), (V{"10.0.0.1", "YES", "1"}));
  EXPECT_EQ(split_tabs("a\t\tb\t"), (V{"a", "", "b", ""}));
  EXPECT_EQ(split_tabs(""), V{""});
  EXPECT_EQ(split_tabs("no tabs here"), V{"no tabs here"});
}

TEST(OlsrFields, CountsAreWholeDecimalNumbers) {
  EXPECT_EQ(parse_count("0"), 0u);
  EXPECT_EQ(parse_count("4294967295"), 4294967295u);
  for (const char* bad : {"", "4294967296", "-1", "+1", " 1", "1 ", "1.0", "0x10", "INFINITE"})
    EXPECT_FALSE(parse_count(bad)) << bad;
}

TEST(OlsrView, DefaultRoutes) {
  EXPECT_TRUE(is_default_route("0.0.0.0/0"));
  EXPECT_TRUE(is_default_route("::/0"));
  EXPECT_TRUE(is_default_route("0.0.0.0", 0));
  EXPECT_FALSE(is_default_route("0.0.0.0/1"));
  EXPECT_FALSE(is_default_route("10.0.0.0/8"));
  EXPECT_FALSE(is_default_route("::/0x"));
  EXPECT_FALSE(is_default_route("garbage/0"));
  EXPECT_FALSE(is_default_route("0.0.0.0"));
}

TEST(OlsrView, CanonicalAddresses) {
  EXPECT_EQ(canonical_address("10.0.0.1"), "10.0.0.1");
  EXPECT_EQ(canonical_address("FD00:0::1"), "fd00::1");
  EXPECT_FALSE(canonical_address("10.0.0.256"));
  EXPECT_FALSE(canonical_address("fe80::1%eth0"));
  EXPECT_FALSE(canonical_address(""));
  EXPECT_FALSE(canonical_address("-"));
}

TEST(OlsrView, DiscoveryCarriesNodeDistanceGatewayAndAliases) {
  View v;
  v.node("10.0.0.2").neighbour = true;
  v.node("10.0.0.2").aliases.push_back("fd00::2");
  v.set_hops("10.0.0.4", 3);
  v.node("10.0.0.4").gateway = true;
  v.node("fe80::9");  // link-local without a route: not dialable
  v.add_link("", "10.0.0.2", 0);
  v.add_link("", "10.0.0.2", 5);
  Discovery d = to_discovery(v, "olsrd2 node");
  ASSERT_EQ(d.candidates.size(), 3u);
  for (const auto& c : d.candidates) {
    EXPECT_EQ(c.detail, "olsrd2 node");
    EXPECT_EQ(c.port, 0);
    if (c.node == "10.0.0.2") {
      EXPECT_EQ(c.distance, 1u);
    }
    if (c.node == "10.0.0.4") {
      EXPECT_EQ(c.distance, 3u);
      EXPECT_TRUE(c.gateway);
    }
  }
  EXPECT_EQ(d.candidates[1].address, "fd00::2");
  EXPECT_EQ(d.candidates[1].node, "10.0.0.2");
  EXPECT_EQ(d.links.size(), 1u) << "a repeated link is kept once";
}

TEST(OlsrSettings, EndpointsAndOrder) {
  std::string why;
  EXPECT_TRUE(parse_endpoint("127.0.0.1:9090", &why));
  EXPECT_EQ(endpoint_text(*parse_endpoint("[::1]:2009", &why)), "[::1]:2009");
  EXPECT_FALSE(parse_endpoint("::1:2009", &why));
  EXPECT_FALSE(parse_endpoint("localhost:9090", &why));
  EXPECT_FALSE(parse_endpoint("127.0.0.1:0", &why));
  EXPECT_FALSE(parse_endpoint("127.0.0.1", &why));

  Json::Value c(Json::objectValue);
  c["source"] = "auto";
  c["jsoninfo"] = "127.0.0.1:9090";
  c["txtinfo"] = "";
  c["olsrd2"] = "[::1]:2009";
  c["timeout"] = 700;
  c["maxReplyBytes"] = 65536;
  auto s = read_settings(c, &why);
  ASSERT_TRUE(s) << why;
  ASSERT_EQ(s->daemons.size(), 2u) << "an empty address is skipped in auto";
  EXPECT_EQ(s->daemons[0].source, Source::jsoninfo);
  EXPECT_EQ(s->daemons[1].source, Source::olsrd2);
  EXPECT_EQ(s->limits.timeout.count(), 700);

  c["source"] = "txtinfo";
  EXPECT_FALSE(read_settings(c, &why));
  EXPECT_NE(why.find("olsr.txtinfo is empty"), std::string::npos) << why;
  c["source"] = "auto";
  c["jsoninfo"] = "";
  c["olsrd2"] = "";
  EXPECT_FALSE(read_settings(c, &why));
  c["olsrd2"] = "nonsense";
  EXPECT_FALSE(read_settings(c, &why));
  EXPECT_NE(why.find("olsr.olsrd2"), std::string::npos) << why;
}

}  // namespace
}  // namespace mnigs::olsr
