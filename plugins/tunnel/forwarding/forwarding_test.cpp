// Unit tests of the forwarding tunnel: gateway side, reset, stop, config,
// command plumbing. The subscriber side is in subscriber_test.cpp.
#include "fake_context.hpp"
#include "nft_rules.hpp"

#include <cstdio>
#include <fstream>
#include <unistd.h>

namespace mnigs::forwarding::testing {
namespace {

const std::string kDefault4 =
    R"([{"dst":"default","gateway":"192.0.2.1","dev":"wan0","flags":[]}])";

TEST_F(ForwardingTest, OpensIPv4SessionsWithConfiguredUplink) {
  Json::Value c;
  c["uplink"] = "eth1";
  start(c);
  ctx.answer("sysctl -n net.ipv4.ip_forward", 0, "0\n");
  auto r = open(session("s1", "10.77.2.2", "10.77.1.1"));
  ASSERT_TRUE(r.called);
  EXPECT_EQ(r.error, "");
  EXPECT_EQ(r.params["mode"].asString(), "routed");
  EXPECT_EQ(r.params["gatewayAddress"].asString(), "10.77.1.1");
  EXPECT_EQ(r.params["uplink"].asString(), "eth1");
  EXPECT_EQ(ctx.lines(), (std::vector<std::string>{"nft -f -", "sysctl -n net.ipv4.ip_forward",
                                                   "sysctl -w net.ipv4.ip_forward=1"}));
  const std::string& script = ctx.calls[0].input;
  EXPECT_EQ(script.rfind("table inet mnigs_forwarding\ndelete table inet mnigs_forwarding\n", 0), 0u);
  EXPECT_TRUE(contains(script, "elements = { 10.77.2.2 }"));
  EXPECT_TRUE(contains(script, "oifname \"eth1\" ip saddr @subscribers4 counter accept"));
  EXPECT_TRUE(contains(script, "oifname \"eth1\" ip6 saddr @subscribers6 masquerade"));
  EXPECT_TRUE(contains(script, "iifname \"eth1\" ct state established,related accept"));
  EXPECT_TRUE(contains(script, "oifname \"eth1\" drop"));
  EXPECT_EQ(ctx.store_.rows.count("sysctl/net.ipv4.ip_forward"), 1u);

  // A second subscriber is one element; forwarding is already on.
  ctx.calls.clear();
  r = open(session("s2", "10.77.2.3", "10.77.1.1"));
  EXPECT_EQ(r.error, "");
  EXPECT_EQ(ctx.lines(), (std::vector<std::string>{
                             "nft add element inet mnigs_forwarding subscribers4 { 10.77.2.3 }"}));
  EXPECT_EQ(plugin->status()["gateway"]["sessions"].size(), 2u);
  EXPECT_EQ(plugin->status()["uplink"].asString(), "eth1");
}

TEST_F(ForwardingTest, OpensIPv6SessionWithUplinkOfDefaultRoute) {
  start();
  ctx.answer("ip -4 -j route show default", 0, kDefault4);
  ctx.answer("sysctl -n net.ipv6.conf.all.forwarding", 0, "0\n");
  auto r = open(session("s6", "fd00::2", "fd00::1"));
  EXPECT_EQ(r.error, "");
  EXPECT_EQ(r.params["uplink"].asString(), "wan0");
  EXPECT_EQ(ctx.lines(), (std::vector<std::string>{
                             "ip -4 -j route show default", "nft -f -",
                             "sysctl -n net.ipv6.conf.all.forwarding",
                             "sysctl -w net.ipv6.conf.all.forwarding=1"}));
  const std::string& script = ctx.calls[1].input;
  EXPECT_TRUE(contains(script, "type ipv6_addr\n    elements = { fd00::2 }"));
  EXPECT_TRUE(contains(script, "oifname \"wan0\" ip6 saddr @subscribers6 counter accept"));

  // IPv4 comes later: its own sysctl, once.
  ctx.calls.clear();
  ctx.answer("sysctl -n net.ipv4.ip_forward", 0, "0\n");
  open(session("s4", "10.77.2.2", "10.77.1.1"));
  open(session("s5", "10.77.2.5", "10.77.1.1"));
  EXPECT_EQ(ctx.count("sysctl -w net.ipv4.ip_forward=1"), 1u);
  EXPECT_EQ(ctx.count("sysctl -w net.ipv6.conf.all.forwarding=1"), 0u);
  EXPECT_EQ(ctx.count("nft add element inet mnigs_forwarding subscribers4 { 10.77.2.5 }"), 1u);
}

TEST_F(ForwardingTest, FindsUplinkInIPv6DefaultWhenThereIsNoIPv4One) {
  start();
  ctx.answer("ip -4 -j route show default", 0, "[]");
  ctx.answer("ip -6 -j route show default", 0,
             R"([{"dst":"default","gateway":"fe80::1","dev":"wan6","metric":1024,"flags":[]}])");
  auto r = open(session("s", "fd00::2", "fd00::1"));
  EXPECT_EQ(r.error, "");
  EXPECT_EQ(r.params["uplink"].asString(), "wan6");
}

TEST_F(ForwardingTest, RefusesWithoutUplinkAndLeavesNothing) {
  start();
  ctx.answer("ip -4 -j route show default", 0, "[]");
  ctx.answer("ip -6 -j route show default", 0, "[]\n");
  auto r = open(session("s", "10.77.2.2", "10.77.1.1"));
  EXPECT_TRUE(contains(r.error, "no uplink")) << r.error;
  EXPECT_TRUE(contains(r.error, "forwarding.uplink")) << r.error;
  EXPECT_EQ(ctx.lines().size(), 2u);  // the two look-ups, nothing else
  EXPECT_EQ(plugin->status()["gateway"]["sessions"].size(), 0u);
}

TEST_F(ForwardingTest, ResumedSessionIsAddedTheSameWay) {
  start();
  ctx.answer("ip -4 -j route show default", 0, kDefault4);
  ctx.answer("sysctl -n", 0, "1\n");
  auto s = session("old", "10.77.2.9", "10.77.1.1");
  s.params["mode"] = "routed";
  s.params["uplink"] = "wan0";
  auto r = open(s);
  EXPECT_EQ(r.error, "");
  EXPECT_TRUE(contains(ctx.calls[1].input, "elements = { 10.77.2.9 }"));
  // Forwarding was on already: not written now, not turned off by reset.
  EXPECT_EQ(ctx.count("sysctl -w net.ipv4.ip_forward=1"), 0u);
  reset();
  EXPECT_EQ(ctx.count("sysctl -w net.ipv4.ip_forward=0"), 0u);
}

TEST_F(ForwardingTest, CloseDeletesTheElementOnlyWhenNobodyElseHoldsIt) {
  Json::Value c;
  c["uplink"] = "eth1";
  start(c);
  open(session("a", "fd00::2", "fd00::1"));
  open(session("b", "fd00::2", "fd00::1"));  // same subscriber, second session
  ctx.calls.clear();
  EXPECT_EQ(close(session("a", "fd00::2", "fd00::1")).error, "");
  EXPECT_TRUE(ctx.calls.empty());
  ctx.answer("nft delete element", 1, "",
             "Error: Could not process rule: No such file or directory\n");
  EXPECT_EQ(close(session("b", "fd00::2", "fd00::1")).error, "");  // gone already: fine
  EXPECT_EQ(ctx.lines(), (std::vector<std::string>{
                             "nft delete element inet mnigs_forwarding subscribers6 { fd00::2 }"}));
  EXPECT_EQ(plugin->status()["gateway"]["sessions"].size(), 0u);
}

TEST_F(ForwardingTest, MissingNftIsAClearErrorAndLeavesNoHalfState) {
  start();
  ctx.answer("ip -4 -j route show default", 0, kDefault4);
  ctx.answer("nft", 127, "", "cannot execute command\n");
  auto r = open(session("s", "10.77.2.2", "10.77.1.1"));
  EXPECT_TRUE(contains(r.error, "cannot open session s for 10.77.2.2")) << r.error;
  EXPECT_TRUE(contains(r.error, "nft is not installed")) << r.error;
  EXPECT_TRUE(contains(r.error, "nftables")) << r.error;
  EXPECT_EQ(ctx.lines(), (std::vector<std::string>{"ip -4 -j route show default", "nft -f -"}));
  EXPECT_EQ(plugin->status()["gateway"]["sessions"].size(), 0u);
  EXPECT_FALSE(plugin->status()["gateway"]["tablePresent"].asBool());
  EXPECT_TRUE(ctx.store_.rows.empty());
  // Once nft is there the next session writes the whole table.
  ctx.clear_answers();
  ctx.answer("ip -4 -j route show default", 0, kDefault4);
  ctx.calls.clear();
  EXPECT_EQ(open(session("s", "10.77.2.2", "10.77.1.1")).error, "");
  EXPECT_EQ(ctx.lines()[1], "nft -f -");
}

// Record first, then act: a knob turned on without its record would stay on
// after a crash, since reset would not know it was off.
TEST_F(ForwardingTest, ForwardingIsNotTurnedOnUnlessItsRecordIsWritten) {
  Json::Value c;
  c["uplink"] = "eth1";
  start(c);
  ctx.answer("sysctl -n", 0, "0\n");
  ctx.store_.fail_puts = true;
  auto r = open(session("s", "10.77.2.2", "10.77.1.1"));
  EXPECT_TRUE(contains(r.error, "cannot record the state of net.ipv4.ip_forward")) << r.error;
  EXPECT_EQ(ctx.count("sysctl -w net.ipv4.ip_forward=1"), 0u);
  EXPECT_EQ(ctx.lines().back(), "nft delete table inet mnigs_forwarding");
}

TEST_F(ForwardingTest, FailedSysctlTakesTheNewTableAway) {
  Json::Value c;
  c["uplink"] = "eth1";
  start(c);
  ctx.answer("sysctl -n", 0, "0\n");
  ctx.answer("sysctl -w", 255, "", "sysctl: permission denied on key \"net.ipv4.ip_forward\"\n");
  auto r = open(session("s", "10.77.2.2", "10.77.1.1"));
  EXPECT_TRUE(contains(r.error, "`sysctl -w net.ipv4.ip_forward=1` failed: sysctl: permission denied"))
      << r.error;
  EXPECT_EQ(ctx.lines().back(), "nft delete table inet mnigs_forwarding");
  EXPECT_FALSE(plugin->status()["gateway"]["tablePresent"].asBool());
  EXPECT_TRUE(ctx.store_.rows.empty());
}

TEST_F(ForwardingTest, FailedSysctlForASecondFamilyRemovesOnlyItsElement) {
  Json::Value c;
  c["uplink"] = "eth1";
  start(c);
  ctx.answer("sysctl -n", 0, "1\n", "", 1);
  open(session("v4", "10.77.2.2", "10.77.1.1"));
  ctx.answer("sysctl -n", 2, "", "sysctl: cannot stat /proc/sys/net/ipv6/conf/all/forwarding\n");
  auto r = open(session("v6", "fd00::2", "fd00::1"));
  EXPECT_FALSE(r.error.empty());
  EXPECT_EQ(ctx.lines().back(), "nft delete element inet mnigs_forwarding subscribers6 { fd00::2 }");
  EXPECT_EQ(plugin->status()["gateway"]["sessions"].size(), 1u);
}

TEST_F(ForwardingTest, NewUplinkRewritesTheTableWithEverySubscriber) {
  start();
  ctx.answer("ip -4 -j route show default", 0, kDefault4, "", 1);
  open(session("a", "10.77.2.2", "10.77.1.1"));
  ctx.answer("ip -4 -j route show default", 0,
             R"([{"dst":"default","gateway":"198.51.100.1","dev":"lte0","metric":10,"flags":[]},)"
             R"({"dst":"default","gateway":"192.0.2.1","dev":"wan0","metric":100,"flags":[]}])");
  ctx.calls.clear();
  auto r = open(session("b", "10.77.2.3", "10.77.1.1"));
  EXPECT_EQ(r.params["uplink"].asString(), "lte0");
  ASSERT_EQ(ctx.lines()[1], "nft -f -");
  EXPECT_TRUE(contains(ctx.calls[1].input, "elements = { 10.77.2.2, 10.77.2.3 }"));
  EXPECT_TRUE(contains(ctx.calls[1].input, "oifname \"lte0\" drop"));
}

TEST_F(ForwardingTest, RestrictIsLive) {
  Json::Value c;
  c["uplink"] = "eth1";
  c["restrict"] = false;
  start(c);
  open(session("a", "10.77.2.2", "10.77.1.1"));
  EXPECT_FALSE(contains(ctx.calls[0].input, "drop"));
  ctx.calls.clear();
  ctx.config_["restrict"] = true;
  plugin->config_changed();
  ctx.settle();
  ASSERT_EQ(ctx.lines(), (std::vector<std::string>{"nft -f -"}));
  EXPECT_TRUE(contains(ctx.calls[0].input, "oifname \"eth1\" drop"));
  EXPECT_TRUE(contains(ctx.calls[0].input, "elements = { 10.77.2.2 }"));
}

TEST_F(ForwardingTest, ResetRemovesEverythingAndToleratesWhatIsGone) {
  Json::Value c;
  c["uplink"] = "eth1";
  start(c);
  ctx.answer("sysctl -n", 0, "0\n");
  open(session("a", "10.77.2.2", "10.77.1.1"));
  ctx.calls.clear();
  ctx.answer("nft delete table", 1, "", "Error: No such file or directory\n");
  ctx.answer("ip -4 rule del priority 31000", 0, "", "", 2);  // two rules there
  ctx.answer("ip -4 route flush", 2, "", "Error: ipv4: FIB table does not exist.\n");
  ctx.answer("ip", 2, "", "RTNETLINK answers: No such file or directory\n");
  auto r = reset();
  EXPECT_EQ(r.error, "");
  EXPECT_EQ(ctx.lines(), (std::vector<std::string>{
                             "nft delete table inet mnigs_forwarding",
                             "sysctl -w net.ipv4.ip_forward=0",
                             "ip -4 rule del priority 31000", "ip -4 rule del priority 31000",
                             "ip -4 rule del priority 31000", "ip -4 rule del priority 31001",
                             "ip -4 route flush table 65533", "ip -6 rule del priority 31000",
                             "ip -6 rule del priority 31001", "ip -6 route flush table 65533"}));
  EXPECT_EQ(plugin->status()["gateway"]["sessions"].size(), 0u);
  EXPECT_TRUE(ctx.store_.rows.empty());
}

TEST_F(ForwardingTest, ResetIsBoundedAndReportsRealFailures) {
  start();
  ctx.answer("ip -6 route flush", 2, "", "RTNETLINK answers: Operation not permitted\n");
  auto r = reset();  // every rule deletion "succeeds" for ever
  EXPECT_EQ(ctx.count("ip -4 rule del priority 31001"), kResetRepeat);
  EXPECT_EQ(ctx.count("ip -6 rule del priority 31000"), kResetRepeat);
  EXPECT_TRUE(contains(r.error, "`ip -6 route flush table 65533` failed: RTNETLINK answers: "
                                "Operation not permitted"))
      << r.error;
}

TEST_F(ForwardingTest, ResetAfterACrashTurnsForwardingBackOff) {
  ctx.store_.rows["sysctl/net.ipv6.conf.all.forwarding"] = "0";  // left by the previous run
  start();
  ctx.answer("nft", 127, "", "cannot execute command\n");  // no nft: no table either
  EXPECT_EQ(reset().error, "");
  EXPECT_EQ(ctx.count("sysctl -w net.ipv6.conf.all.forwarding=0"), 1u);
  EXPECT_EQ(ctx.count("sysctl -w net.ipv4.ip_forward=0"), 0u);
  EXPECT_TRUE(ctx.store_.rows.empty());
}

TEST_F(ForwardingTest, StopCancelsWorkAndHandsOverTheRemovalsAtOnce) {
  Json::Value c;
  c["uplink"] = "eth1";
  start(c);
  Result opening;
  plugin->open_session(session("a", "10.77.2.2", "10.77.1.1"),
                       [&](std::string e, Json::Value) { opening = {true, e, {}}; });
  Result queued;
  plugin->connect(session("c", "", "10.77.1.1"), [&](std::string e) { queued = {true, e, {}}; });
  ctx.calls.clear();  // not settled: the open waits for its nft command
  plugin->stop();
  EXPECT_TRUE(opening.called);
  EXPECT_TRUE(contains(opening.error, "stopped")) << opening.error;
  EXPECT_TRUE(queued.called);
  ctx.settle();
  for (const auto& call : ctx.calls) EXPECT_FALSE(call.wants_outcome) << call.line;
  EXPECT_EQ(ctx.lines().front(), "nft delete table inet mnigs_forwarding");
  EXPECT_EQ(ctx.count("ip -4 rule del priority 31000"), kStopRepeat);
  EXPECT_EQ(ctx.count("ip -6 rule del priority 31001"), kStopRepeat);
  EXPECT_EQ(ctx.lines().back(), "ip -6 route flush table 65533");
  EXPECT_EQ(ctx.count("sysctl -n net.ipv4.ip_forward"), 0u);  // the open went no further
  EXPECT_FALSE(open(session("b", "10.77.2.3", "10.77.1.1")).error.empty());
}

TEST_F(ForwardingTest, StopAfterACleanResetHasNothingToRemove) {
  start();
  EXPECT_EQ(reset().error, "");
  ctx.calls.clear();
  plugin->stop();
  ctx.settle();
  EXPECT_TRUE(ctx.calls.empty());
  // A session set up after the reset makes stop remove everything again.
  ForwardingTest::start();
  EXPECT_EQ(reset().error, "");
  ctx.answer("ip -4 -j route get", 0, R"([{"dst":"10.77.1.1","dev":"mesh0"}])");
  connect(session("s", "10.77.2.2", "10.77.1.1"));
  ctx.calls.clear();
  plugin->stop();
  EXPECT_EQ(ctx.count("ip -4 rule del priority 31000"), kStopRepeat);
}

TEST_F(ForwardingTest, StartRefusesUnusableSettings) {
  for (auto [key, value] : std::vector<std::pair<std::string, Json::Value>>{
           {"table", 254}, {"table", 255}, {"table", 253}, {"uplink", "eth 0"},
           {"uplink", "a\"b"}, {"priority", 32765}}) {
    Json::Value c;
    c[key] = value;
    EXPECT_THROW(start(c), std::runtime_error) << key << "=" << value.toStyledString();
  }
  ForwardingTunnel idle(ctx);
  idle.stop();  // stop after a failed start touches nothing
  EXPECT_TRUE(ctx.calls.empty());
}

TEST(ForwardingCommands, SentencesNameTheCommandAndItsError) {
  Command c{{"ip", "-4", "rule", "add", "priority", "1"}, "", false, 1};
  CommandOutcome o;
  o.exit_code = 2;
  o.err = "\nRTNETLINK answers: Operation not permitted\n";
  EXPECT_EQ(failure_sentence(c, o),
            "`ip -4 rule add priority 1` failed: RTNETLINK answers: Operation not permitted");
  o.timed_out = true;
  EXPECT_TRUE(contains(failure_sentence(c, o), "did not finish in time"));
  o = {};
  EXPECT_TRUE(contains(failure_sentence(c, o), "ip is not installed or not in PATH (package iproute2)"));
  o.exit_code = 2;
  o.err = "RTNETLINK answers: No such process\n";
  EXPECT_TRUE(already_gone(o));
  EXPECT_FALSE(acceptable(c, o));
  c.removal = true;
  EXPECT_TRUE(acceptable(c, o));
}

// The script is checked by the real nft in check mode (-c: parsed and
// validated by the kernel, never committed). Needs root and nft.
TEST(ForwardingNft, ScriptPassesNftCheck) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root";
  if (::access("/usr/sbin/nft", X_OK) != 0 && ::access("/sbin/nft", X_OK) != 0)
    GTEST_SKIP() << "nft is not installed";
  for (bool restrict : {true, false}) {
    TableSpec spec{"eth0", restrict, {"10.77.2.2", "10.77.2.3", "10.77.2.2"}, {"fd00::2"}};
    char path[] = "/tmp/mnigs-forwarding-XXXXXX";
    int fd = ::mkstemp(path);
    ASSERT_GE(fd, 0);
    ::close(fd);
    std::ofstream(path) << table_script(spec);
    const std::string command = std::string("nft -c -f ") + path + " 2>&1";
    FILE* p = ::popen(command.c_str(), "r");
    ASSERT_NE(p, nullptr);
    std::string output;
    char buffer[512];
    while (std::fgets(buffer, sizeof buffer, p)) output += buffer;
    const int status = ::pclose(p);
    ::unlink(path);
    EXPECT_EQ(status, 0) << output << table_script(spec);
  }
}

}  // namespace
}  // namespace mnigs::forwarding::testing
