// The plugin and its netlink exchanges against the real kernel of the test
// machine. It has no batman-adv, which is the case exercised here; the
// exchange itself is checked with "nlctrl", a family every kernel has.
#include "discovery.hpp"
#include "refresh.hpp"

#include <plugin_fakes.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <optional>

namespace mnigs::batman {
namespace {

using namespace std::chrono_literals;

// Runs the fake context's loop until `ready` holds; bounded in rounds.
template <class Ready>
void run_until(testing::FakeContext& ctx, Ready ready) {
  for (int i = 0; i < 200 && !ready(); ++i) ctx.run_for(25ms);
}

Json::Value defaults() {
  Json::Value c(Json::objectValue);
  c["interface"] = "bat0";
  c["addressInterface"] = "";
  c["timeout"] = 2000;
  c["translationTable"] = true;
  c["linkLocalGuesses"] = 4;
  c["maxLastSeen"] = 60;
  return c;
}

std::optional<RefreshResult> refresh(testing::FakeContext& ctx, RefreshOptions options) {
  std::optional<RefreshResult> out;
  auto r = Refresh::start(ctx.executor(), options, [&](RefreshResult res) { out = std::move(res); });
  run_until(ctx, [&] { return out.has_value(); });
  return out;
}

bool kernel_has_batman() {
  testing::FakeContext ctx("batman");
  RefreshOptions o;
  o.family_only = true;
  auto r = refresh(ctx, o);
  return r && r->kernel == RefreshResult::Kernel::present;
}

TEST(BatmanRefresh, FindsAFamilyTheKernelHas) {
  testing::FakeContext ctx("batman");
  RefreshOptions o;
  o.family = "nlctrl";
  o.family_only = true;
  auto r = refresh(ctx, o);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->kernel, RefreshResult::Kernel::present);
  EXPECT_EQ(r->error, "");
}

TEST(BatmanRefresh, MissingMeshInterfaceIsNamed) {
  testing::FakeContext ctx("batman");
  RefreshOptions o;
  o.family = "nlctrl";  // stands in for batadv: found, so the interface is looked up next
  o.mesh_interface = "mnigsnobat0";
  auto r = refresh(ctx, o);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->error, "mesh interface mnigsnobat0 does not exist");
}

TEST(BatmanRefresh, MissingFamilyIsReportedAsMissing) {
  testing::FakeContext ctx("batman");
  RefreshOptions o;
  o.family = "mnigsnofamily";  // names are at most 15 characters
  auto r = refresh(ctx, o);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->kernel, RefreshResult::Kernel::missing) << r->error;
  EXPECT_TRUE(r->snapshot.originators.empty());
}

TEST(BatmanRefresh, CancelledRefreshNeverAnswers) {
  testing::FakeContext ctx("batman");
  RefreshOptions o;
  o.family = "nlctrl";
  bool answered = false;
  auto r = Refresh::start(ctx.executor(), o, [&](RefreshResult) { answered = true; });
  r->cancel();
  ctx.run_for(100ms);
  EXPECT_FALSE(answered);
}

TEST(BatmanDumpErrors, SayWhatToDo) {
  EXPECT_EQ(dump_error(ENODEV, "bat0"), "bat0 is not a batman-adv mesh interface");
  EXPECT_NE(dump_error(ENOENT, "bat0").find("no active hard interface"), std::string::npos);
  EXPECT_NE(dump_error(EPERM, "bat0").find("CAP_NET_ADMIN"), std::string::npos);
}

class BatmanWithoutKernel : public ::testing::Test {
 protected:
  void SetUp() override {
    if (kernel_has_batman()) GTEST_SKIP() << "this kernel has batman-adv";
    ctx.config_ = defaults();
  }
  testing::FakeContext ctx{"batman"};
};

TEST_F(BatmanWithoutKernel, StartsAndSaysBatmanIsMissing) {
  BatmanDiscovery p(ctx);
  EXPECT_EQ(p.network(), "batman");
  ASSERT_NO_THROW(p.start());
  EXPECT_EQ(p.status()["state"].asString(), "checking");
  run_until(ctx, [&] { return p.status()["state"].asString() != "checking"; });
  auto s = p.status();
  EXPECT_FALSE(s["available"].asBool());
  EXPECT_EQ(s["state"].asString(), "not available");
  EXPECT_EQ(s["lastError"].asString(), not_available);
  EXPECT_EQ(s["interface"].asString(), "bat0");
  EXPECT_EQ(s["originators"].asUInt(), 0u);
  EXPECT_TRUE(ctx.log_.saw("batman-adv is not available in this kernel; looking again every 60 s"));
  EXPECT_TRUE(ctx.methods.count("listOriginators"));
  p.stop();
}

TEST_F(BatmanWithoutKernel, DiscoverAnswersOnceWithTheError) {
  BatmanDiscovery p(ctx);
  p.start();
  int answers = 0;
  Discovery got;
  p.discover([&](Discovery d) {
    ++answers;
    got = std::move(d);
  });
  run_until(ctx, [&] { return answers > 0; });
  ctx.run_for(50ms);
  EXPECT_EQ(answers, 1);
  EXPECT_EQ(got.error, not_available);
  EXPECT_TRUE(got.candidates.empty());
  EXPECT_TRUE(got.links.empty());
  EXPECT_TRUE(ctx.bus_.published.empty());

  // Asked again (the next scan): the same answer, and the warning is not repeated.
  const auto lines = ctx.log_.lines.size();
  p.discover([&](Discovery d) {
    ++answers;
    got = std::move(d);
  });
  run_until(ctx, [&] { return answers > 1; });
  EXPECT_EQ(answers, 2);
  EXPECT_EQ(got.error, not_available);
  EXPECT_EQ(ctx.log_.lines.size(), lines);
  p.stop();
}

TEST_F(BatmanWithoutKernel, StopAnswersWaitingScans) {
  BatmanDiscovery p(ctx);
  p.start();
  int answers = 0;
  p.discover([&](Discovery d) {
    ++answers;
    EXPECT_NE(d.error, "");
  });
  p.stop();  // before the loop ran: the look is cancelled, the scan still gets its answer
  ctx.run_for(50ms);
  EXPECT_EQ(answers, 1);
}

TEST_F(BatmanWithoutKernel, DestroyedWithWorkPending) {
  // The daemon may destroy a plugin while a timer or socket of it is
  // pending; their handlers must not touch it afterwards: the waiting scan
  // is answered once, at stop, and nothing of the plugin runs later.
  int answers = 0;
  std::size_t lines = 0;
  {
    BatmanDiscovery p(ctx);
    p.start();
    run_until(ctx, [&] { return p.status()["state"].asString() != "checking"; });
    p.discover([&](Discovery d) {
      ++answers;
      EXPECT_NE(d.error, "");
    });
    p.stop();
    lines = ctx.log_.lines.size();
  }
  const auto published = ctx.bus_.published.size();
  ctx.run_for(200ms);
  EXPECT_EQ(answers, 1);
  EXPECT_EQ(ctx.log_.lines.size(), lines);
  EXPECT_EQ(ctx.bus_.published.size(), published);
}

TEST(BatmanConfig, BadInterfaceNameFailsTheStart) {
  testing::FakeContext ctx("batman");
  ctx.config_ = defaults();
  ctx.config_["interface"] = "bat0/../../x";
  BatmanDiscovery p(ctx);
  try {
    p.start();
    FAIL() << "start() accepted a bad interface name";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("batman.interface must be an interface name"),
              std::string::npos)
        << e.what();
  }
}

TEST(BatmanConfig, BadLiveChangeKeepsThePreviousSettings) {
  testing::FakeContext ctx("batman");
  ctx.config_ = defaults();
  BatmanDiscovery p(ctx);
  p.start();
  ctx.config_["interface"] = "";
  p.config_changed();
  EXPECT_TRUE(ctx.log_.saw("keeping the previous settings"));
  EXPECT_EQ(p.status()["interface"].asString(), "bat0");
  ctx.config_["interface"] = "bat1";
  ctx.config_["addressInterface"] = "br-mesh";
  p.config_changed();
  EXPECT_EQ(p.status()["interface"].asString(), "bat1");
  EXPECT_EQ(p.status()["addressInterface"].asString(), "br-mesh");
  p.stop();
}

}  // namespace
}  // namespace mnigs::batman
