// System test 14 through the websocket tunnel, on the lab of
// failover_lab.hpp.
#include "failover_lab.hpp"

namespace mnigs::test {
namespace {

// The same through the websocket tunnel: each session has a tun device of
// its own, and the three gateways allot sub the same address from the same
// default pool (10.98.0.2), so only a probe bound to the standby's device
// reaches the standby's gateway.
class FailoverWebsocket : public Failover {
 protected:
  std::string tunnel() const override { return "websocket"; }
  std::string table_default() const {
    return topology_.exec("sub", {"ip", "-4", "route", "show", "table", "65532"}).out;
  }
};

TEST_F(FailoverWebsocket, AWarmStandbyTakesOverThroughItsOwnDevice) {
  ASSERT_NO_FATAL_FAILURE(expect_auto_connected_to_gw1());
  ASSERT_NO_FATAL_FAILURE(expect_fetch_through("gw1"));
  Json::Value sub;
  ASSERT_TRUE(wait_standby_at("gw2", sub)) << "no healthy standby at gw2: " << to_json(sub);
  EXPECT_EQ(sub["connection"]["suite"].asString(), suite());
  const std::string active_dev = sub["connection"]["traffic"]["device"].asString();
  const std::string standby_dev = sub["standby"]["traffic"]["device"].asString();
  EXPECT_EQ(active_dev, "mnws0") << to_json(sub);
  EXPECT_EQ(standby_dev, "mnws1") << to_json(sub);
  for (const auto& dev : {active_dev, standby_dev}) {
    const std::string addr =
        topology_.exec("sub", {"ip", "-4", "-o", "addr", "show", "dev", dev}).out;
    EXPECT_TRUE(contains(addr, "10.98.0.2/24")) << dev << ": " << addr;
    // The loose reverse-path filter, which lets the standby's answers in.
    const auto rp = topology_.exec("sub", {"sysctl", "-n", "net.ipv4.conf." + dev + ".rp_filter"});
    EXPECT_EQ(rp.out, "2\n") << dev << ": " << rp.err;
  }
  EXPECT_TRUE(contains(table_default(), "default dev mnws0")) << table_default();
  // The standby's device carries its probes, nothing else: traffic still
  // leaves through gw1.
  ASSERT_NO_FATAL_FAILURE(expect_fetch_through("gw1"));
  const std::string standby_session = sub["standby"]["sessionId"].asString();

  blackhole("gw1");
  Json::Value last;
  ASSERT_TRUE(wait_connected_to("gw2", last, 100))
      << "sub did not move from the silent gw1 to gw2: " << to_json(last);
  EXPECT_EQ(last["connection"]["sessionId"].asString(), standby_session)
      << "gw2 took over with a new session, not the standby's";
  EXPECT_EQ(last["connection"]["traffic"]["device"].asString(), "mnws1") << to_json(last);
  EXPECT_TRUE(contains(table_default(), "default dev mnws1")) << table_default();
  ASSERT_NO_FATAL_FAILURE(expect_fetch_through("gw2"));
  const Json::Value switches = subscriber()["switches"];
  ASSERT_EQ(switches.size(), 1u) << to_json(switches);
  EXPECT_TRUE(contains(switches[0]["reason"].asString(), "standby took over")) << to_json(switches);
  // gw1's device went with its session; gw3, the next standby, has the
  // name that freed.
  ASSERT_TRUE(wait_standby_at("gw3", sub)) << "no healthy standby at gw3: " << to_json(sub);
  EXPECT_EQ(sub["standby"]["traffic"]["device"].asString(), "mnws0") << to_json(sub);
  EXPECT_GT(sub["connection"]["traffic"]["bytesIn"].asUInt64(), 0u) << to_json(sub);
  ASSERT_NO_FATAL_FAILURE(expect_fetch_through("gw2"));

  // gw1 back and tested beside the connection and the standby: a third
  // session on a third device, the test's probes and transfers bound to it.
  restore("gw1");
  const auto answered = [&] {
    return sessions_of(gateway("gw1"))["probeEcho"]["answered"].asUInt64();
  };
  const std::uint64_t answered_before = answered();
  auto tested = sub_->cli({"--json", "-t", gateway_address("gw1")}, 60s);
  ASSERT_EQ(tested.exit_code, 0) << tested.out << tested.err << sub_->log_tail();
  Json::Value beside;
  std::istringstream(tested.out) >> beside;
  EXPECT_FALSE(beside["current"].asBool()) << to_json(beside);
  EXPECT_GT(beside["received"].asInt(), 20) << to_json(beside);
  EXPECT_GT(beside["download"]["bytes"].asUInt64(), 0u) << to_json(beside);
  EXPECT_GT(beside["upload"]["bytes"].asUInt64(), 0u) << to_json(beside);
  // gw1 answered them, not gw2 at the same tunnel address.
  EXPECT_GE(answered() - answered_before, 20u);
  EXPECT_EQ(subscriber()["connection"]["gatewayAddress"].asString(), gateway_address("gw2"));
  ASSERT_NO_FATAL_FAILURE(expect_fetch_through("gw2"));
}

// gw1, first on prefer, fails and comes back: sub takes it back by choice,
// but only once it has answered every probe as the standby for

}  // namespace
}  // namespace mnigs::test
