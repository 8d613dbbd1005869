// The test olsrd's answers, checked against what olsrd 0.9 and OONF do:
// request parsing of lib/info (GET, /plain, composite commands, 404),
// the tables derived from the mesh description, and OONF's telnet
// chain/interactive modes with the viewer formats.
#include "daemon.hpp"

#include <gtest/gtest.h>
#include <json/json.h>

#include <sstream>

#include "network.hpp"

namespace olsrd_peer {
namespace {

Network mesh(const std::string& text = R"({"self": "10.0.0.1", "hna": ["192.168.1.0/24"],
  "nodes": [{"address": "10.0.0.2", "dualstack": "fd00::2"},
            {"address": "10.0.0.3", "via": "10.0.0.2"},
            {"address": "10.0.0.4", "via": "10.0.0.3", "hna": ["0.0.0.0/0"]},
            {"address": "10.0.0.5", "symmetric": false},
            {"address": "10.0.0.6", "via": "10.0.0.5"}]})") {
  Json::Value root;
  std::istringstream in(text);
  std::string errors;
  EXPECT_TRUE(Json::parseFromStream(Json::CharReaderBuilder(), in, &root, &errors)) << errors;
  std::string why;
  auto net = read_network(root, &why);
  EXPECT_TRUE(net) << why;
  return net.value_or(Network{});
}

struct Split {
  std::string header, body;
};
Split split(const std::string& reply) {
  auto end = reply.find("\r\n\r\n");
  if (reply.rfind("HTTP/1.1 ", 0) != 0 || end == std::string::npos) return {"", reply};
  return {reply.substr(0, end + 4), reply.substr(end + 4)};
}

Json::Value json(const std::string& body) {
  Json::Value root;
  std::istringstream in(body);
  std::string errors;
  EXPECT_TRUE(Json::parseFromStream(Json::CharReaderBuilder(), in, &root, &errors))
      << errors << body;
  return root;
}

std::vector<std::string> strings(const Json::Value& list, const char* key) {
  std::vector<std::string> out;
  for (const auto& e : list) out.push_back(e[key].asString());
  return out;
}

using Strings = std::vector<std::string>;

TEST(OlsrdPeerNetwork, HopsNextHopsAndAsymmetricBranches) {
  Network net = mesh();
  EXPECT_EQ(net.find("10.0.0.4")->hops, 3u);
  EXPECT_EQ(net.find("10.0.0.4")->next_hop, "10.0.0.2");
  EXPECT_EQ(net.find("10.0.0.5")->hops, 0u) << "an asymmetric neighbour carries no routes";
  EXPECT_EQ(net.find("10.0.0.6")->hops, 0u);
  EXPECT_EQ(net.reachable().size(), 3u);
}

TEST(OlsrdPeerNetwork, BadDescriptionsAreRefused) {
  for (const char* text :
       {R"({"self": "10.0.0.1", "nodes": [{"address": "10.0.0.2", "via": "10.0.0.9"}]})",
        R"({"self": "10.0.0.1", "nodes": [{"address": "10.0.0.2", "via": "10.0.0.3"},
                                                             {"address": "10.0.0.3", "via": "10.0.0.2"}]})",
        R"({"self": "nope", "nodes": []})",
        R"({"self": "10.0.0.1", "nodes": [{"address": "10.0.0.2", "hna": ["0/0"]}]})"}) {
    Json::Value root;
    std::istringstream in(text);
    std::string errors, why;
    ASSERT_TRUE(Json::parseFromStream(Json::CharReaderBuilder(), in, &root, &errors));
    EXPECT_FALSE(read_network(root, &why)) << text;
  }
}

TEST(OlsrdPeerJsoninfo, PlainRequestGetsHeaderByDefaultAndJson) {
  Network net = mesh();
  auto r = split(info_reply(Info::jsoninfo, "/neighbors/routes/hna/topology\n", false, net, {}));
  ASSERT_NE(r.header, "");
  EXPECT_EQ(r.header.rfind("HTTP/1.1 200 OK\r\n", 0), 0u);
  EXPECT_NE(r.header.find("Content-Length: " + std::to_string(r.body.size()) + " "),
            std::string::npos);
  Json::Value root = json(r.body);
  EXPECT_EQ(strings(root["neighbors"], "ipAddress"), (Strings{"10.0.0.2", "10.0.0.5"}));
  EXPECT_FALSE(root["neighbors"][1]["symmetric"].asBool());
  EXPECT_EQ(strings(root["hna"], "gateway"), (Strings{"10.0.0.1", "10.0.0.4"}));
  EXPECT_EQ(root["hna"][1]["genmask"].asInt(), 0);
  Strings routes = strings(root["routes"], "destination");
  EXPECT_EQ(routes, (Strings{"10.0.0.2", "10.0.0.3", "10.0.0.4", "0.0.0.0"}));
  EXPECT_EQ(root["routes"][2]["metric"].asInt(), 3);
  EXPECT_EQ(root["topology"].size(), 6u) << "both directions of three links";
  EXPECT_FALSE(root.isMember("links")) << "only what was asked for";
}

TEST(OlsrdPeerJsoninfo, GetForcesHeaderAndPlainPrefixDropsIt) {
  Network net = mesh();
  Options no_headers;
  no_headers.http_headers = false;
  EXPECT_NE(
      split(info_reply(Info::jsoninfo, "GET /hna HTTP/1.0\r\n\r\n", false, net, no_headers)).header,
      "");
  EXPECT_EQ(split(info_reply(Info::jsoninfo, "/hna", false, net, no_headers)).header, "");
  auto plain = split(info_reply(Info::jsoninfo, "/plain/hna", false, net, {}));
  EXPECT_EQ(plain.header, "");
  EXPECT_TRUE(json(plain.body)["hna"].isArray());
}

TEST(OlsrdPeerJsoninfo, UnknownCommandIs404) {
  Network net = mesh();
  auto with = split(info_reply(Info::jsoninfo, "GET /neighbors/bogus HTTP/1.1", false, net, {}));
  EXPECT_EQ(with.header.rfind("HTTP/1.1 404 Not Found\r\n", 0), 0u);
  EXPECT_EQ(with.body, "");
  Options no_headers;
  no_headers.http_headers = false;
  auto without = info_reply(Info::jsoninfo, "/bogus", false, net, no_headers);
  EXPECT_EQ(json(without)["error"].asString(), "404 Not Found");
}

TEST(OlsrdPeerJsoninfo, FaultsBreakTheBody) {
  Network net = mesh();
  Options garbage;
  garbage.fault = Fault::garbage;
  Json::Value root;
  std::istringstream in(split(info_reply(Info::jsoninfo, "/hna", false, net, garbage)).body);
  std::string errors;
  EXPECT_FALSE(Json::parseFromStream(Json::CharReaderBuilder(), in, &root, &errors));
  Options truncated;
  truncated.fault = Fault::truncated;
  std::string whole = split(info_reply(Info::jsoninfo, "/hna", false, net, {})).body;
  std::string cut = split(info_reply(Info::jsoninfo, "/hna", false, net, truncated)).body;
  EXPECT_LT(cut.size(), whole.size());
}

TEST(OlsrdPeerTxtinfo, AllHasTheTablesInOlsrdOrder) {
  Network net = mesh();
  std::string body = split(info_reply(Info::txtinfo, "GET /all HTTP/1.0", false, net, {})).body;
  auto at = [&](const char* title) { return body.find(title); };
  ASSERT_NE(at("Table: Neighbors\nIP address\tSYM\tMPR\tMPRS\tWill.\t2-hop count\n"),
            std::string::npos);
  EXPECT_LT(at("Table: Neighbors"), at("Table: Routes"));
  EXPECT_LT(at("Table: Routes"), at("Table: HNA"));
  EXPECT_LT(at("Table: HNA"), at("Table: Topology"));
  EXPECT_NE(body.find("0.0.0.0/0\t10.0.0.4\n"), std::string::npos);
  EXPECT_NE(body.find("10.0.0.4/32\t10.0.0.2\t3\t3.000\tmesh0\t\n"), std::string::npos);
  EXPECT_NE(body.find("10.0.0.5\tNO\tNO\tNO\t3\t1\n"), std::string::npos);
}

TEST(OlsrdPeerTxtinfo, ShortCommandsAndPlainErrors) {
  Network net = mesh();
  Options no_headers;
  no_headers.http_headers = false;
  std::string hna = info_reply(Info::txtinfo, "/hna", false, net, no_headers);
  EXPECT_EQ(hna.rfind("Table: HNA\n", 0), 0u);
  EXPECT_EQ(info_reply(Info::txtinfo, "/neighbors", false, net, no_headers),
            "error: 404 Not Found\n")
      << "txtinfo's command is /nei";
  EXPECT_EQ(info_reply(Info::txtinfo, "", true, net, no_headers), "error: 408 Request Timeout\n");
}

TEST(OlsrdPeerTelnet, ChainRunsEveryCommandThenCloses) {
  Network net = mesh();
  TelnetSession s(net, {});
  auto out = s.feed("/nhdpinfo head neighbor/nhdpinfo neighbor/olsrv2info attached_network\n");
  EXPECT_TRUE(out.close);
  std::istringstream lines(out.text);
  std::string head, first, second, attached;
  std::getline(lines, head);
  std::getline(lines, first);
  std::getline(lines, second);
  std::getline(lines, attached);
  EXPECT_EQ(head.rfind("neighbor_originator\tneighbor_dualstack\tneighbor_symmetric\t", 0), 0u)
      << head;
  EXPECT_EQ(first.rfind("10.0.0.2\tfd00::2\ttrue\t1\t0\t", 0), 0u) << first;
  EXPECT_EQ(second.rfind("10.0.0.5\t-\tfalse\t", 0), 0u) << second;
  EXPECT_EQ(attached.rfind("10.0.0.4\t0.0.0.0/0\t-\t", 0), 0u) << attached;
  EXPECT_EQ(out.text.find("> "), std::string::npos) << "no prompt in chain mode";
}

TEST(OlsrdPeerTelnet, InteractiveLinesGetEmptyLineAndPromptUntilQuit) {
  Network net = mesh();
  TelnetSession s(net, {});
  auto partial = s.feed("olsrv2info node %node% neighbour=%node_neighbor%");
  EXPECT_EQ(partial.text, "") << "nothing before the line ends";
  auto out = s.feed("\r\nfrobnicate\n");
  EXPECT_FALSE(out.close);
  EXPECT_EQ(out.text,
            "10.0.0.2 neighbour=true\n10.0.0.3 neighbour=false\n10.0.0.4 neighbour=false\n\n"
            "Error, unknown command 'frobnicate'\n\n> ");
  auto bye = s.feed("olsrv2info nonsense\nquit\n");
  EXPECT_TRUE(bye.close);
  EXPECT_EQ(bye.text, "Unknown parameter for command 'olsrv2info': nonsense\n\n");
}

TEST(OlsrdPeerTelnet, RoutesAndEdgesFollowTheMesh) {
  Network net = mesh();
  TelnetSession s(net, {});
  auto out =
      s.feed("/olsrv2info route %route_dst% %domain_path_hops%/olsrv2info edge %node%>%edge%\n");
  EXPECT_EQ(out.text,
            "10.0.0.2 1\n10.0.0.3 2\n10.0.0.4 3\n0.0.0.0/0 3\n"
            "10.0.0.2>10.0.0.1\n10.0.0.2>10.0.0.3\n10.0.0.3>10.0.0.2\n10.0.0.3>10.0.0.4\n10.0.0.4>"
            "10.0.0.3\n");
}

}  // namespace
}  // namespace olsrd_peer
