// The scanner's schedule on a hand-moved clock: the first background scan
// 15 s after start (or one scan.interval if shorter), then one every
// scan.interval, none when it is 0, a scan asked for by hand counting as the
// last one; and re-probes after "discovery.changed": 2 s after the first
// event of a burst, at least 10 s after the previous re-probe. Discovery is
// one in-process plugin that reports no nodes, so nothing is probed on the
// network; it counts how often it is asked.
#include "scanner/scanner.hpp"
#include "store/store.hpp"
#include "test_util.hpp"

#include <manual_clock.hpp>
#include <mnigs/build_fingerprint.hpp>
#include <mnigs/plugin_abi.h>

#include <gtest/gtest.h>

#include <boost/asio/executor_work_guard.hpp>

#include <atomic>
#include <future>
#include <thread>

namespace mnigs {
namespace {

using namespace std::chrono_literals;
using test::eventually;

std::atomic<int> g_discoveries{0};

// A discovery plugin that knows no nodes and counts the times it was asked.
class CountingDiscovery final : public DiscoveryPlugin {
 public:
  explicit CountingDiscovery(PluginContext&) {}
  void start() override {}
  std::string network() const override { return "testnet"; }
  void discover(std::function<void(Discovery)> done) override {
    ++g_discoveries;
    done(Discovery{});
  }
};

// Its descriptor, as MNIGS_PLUGIN would export it from a .so.
const mnigs_plugin_info kCountingInfo = {
    sizeof(mnigs_plugin_info),
    MNIGS_PLUGIN_ABI_MAJOR,
    MNIGS_PLUGIN_ABI_MINOR,
    MNIGS_BUILD_FINGERPRINT,
    "counting",
    "discovery",
    "0.1",
    "Test discovery that counts discover() calls",
    [](void*, char*, size_t) { return 0; },
    [](void* context, char*, size_t) -> void* {
      return static_cast<Plugin*>(new CountingDiscovery(*static_cast<PluginContext*>(context)));
    },
    [](void* plugin) { delete static_cast<Plugin*>(plugin); }};

class ScannerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    g_discoveries = 0;
    declare_core_keys(schema_);
    store_ = Store::open(dir_.file("state.db"), log_);
    thread_ = std::thread([this] { io_.run(); });
  }
  void TearDown() override {
    // As the daemon does: the scanner is destroyed only once the io thread
    // has stopped, since a discovery callback may still be queued.
    if (scanner_) {
      scanner_->stop();
      status();  // stop() has run
    }
    if (plugins_) {
      std::promise<void> stopped;
      plugins_->stop([&] { stopped.set_value(); });
      stopped.get_future().wait();
    }
    work_.reset();
    io_.stop();
    thread_.join();
    scanner_.reset();
    plugins_.reset();
    // Before io_ goes: the store's worker may still hold a completion that
    // carries a strand of io_.
    store_.reset();
  }

  // Starts the scanner with scan.interval = `interval` seconds and waits
  // until its background scan and survey timers are armed.
  void start(int interval) {
    config_ = std::make_unique<ConfigHolder>(config_with(interval));
    plugins_ = std::make_unique<PluginHost>(io_, *config_, store_.get(), events_,
                                            [](const std::string&, Access, MethodHandler) {});
    PluginLibrary lib;
    lib.path = "(in process)";
    lib.name = "counting";
    lib.kind = "discovery";
    lib.version = "0.1";
    lib.info = &kCountingInfo;
    plugins_->start({lib});
    std::promise<void> started;
    plugins_->when_started([&] { started.set_value(); });
    ASSERT_EQ(started.get_future().wait_for(5s), std::future_status::ready);
    scanner_ = std::make_unique<Scanner>(io_, *config_, *store_, *plugins_, events_, "self-id",
                                         Scanner::AddressSeen{}, clock_);
    scanner_->start();
    ASSERT_TRUE(eventually([&] { return clock_.waiting() == 2; }));
    ASSERT_TRUE(eventually([&] { return g_discoveries == 1; }));  // the first survey
  }
  std::shared_ptr<const Config> config_with(int interval) {
    Json::Value values = defaults(schema_);
    values["scan"]["interval"] = interval;
    return std::make_shared<const Config>("", values);
  }

  // The scanner's status, read on its strand: whatever a timer that fired
  // before started has run by then.
  Json::Value status() {
    std::promise<Json::Value> p;
    scanner_->status([&](Json::Value v) { p.set_value(v); });
    return p.get_future().get();
  }
  std::uint64_t scans() { return status()["scan"].asUInt64(); }
  // Waits for the running scan to finish (it has no node to probe).
  bool finished() {
    return eventually([&] { return !status()["running"].asBool(); });
  }
  Json::Value start_scan() {
    std::promise<Json::Value> p;
    scanner_->start_scan([&](Json::Value v) { p.set_value(v); });
    return p.get_future().get();
  }
  // Publishes "discovery.changed" and waits until the scanner has handled it.
  void discovery_changed() {
    Json::Value e(Json::objectValue);
    e["network"] = "testnet";
    events_.publish("discovery.changed", e);
    status();  // the scanner's handler runs on its strand, before this
  }

  test::TempDir dir_;
  test::RecordingLogger log_;
  Schema schema_;
  testing::ManualClock clock_;
  std::unique_ptr<ConfigHolder> config_;
  std::unique_ptr<Store> store_;
  boost::asio::io_context io_;
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_{
      io_.get_executor()};
  CoreEventBus events_{io_.get_executor()};
  std::unique_ptr<PluginHost> plugins_;
  std::unique_ptr<Scanner> scanner_;
  std::thread thread_;
};

TEST_F(ScannerTest, FirstBackgroundScanAfter15sThenOneEveryInterval) {
  start(600);
  EXPECT_DOUBLE_EQ(clock_.seconds_to_next(), 15.0);
  EXPECT_EQ(clock_.advance(14s), 0u);
  EXPECT_EQ(scans(), 0u);

  const std::int64_t first_at = clock_.unix_seconds() + 1;
  EXPECT_EQ(clock_.advance(1s), 1u);
  Json::Value s = status();
  EXPECT_EQ(s["scan"], 1u);
  EXPECT_TRUE(s["background"].asBool());
  EXPECT_EQ(s["startedAt"].asInt64(), first_at);
  ASSERT_TRUE(finished());
  EXPECT_EQ(status()["finishedAt"].asInt64(), first_at);

  // The next one is due an interval later; surveys in between start no scan.
  clock_.advance(599s);
  EXPECT_EQ(scans(), 1u);
  clock_.advance(1s);
  EXPECT_EQ(scans(), 2u);
  ASSERT_TRUE(finished());
  clock_.advance(599s);
  EXPECT_EQ(scans(), 2u);
  clock_.advance(1s);
  EXPECT_EQ(scans(), 3u);
}

TEST_F(ScannerTest, AnIntervalShorterThan15sAlsoDelaysTheFirstScan) {
  start(5);
  EXPECT_DOUBLE_EQ(clock_.seconds_to_next(), 5.0);
  EXPECT_EQ(clock_.advance(4s), 0u);
  EXPECT_EQ(scans(), 0u);
  clock_.advance(1s);
  EXPECT_EQ(scans(), 1u);
  ASSERT_TRUE(finished());
  clock_.advance(4s);
  EXPECT_EQ(scans(), 1u);
  clock_.advance(1s);
  EXPECT_EQ(scans(), 2u);
}

TEST_F(ScannerTest, IntervalZeroScansOnlyWhenAsked) {
  start(0);
  for (int i = 0; i < 60; ++i) clock_.advance(60s);  // an hour
  EXPECT_EQ(scans(), 0u);
  Json::Value r = start_scan();
  EXPECT_TRUE(r["started"].asBool());
  EXPECT_EQ(r["scan"], 1u);
  EXPECT_FALSE(status()["background"].asBool());
}

TEST_F(ScannerTest, AScanAskedForByHandCountsAsTheLastOne) {
  start(60);
  clock_.advance(10s);
  ASSERT_TRUE(start_scan()["started"].asBool());
  ASSERT_TRUE(finished());
  // At 15 s the first background scan would be due; the one at 10 s counts.
  clock_.advance(5s);
  EXPECT_EQ(scans(), 1u);
  clock_.advance(54s);  // 69 s
  EXPECT_EQ(scans(), 1u);
  clock_.advance(1s);  // 70 s: an interval after the scan by hand
  EXPECT_EQ(scans(), 2u);
  EXPECT_TRUE(status()["background"].asBool());
}

TEST_F(ScannerTest, ALongerIntervalCountsFromTheLastScan) {
  start(60);
  clock_.advance(15s);
  ASSERT_EQ(scans(), 1u);
  ASSERT_TRUE(finished());
  clock_.advance(5s);  // 20 s
  config_->set(config_with(600));
  scanner_->interval_changed();
  status();  // handled
  clock_.advance(594s);  // 614 s
  EXPECT_EQ(scans(), 1u);
  clock_.advance(1s);  // 615 s: 600 s after the last scan
  EXPECT_EQ(scans(), 2u);
}

TEST_F(ScannerTest, DiscoveryChangedReprobesOnce2sAfterABurstBegan) {
  start(600);
  clock_.advance(15s);  // the first scan asks discovery once more
  ASSERT_TRUE(finished());
  ASSERT_EQ(g_discoveries, 2);

  // A burst: three events at 15 s, one more at 16 s.
  for (int i = 0; i < 3; ++i) discovery_changed();
  EXPECT_EQ(clock_.waiting(), 3u);  // one re-probe for the burst
  EXPECT_DOUBLE_EQ(clock_.seconds_to_next(), 2.0);
  EXPECT_EQ(clock_.advance(1s), 0u);
  discovery_changed();
  EXPECT_EQ(clock_.waiting(), 3u);
  EXPECT_DOUBLE_EQ(clock_.seconds_to_next(), 1.0);  // still 2 s after the first, not the last
  EXPECT_EQ(clock_.advance(1s), 1u);
  ASSERT_TRUE(eventually([&] { return g_discoveries == 3; }));
}

TEST_F(ScannerTest, ReprobesAreAtLeast10sApart) {
  start(600);
  clock_.advance(15s);
  ASSERT_TRUE(finished());
  discovery_changed();
  clock_.advance(2s);  // 17 s: the re-probe
  ASSERT_TRUE(eventually([&] { return g_discoveries == 3; }));

  clock_.advance(1s);  // 18 s
  discovery_changed();
  ASSERT_TRUE(eventually([&] { return clock_.waiting() == 3; }));
  EXPECT_DOUBLE_EQ(clock_.seconds_to_next(), 9.0);  // 27 s, not 20 s
  EXPECT_EQ(clock_.advance(8s), 0u);
  EXPECT_EQ(g_discoveries, 3);
  EXPECT_EQ(clock_.advance(1s), 1u);
  ASSERT_TRUE(eventually([&] { return g_discoveries == 4; }));
}

TEST_F(ScannerTest, NoReprobeWhileBackgroundScansAreOff) {
  start(0);
  discovery_changed();
  EXPECT_EQ(clock_.waiting(), 2u);  // the scan timer and the survey only
  clock_.advance(10s);
  EXPECT_EQ(g_discoveries, 1);
}

}  // namespace
}  // namespace mnigs
