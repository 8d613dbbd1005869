// The gateway's meter (core/gateway/meter.*): the nft scripts it writes for
// each kind of policy, the reading of nft's counters, and, in a network
// namespace of the test's own with the real nft, that every script is
// accepted and leaves the table as said: sessions added, limited, topped up
// and removed, quotas created with what was used and never refilled, and the
// table rebuilt after nft flush ruleset.
#include "gateway/meter.hpp"
#include "test_util.hpp"

#include <gtest/gtest.h>

#include <boost/asio/executor_work_guard.hpp>

#include <unistd.h>

#include <future>
#include <thread>

namespace mnigs {
namespace {

using test::eventually;

CommandOutcome run(std::vector<std::string> argv) {
  os::Command c;
  c.argv = std::move(argv);
  return os::run_command(c);
}

bool has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

MeteredSession session(const std::string& id, std::vector<std::string> addresses,
                       MeterPolicy policy = {}) {
  MeteredSession s;
  s.id = id;
  for (const auto& a : addresses) s.addresses.push_back(boost::asio::ip::make_address(a));
  s.policy = std::move(policy);
  return s;
}

TEST(MeterScript, AFreeSessionIsCountedEachWayThroughItsAddresses) {
  const std::string s = meter_add_script(session("ab12", {"10.9.0.2", "fd00::2"}));
  EXPECT_TRUE(has(s, "add counter inet mnigs_meter o_ab12\n")) << s;
  EXPECT_TRUE(has(s, "add counter inet mnigs_meter i_ab12\n")) << s;
  EXPECT_TRUE(has(s, "add rule inet mnigs_meter o_ab12 counter name \"o_ab12\"\n")) << s;
  EXPECT_TRUE(has(s, "add rule inet mnigs_meter i_ab12 counter name \"i_ab12\"\n")) << s;
  EXPECT_TRUE(has(s, "add element inet mnigs_meter out4 { 10.9.0.2 : jump o_ab12 }")) << s;
  EXPECT_TRUE(has(s, "add element inet mnigs_meter in4 { 10.9.0.2 : jump i_ab12 }")) << s;
  EXPECT_TRUE(has(s, "add element inet mnigs_meter out6 { fd00::2 : jump o_ab12 }")) << s;
  EXPECT_TRUE(has(s, "add element inet mnigs_meter in6 { fd00::2 : jump i_ab12 }")) << s;
  EXPECT_FALSE(has(s, "quota")) << s;
  EXPECT_FALSE(has(s, "drop")) << s;
}

TEST(MeterScript, AnUnpaidSessionGetsDnsOnlyAndHttpsIsResetAndHttpGoesToThePage) {
  MeterPolicy p;
  p.paid = false;
  p.portal_port = 65534;
  const std::string s = meter_add_script(session("ab12", {"10.9.0.2"}, p));
  const std::string out = "add rule inet mnigs_meter o_ab12 ";
  const std::string in = "add rule inet mnigs_meter i_ab12 ";
  // Lookups only: UDP, small, at a lookup's pace.
  const std::string dns = " 53 meta length <= 1280 limit rate 10/second burst 20 packets ";
  EXPECT_TRUE(has(s, out + "udp dport" + dns + "counter name \"o_ab12\" return\n" + out +
                         "tcp dport 443 reject with tcp reset\n" + out + "drop\n"))
      << s;
  EXPECT_TRUE(has(s, in + "udp sport" + dns + "counter name \"i_ab12\" return\n" + in +
                         "drop\n"))
      << s;
  EXPECT_TRUE(has(s, "add rule inet mnigs_meter p_ab12 tcp dport 80 redirect to :65534\n")) << s;
  EXPECT_TRUE(has(s, "add element inet mnigs_meter portal4 { 10.9.0.2 : jump p_ab12 }")) << s;
  // Paid: the redirect goes.
  p.paid = true;
  EXPECT_FALSE(has(meter_policy_script(session("ab12", {"10.9.0.2"}, p)), "redirect")) << s;
}

TEST(MeterScript, OnlyWhatGoesThroughTheUplinksIsMetered) {
  const std::string s = meter_hooks_script({"eth0", "wan"});
  EXPECT_TRUE(has(s, "add rule inet mnigs_meter forward oifname { \"eth0\", \"wan\" } ip saddr "
                     "vmap @out4\n"))
      << s;
  EXPECT_TRUE(has(s, "add rule inet mnigs_meter forward iifname { \"eth0\", \"wan\" } ip6 "
                     "daddr vmap @in6\n"))
      << s;
  EXPECT_TRUE(has(s, "add rule inet mnigs_meter prerouting fib daddr oifname { \"eth0\", "
                     "\"wan\" } ip saddr vmap @portal4\n"))
      << s;
  // None known: all that is forwarded.
  EXPECT_TRUE(
      has(meter_hooks_script({}), "add rule inet mnigs_meter forward ip saddr vmap @out4\n"));
  EXPECT_TRUE(valid_interface_name("veth-gw.10"));
  for (const char* bad : {"", "eth0\" }", "a b", "sixteen-chars-xx", "x;y"})
    EXPECT_FALSE(valid_interface_name(bad)) << bad;
}

TEST(MeterScript, QuotasAreDrawnOnInOrderThenCutOrThrottled) {
  MeterPolicy p;
  p.accounts = {7, 9};
  p.rate_down = 500'000;
  const std::string cut = meter_policy_script(session("ab12", {"10.9.0.2"}, p));
  const std::string in = "add rule inet mnigs_meter i_ab12 ";
  EXPECT_TRUE(
      has(cut, "flush chain inet mnigs_meter o_ab12\nflush chain inet mnigs_meter i_ab12\n"))
      << cut;
  // The rate first, so what it drops is not charged; then each quota.
  EXPECT_TRUE(has(cut, in + "limit rate over 500000 bytes/second burst 50000 bytes drop\n" + in +
                           "quota name \"q_7\" counter name \"i_ab12\" counter name \"a_7\" "
                           "return\n" +
                           in +
                           "quota name \"q_9\" counter name \"i_ab12\" counter name \"a_9\" "
                           "return\n" +
                           in + "drop\n"))
      << cut;
  // No upload rate: the upload chain starts with the first quota.
  EXPECT_TRUE(has(cut, "add rule inet mnigs_meter o_ab12 quota name \"q_7\"")) << cut;

  p.throttle = 8000;
  const std::string slow = meter_policy_script(session("ab12", {"10.9.0.2"}, p));
  EXPECT_TRUE(has(slow, in + "limit rate over 8000 bytes/second burst 16384 bytes drop\n" + in +
                            "counter name \"i_ab12\"\n"))
      << slow;
  EXPECT_FALSE(has(slow, in + "drop\n")) << slow;
}

TEST(MeterScript, AnAccountStartsWithWhatItUsedAndATopUpKeepsTheKernelsCount) {
  EXPECT_EQ(meter_account_script({7, 10'000'000, 6'000'000}, false),
            "add quota inet mnigs_meter q_7 { until 10000000 bytes used 6000000 bytes }\n"
            "add counter inet mnigs_meter a_7\n");
  // The kernel refuses more used than the limit: a spent account is full.
  EXPECT_TRUE(
      has(meter_account_script({7, 1000, 5000}, false), "until 1000 bytes used 1000 bytes"));
  EXPECT_EQ(meter_account_script({7, 20'000'000, 6'000'000}, true),
            "add quota inet mnigs_meter q_7 { until 20000000 bytes }\n");
}

TEST(MeterScript, RemovalTakesTheElementsBeforeTheChainsAndCounters) {
  const std::string s = meter_remove_script(session("ab12", {"10.9.0.2"}));
  const auto element = s.find("delete element inet mnigs_meter out4 { 10.9.0.2 }");
  const auto chain = s.find("delete chain inet mnigs_meter o_ab12");
  const auto counter = s.find("delete counter inet mnigs_meter o_ab12");
  ASSERT_NE(element, std::string::npos) << s;
  ASSERT_NE(chain, std::string::npos) << s;
  ASSERT_NE(counter, std::string::npos) << s;
  EXPECT_LT(element, chain);
  EXPECT_LT(chain, counter);
}

// What `nft reset counters table inet mnigs_meter` printed (nftables 1.0.6,
// Debian 12), whole, for a table with two sessions' counters and an
// account's; the counters' values as they were before the reset.
const char* kNftReset =
    "table inet mnigs_meter {\n"
    "\tcounter o_s1 {\n\t\tpackets 12 bytes 812\n\t}\n"
    "\tcounter i_s1 {\n\t\tpackets 0 bytes 0\n\t}\n"
    "\tcounter a_7 {\n\t\tpackets 2112 bytes 3150812\n\t}\n"
    "\tcounter i_s2 {\n\t\tpackets 2100 bytes 3150000\n\t}\n"
    "}\n";

TEST(MeterReading, CountersOfSessionsAndAccountsAreTold) {
  std::string error;
  auto r = parse_meter_reading(kNftReset, &error);
  ASSERT_TRUE(r) << error;
  ASSERT_EQ(r->sessions.size(), 2u);
  EXPECT_EQ(r->sessions["s1"].out, 812);
  EXPECT_EQ(r->sessions["s1"].in, 0);
  EXPECT_EQ(r->sessions["s2"].in, 3'150'000);
  ASSERT_EQ(r->accounts.size(), 1u);
  EXPECT_EQ(r->accounts[7], 3'150'812);
  EXPECT_TRUE(parse_meter_reading("", nullptr)->empty());  // an empty table
}

TEST(MeterReading, OutputThatIsNotAReadingIsRefused) {
  for (const char* bad :
       {"not nft", "table inet mnigs_meter {\n\tcounter o_s1 {\n\t\tpackets 1 bytes -5\n",
        "table inet mnigs_meter {\n\tcounter o_s1 {\n\t\tpackets 1 bytes 99999999999999999999\n",
        "table inet mnigs_meter {\n\tcounter o_s1 {\n\t\tpackets 1\n",
        "table inet mnigs_meter {\n\tcounter o_s1\n"}) {
    std::string error;
    EXPECT_FALSE(parse_meter_reading(bad, &error)) << bad;
    EXPECT_FALSE(error.empty()) << bad;
  }
  // Counters that are not the meter's are left alone.
  auto r = parse_meter_reading(
      "table inet mnigs_meter {\n\tcounter other {\n\t\tpackets 1 bytes 1\n\t}\n"
      "\tcounter a_x1 {\n\t\tpackets 1 bytes 1\n\t}\n}\n",
      nullptr);
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->empty());
}

// The real nft, in a network namespace of this test's own.
class MeterKernel : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_FAIL() << "needs root for a network namespace and nft";
    ns_ = "mnigs-unit-meter-" + std::to_string(getpid());
    auto o = run({"ip", "netns", "add", ns_});
    ASSERT_EQ(o.exit_code, 0) << o.err;
    created_ = true;
    meter_ = std::make_unique<Meter>(io_, [this](os::Command c, auto done) {
      c.argv.insert(c.argv.begin(), {"ip", "netns", "exec", ns_});
      done(os::run_command(c));
    });
    thread_ = std::thread([this] { io_.run(); });
  }
  void TearDown() override {
    meter_.reset();
    work_.reset();
    if (thread_.joinable()) thread_.join();
    if (created_) run({"ip", "netns", "delete", ns_});
  }
  std::string nft(std::vector<std::string> args) {
    std::vector<std::string> argv = {"ip", "netns", "exec", ns_, "nft"};
    argv.insert(argv.end(), args.begin(), args.end());
    return run(argv).out;
  }
  std::string table() { return nft({"list", "table", "inet", "mnigs_meter"}); }
  MeterReading start() {
    std::promise<MeterReading> p;
    meter_->start([&](MeterReading r) { p.set_value(r); });
    return p.get_future().get();
  }
  MeterReading read() {
    std::promise<MeterReading> p;
    meter_->read([&](MeterReading r) { p.set_value(r); });
    return p.get_future().get();
  }
  MeterReading remove(const std::string& id) {
    std::promise<MeterReading> p;
    meter_->remove(id, [&](MeterReading r) { p.set_value(r); });
    return p.get_future().get();
  }
  Json::Value status() {
    std::promise<Json::Value> p;
    meter_->status([&](Json::Value v) { p.set_value(v); });
    return p.get_future().get();
  }
  // Waits for the meter's queue: a reading is queued behind every change.
  void settle() { read(); }

  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_{
      io_.get_executor()};
  std::string ns_;
  bool created_ = false;
  std::unique_ptr<Meter> meter_;
  std::thread thread_;
};

TEST_F(MeterKernel, EveryKindOfPolicyIsAcceptedAndRemovedCleanly) {
  EXPECT_TRUE(start().empty());
  EXPECT_TRUE(has(table(), "type filter hook forward priority filter + 10; policy accept;"))
      << table();
  // Uplinks given: only what goes through them.
  meter_->set_uplinks({"lo", "mnx0"});
  settle();
  EXPECT_TRUE(has(table(), "oifname { \"lo\", \"mnx0\" } ip saddr vmap @out4")) << table();
  EXPECT_TRUE(has(table(), "fib daddr oifname { \"lo\", \"mnx0\" } ip saddr vmap @portal4"))
      << table();
  EXPECT_EQ(status()["uplinks"].size(), 2u);

  meter_->add(session("aa01", {"10.9.0.2", "fd00::2"}), {});
  MeterPolicy unpaid;
  unpaid.paid = false;
  meter_->add(session("aa02", {"10.9.0.3"}, unpaid), {});
  MeterPolicy quota;
  quota.accounts = {7};
  quota.rate_up = 125'000;
  quota.rate_down = 500'000;
  meter_->add(session("aa03", {"10.9.0.4"}, quota), {{7, 10'000'000, 6'000'000}});
  settle();
  std::string t = table();
  EXPECT_TRUE(has(t, "10.9.0.2 : jump o_aa01")) << t;
  EXPECT_TRUE(has(t, "fd00::2 : jump i_aa01")) << t;
  EXPECT_TRUE(has(t, "tcp dport 443 reject with tcp reset")) << t;
  EXPECT_TRUE(has(t, "quota q_7 {\n\t\t10000000 bytes used 6000000 bytes")) << t;
  EXPECT_EQ(status()["error"].asString(), "") << status().toStyledString();

  // Paid and topped up with a second account: the first keeps its count.
  MeterPolicy topped = quota;
  topped.accounts = {7, 8};
  topped.throttle = 4000;
  meter_->update("aa02", topped, {{7, 12'000'000, 0}, {8, 1'000'000, 0}});
  settle();
  t = table();
  EXPECT_TRUE(has(t, "quota q_7 {\n\t\t12000000 bytes used 6000000 bytes")) << t;
  EXPECT_TRUE(has(t, "quota q_8 {\n\t\t1000000 bytes")) << t;
  EXPECT_FALSE(has(t, "reject")) << t;
  EXPECT_EQ(status()["accounts"].asInt(), 2);

  // Removed: nothing of aa02 and aa03 is left, nor the accounts only they used.
  remove("aa02");
  remove("aa03");
  t = table();
  EXPECT_FALSE(has(t, "aa02")) << t;
  EXPECT_FALSE(has(t, "aa03")) << t;
  EXPECT_FALSE(has(t, "q_7")) << t;
  EXPECT_FALSE(has(t, "q_8")) << t;
  EXPECT_TRUE(has(t, "o_aa01")) << t;
  EXPECT_EQ(status()["sessions"].asInt(), 1);
  EXPECT_EQ(status()["error"].asString(), "") << status().toStyledString();

  std::promise<void> stopped;
  meter_->stop([&] { stopped.set_value(); });
  stopped.get_future().get();
  EXPECT_EQ(table(), "");
}

TEST_F(MeterKernel, AFlushedTableIsRebuiltWithWhatEachQuotaUsed) {
  start();
  MeterPolicy quota;
  quota.accounts = {7};
  meter_->add(session("aa03", {"10.9.0.4"}, quota), {{7, 10'000'000, 6'000'000}});
  settle();
  ASSERT_EQ(run({"ip", "netns", "exec", ns_, "nft", "flush", "ruleset"}).exit_code,
            0);
  EXPECT_TRUE(read().empty());
  const std::string t = table();
  EXPECT_TRUE(has(t, "quota q_7 {\n\t\t10000000 bytes used 6000000 bytes")) << t;
  EXPECT_TRUE(has(t, "10.9.0.4 : jump o_aa03")) << t;
  EXPECT_EQ(status()["rebuilt"].asInt(), 1);
}

TEST_F(MeterKernel, WhatAPreviousRunCountedIsToldAtStart) {
  start();
  meter_->add(session("aa01", {"10.9.0.2"}), {});
  settle();
  // A previous run's counter as the kernel would hold it after kill -9.
  nft({"add", "counter", "inet", "mnigs_meter", "i_old", "{", "packets", "3", "bytes", "4500",
       "}"});
  meter_ = std::make_unique<Meter>(io_, [this](os::Command c, auto done) {
    c.argv.insert(c.argv.begin(), {"ip", "netns", "exec", ns_});
    done(os::run_command(c));
  });
  MeterReading left = start();
  EXPECT_EQ(left.sessions["old"].in, 4500);
  EXPECT_FALSE(has(table(), "aa01")) << table();
}

}  // namespace
}  // namespace mnigs
