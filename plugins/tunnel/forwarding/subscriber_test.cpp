// Unit tests of the forwarding tunnel's subscriber side (connect,
// disconnect) and of the parsing of ip(8) output.
#include "fake_context.hpp"
#include "common.hpp"

namespace mnigs::forwarding::testing {
namespace {

const std::string kViaNextHop =
    R"([{"dst":"10.77.1.1","gateway":"10.77.0.254","dev":"mesh0","prefsrc":"10.77.2.2",)"
    R"("flags":[],"uid":0,"cache":[]}])";
const std::string kOnLink6 =
    R"([{"dst":"fd00::1","from":"::","dev":"mesh0","protocol":"kernel","prefsrc":"fd00::2",)"
    R"("metric":256,"flags":[],"pref":"medium"}])";

TEST_F(ForwardingTest, ConnectRoutesThroughTheNextHopWithConfiguredTableAndPriority) {
  Json::Value c;
  c["table"] = 100;
  c["priority"] = 4000;
  start(c);
  ctx.answer("ip -4 -j route get 10.77.1.1", 0, kViaNextHop);
  auto r = connect(session("s", "10.77.2.2", "10.77.1.1", "default"));
  EXPECT_EQ(r.error, "");
  EXPECT_EQ(ctx.lines(), (std::vector<std::string>{
                             "ip -4 -j route get 10.77.1.1",
                             "ip -4 route replace default via 10.77.0.254 dev mesh0 table 100",
                             "ip -4 rule add priority 4000 lookup main suppress_prefixlength 0",
                             "ip -4 rule add priority 4001 lookup 100"}));
  const auto status = plugin->status()["subscriber"]["sessions"][0];
  EXPECT_EQ(status["via"].asString(), "10.77.0.254");
  EXPECT_TRUE(status["active"].asBool());
}

TEST_F(ForwardingTest, ConnectToAnOnLinkIPv6Gateway) {
  start();
  ctx.answer("ip -6 -j route get fd00::1", 0, kOnLink6);
  auto s = session("s", "fd00::2", "fd00::1");  // no "routing": default
  s.params["mode"] = "routed";
  EXPECT_EQ(connect(s).error, "");
  EXPECT_EQ(ctx.lines(), (std::vector<std::string>{
                             "ip -6 -j route get fd00::1",
                             "ip -6 route replace default via fd00::1 dev mesh0 onlink table 65533",
                             "ip -6 rule add priority 31000 lookup main suppress_prefixlength 0",
                             "ip -6 rule add priority 31001 lookup 65533"}));
}

TEST_F(ForwardingTest, ConnectThroughAnIPv6NextHopForIPv4) {
  start();
  ctx.answer("ip -4 -j route get 10.77.1.1", 0,
             R"([{"dst":"10.77.1.1","via":{"family":"inet6","host":"fe80::2"},"dev":"wlan0"}])");
  EXPECT_EQ(connect(session("s", "10.77.2.2", "10.77.1.1", "default")).error, "");
  EXPECT_EQ(ctx.lines()[1],
            "ip -4 route replace default via inet6 fe80::2 dev wlan0 table 65533");
}

TEST_F(ForwardingTest, FailedRuleUndoesTheStepsTaken) {
  start();
  ctx.answer("ip -4 -j route get", 0, kViaNextHop);
  ctx.answer("ip -4 rule add priority 31001", 2, "", "RTNETLINK answers: Operation not permitted\n");
  auto r = connect(session("s", "10.77.2.2", "10.77.1.1", "default"));
  EXPECT_TRUE(contains(r.error, "`ip -4 rule add priority 31001 lookup 65533` failed: "
                                "RTNETLINK answers: Operation not permitted"))
      << r.error;
  EXPECT_EQ(ctx.lines(), (std::vector<std::string>{
                             "ip -4 -j route get 10.77.1.1",
                             "ip -4 route replace default via 10.77.0.254 dev mesh0 table 65533",
                             "ip -4 rule add priority 31000 lookup main suppress_prefixlength 0",
                             "ip -4 rule add priority 31001 lookup 65533",
                             "ip -4 rule del priority 31000 lookup main suppress_prefixlength 0",
                             "ip -4 route flush table 65533"}));
  EXPECT_EQ(plugin->status()["subscriber"]["sessions"].size(), 0u);
}

TEST_F(ForwardingTest, UndoKeepsARuleThatWasThereBefore) {
  start();
  ctx.answer("ip -6 -j route get", 0, kOnLink6);
  ctx.answer("ip -6 rule add priority 31000", 2, "", "RTNETLINK answers: File exists\n");
  ctx.answer("ip -6 rule add priority 31001", 2, "", "RTNETLINK answers: No buffer space available\n");
  EXPECT_FALSE(connect(session("s", "fd00::2", "fd00::1")).error.empty());
  EXPECT_EQ(ctx.count("ip -6 rule del priority 31000 lookup main suppress_prefixlength 0"), 0u);
  EXPECT_EQ(ctx.lines().back(), "ip -6 route flush table 65533");
}

TEST_F(ForwardingTest, ExistingRulesAreNoError) {
  start();
  ctx.answer("ip -4 -j route get", 0, kViaNextHop);
  ctx.answer("ip -4 rule add", 2, "", "RTNETLINK answers: File exists\n");
  EXPECT_EQ(connect(session("s", "10.77.2.2", "10.77.1.1")).error, "");
}

TEST_F(ForwardingTest, UnreachableOrLocalGatewayIsRefusedBeforeAnyChange) {
  start();
  ctx.answer("ip -4 -j route get 10.77.1.1", 2, "", "RTNETLINK answers: Network is unreachable\n");
  auto r = connect(session("s", "10.77.2.2", "10.77.1.1"));
  EXPECT_TRUE(contains(r.error, "Network is unreachable")) << r.error;
  ctx.answer("ip -4 -j route get 10.77.2.2", 0,
             R"([{"type":"local","dst":"10.77.2.2","dev":"lo","table":"local"}])");
  r = connect(session("t", "10.77.2.2", "10.77.2.2"));
  EXPECT_TRUE(contains(r.error, "is an address of this host")) << r.error;
  EXPECT_EQ(ctx.lines().size(), 2u);
}

TEST_F(ForwardingTest, RoutingNoneRunsNothing) {
  start();
  auto s = session("s", "10.77.2.2", "10.77.1.1", "none");
  EXPECT_EQ(connect(s).error, "");
  EXPECT_EQ(plugin->status()["subscriber"]["sessions"][0]["routing"].asString(), "none");
  EXPECT_EQ(disconnect(s).error, "");
  EXPECT_TRUE(ctx.calls.empty());
  EXPECT_FALSE(connect(session("t", "10.77.2.2", "10.77.1.1", "all")).error.empty());
  EXPECT_FALSE(connect(session("u", "10.77.2.2", "not-an-address", "default")).error.empty());
  EXPECT_TRUE(ctx.calls.empty());
}

TEST_F(ForwardingTest, DisconnectRemovesRulesAndRouteAndToleratesWhatIsGone) {
  start();
  ctx.answer("ip -6 -j route get", 0, kOnLink6);
  auto s = session("s", "fd00::2", "fd00::1", "default");
  connect(s);
  ctx.calls.clear();
  ctx.answer("ip -6 rule del", 2, "", "RTNETLINK answers: No such file or directory\n");
  ctx.answer("ip -6 route flush", 2, "", "Error: ipv6: FIB table does not exist.\n");
  EXPECT_EQ(disconnect(s).error, "");
  EXPECT_EQ(ctx.lines(), (std::vector<std::string>{
                             "ip -6 rule del priority 31000 lookup main suppress_prefixlength 0",
                             "ip -6 rule del priority 31001 lookup 65533",
                             "ip -6 route flush table 65533"}));
  EXPECT_EQ(plugin->status()["subscriber"]["sessions"].size(), 0u);
}

TEST_F(ForwardingTest, DisconnectRunsEveryStepAndReportsTheFirstRealFailure) {
  start();
  ctx.answer("ip -4 rule del priority 31000", 2, "", "RTNETLINK answers: Operation not permitted\n");
  ctx.answer("ip -4 route flush", 2, "", "RTNETLINK answers: No such process\n");
  auto r = disconnect(session("unknown", "10.77.2.2", "10.77.1.1"));  // e.g. after a restart
  EXPECT_TRUE(contains(r.error, "Operation not permitted")) << r.error;
  EXPECT_EQ(ctx.lines().size(), 3u);
}

TEST_F(ForwardingTest, FailedConnectGivesTheRouteBackToTheConnectedSession) {
  start();
  ctx.answer("ip -4 -j route get 10.77.1.1", 0, kViaNextHop);
  connect(session("first", "10.77.2.2", "10.77.1.1"));
  ctx.answer("ip -4 -j route get 10.77.5.5", 0,
             R"([{"dst":"10.77.5.5","gateway":"10.77.0.9","dev":"mesh1"}])");
  ctx.answer("ip -4 rule add priority 31000", 2, "", "RTNETLINK answers: File exists\n");
  ctx.answer("ip -4 rule add priority 31001", 2, "", "RTNETLINK answers: Invalid argument\n");
  ctx.calls.clear();
  EXPECT_FALSE(connect(session("second", "10.77.2.2", "10.77.5.5")).error.empty());
  EXPECT_EQ(ctx.lines().back(),
            "ip -4 route replace default via 10.77.0.254 dev mesh0 table 65533");
  EXPECT_TRUE(plugin->status()["subscriber"]["sessions"][0]["active"].asBool());
}

TEST_F(ForwardingTest, NewerSessionOwnsTheRouteAndOlderDisconnectLeavesIt) {
  start();
  ctx.answer("ip -4 -j route get", 0, kViaNextHop);
  connect(session("old", "10.77.2.2", "10.77.1.1"));
  connect(session("new", "10.77.2.2", "10.77.1.1"));
  ctx.calls.clear();
  EXPECT_EQ(disconnect(session("old", "10.77.2.2", "10.77.1.1")).error, "");
  EXPECT_TRUE(ctx.calls.empty());
  EXPECT_EQ(disconnect(session("new", "10.77.2.2", "10.77.1.1")).error, "");
  EXPECT_EQ(ctx.lines().size(), 3u);
}

// A warm standby (TunnelPlugin::supports_standby): connected with routing
// "none", then with "default" when it takes over; the active session's
// routes move to it in one replace, and the old session leaves them alone.
TEST_F(ForwardingTest, AStandbyTakesTheRouteInOneStepAndTheOldSessionLeavesIt) {
  start();
  EXPECT_TRUE(plugin->supports_standby());
  ctx.answer("ip -4 -j route get 10.77.1.1", 0, kViaNextHop);
  ASSERT_EQ(connect(session("active", "10.77.2.2", "10.77.1.1")).error, "");
  ctx.calls.clear();
  ASSERT_EQ(connect(session("standby", "10.77.3.2", "10.77.3.1", "none")).error, "");
  EXPECT_TRUE(ctx.calls.empty());  // the standby touches no route
  ctx.answer("ip -4 -j route get 10.77.3.1", 0,
             R"([{"dst":"10.77.3.1","dev":"mesh3","prefsrc":"10.77.3.2"}])");
  ctx.answer("ip -4 rule add", 2, "", "RTNETLINK answers: File exists\n");
  ASSERT_EQ(connect(session("standby", "10.77.3.2", "10.77.3.1", "default")).error, "");
  EXPECT_EQ(ctx.lines(),
            (std::vector<std::string>{
                "ip -4 -j route get 10.77.3.1",
                "ip -4 route replace default via 10.77.3.1 dev mesh3 onlink table 65533",
                "ip -4 rule add priority 31000 lookup main suppress_prefixlength 0",
                "ip -4 rule add priority 31001 lookup 65533"}));
  const Json::Value sessions = plugin->status()["subscriber"]["sessions"];
  ASSERT_EQ(sessions.size(), 2u);
  for (const auto& s : sessions)
    EXPECT_EQ(s["active"].asBool(), s["id"].asString() == "standby") << sessions.toStyledString();
  ctx.calls.clear();
  EXPECT_EQ(disconnect(session("active", "10.77.2.2", "10.77.1.1")).error, "");
  EXPECT_TRUE(ctx.calls.empty());
}

TEST_F(ForwardingTest, OperationsNeverInterleave) {
  Json::Value c;
  c["uplink"] = "eth1";
  start(c);
  ctx.answer("ip -4 -j route get", 0, kViaNextHop);
  plugin->open_session(session("g", "10.77.9.9", "10.77.1.1"), [](std::string, Json::Value) {});
  plugin->connect(session("s", "10.77.2.2", "10.77.1.1"), [](std::string) {});
  plugin->close_session(session("g", "10.77.9.9", "10.77.1.1"), [](std::string) {});
  EXPECT_EQ(plugin->status()["pendingOperations"].asUInt(), 3u);
  ctx.settle();
  EXPECT_EQ(ctx.lines(), (std::vector<std::string>{
                             "nft -f -", "sysctl -n net.ipv4.ip_forward",
                             "sysctl -w net.ipv4.ip_forward=1", "ip -4 -j route get 10.77.1.1",
                             "ip -4 route replace default via 10.77.0.254 dev mesh0 table 65533",
                             "ip -4 rule add priority 31000 lookup main suppress_prefixlength 0",
                             "ip -4 rule add priority 31001 lookup 65533",
                             "nft delete element inet mnigs_forwarding subscribers4 { 10.77.9.9 }"}));
}

TEST(ForwardingRoutes, ParsesAddresses) {
  std::string why;
  EXPECT_EQ(parse_address("10.77.2.2", &why)->family, Family::v4);
  EXPECT_EQ(parse_address("FD00:0::2", &why)->text, "fd00::2");
  EXPECT_EQ(parse_address("::ffff:10.0.0.1", &why)->text, "10.0.0.1");
  EXPECT_FALSE(parse_address("fe80::1%eth0", &why));
  EXPECT_FALSE(parse_address("0.0.0.0", &why));
  EXPECT_FALSE(parse_address("ff02::1", &why));
  EXPECT_FALSE(parse_address("host.example", &why));
  EXPECT_TRUE(contains(why, "is not an IPv4 or IPv6 address")) << why;
}

TEST(ForwardingRoutes, ParsesDefaultRoutes) {
  EXPECT_FALSE(parse_default_dev("[]"));
  EXPECT_FALSE(parse_default_dev(""));
  EXPECT_FALSE(parse_default_dev(R"([{"type":"unreachable","dst":"default","dev":"lo"}])"));
  EXPECT_EQ(*parse_default_dev(R"([{"dst":"default","dev":"a0","metric":600},)"
                               R"({"dst":"default","dev":"b0","metric":100}])"),
            "b0");
  EXPECT_EQ(*parse_default_dev(R"([{"dst":"default","flags":[],"nexthops":[)"
                               R"({"gateway":"192.0.2.1","dev":"m0","weight":1}]}])"),
            "m0");
}

TEST(ForwardingRoutes, ParsesRouteGet) {
  std::string why;
  Address gw{Family::v4, "10.77.1.1"};
  auto hop = parse_route_get(kViaNextHop, gw, 65533, &why);
  ASSERT_TRUE(hop);
  EXPECT_EQ(hop->via, "10.77.0.254");
  EXPECT_FALSE(hop->onlink);
  EXPECT_FALSE(parse_route_get("garbage", gw, 65533, &why));
  EXPECT_FALSE(parse_route_get(R"([{"dst":"10.77.1.1","type":"blackhole"}])", gw, 65533, &why));
  EXPECT_TRUE(contains(why, "blackhole")) << why;
  // Found only through the default route of the session already connected.
  const std::string via_own =
      R"([{"dst":"10.77.1.1","gateway":"10.77.0.254","dev":"mesh0","table":"65533"}])";
  EXPECT_FALSE(parse_route_get(via_own, gw, 65533, &why));
  EXPECT_TRUE(contains(why, "no mesh route")) << why;
  EXPECT_TRUE(parse_route_get(via_own, gw, 100, &why));
}

}  // namespace
}  // namespace mnigs::forwarding::testing
