// The plugin against a fake babeld on a loopback socket: sync from
// "monitor", folding, events, outages and reconnection, bad input, config.
// The fake serves dumps captured from babeld 1.12.1.
#include "discovery.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <functional>
#include <optional>
#include <plugin_fakes.hpp>

#include "test_support.hpp"

namespace mnigs::babel::testing {
namespace {

using namespace std::chrono_literals;

const std::string kLeaf = "34:fe:83:e7:11:bf:b5:d2";
const std::string kRelay = "dc:ee:12:bc:f9:5f:03:a8";
const std::string kGateway = "b8:d8:5c:4f:2e:89:d5:19";

std::string greeting_of(const Transcript& t) { return joined(t.greeting); }

class BabelLive : public ::testing::Test {
 protected:
  void SetUp() override {
    babeld = std::make_unique<FakeBabeld>(ctx.io());
    serve(*babeld, "dump_relay.txt");
    ctx.config_["address"] = "127.0.0.1";
    ctx.config_["port"] = babeld->port();
    ctx.config_["socket"] = "";
    ctx.config_["timeout"] = 5000;
  }
  void TearDown() override {
    if (plugin) plugin->stop();
    plugin.reset();
    babeld.reset();
  }

  static void serve(FakeBabeld& fake, const std::string& transcript) {
    auto t = load(transcript);
    fake.greeting = greeting_of(t);
    fake.dump = t.dump;
  }

  void start() {
    plugin = std::make_unique<BabelDiscovery>(ctx);
    plugin->start();
  }

  // Runs the loop until `done` holds; the limit only keeps a broken build
  // from hanging, it is no expectation about speed.
  bool run_until(const std::function<bool()>& done, std::chrono::milliseconds limit = 15s) {
    auto end = std::chrono::steady_clock::now() + limit;
    while (!done()) {
      if (std::chrono::steady_clock::now() > end) return false;
      ctx.run_for(5ms);
    }
    return true;
  }

  bool connected() { return plugin->status()["connected"].asBool(); }
  std::uint64_t status_count(const char* key) { return plugin->status()[key].asUInt64(); }

  Discovery discover() {
    int calls = 0;
    Discovery out;
    plugin->discover([&](Discovery d) {
      ++calls;
      out = std::move(d);
    });
    EXPECT_TRUE(run_until([&] { return calls > 0; }));
    ctx.run_for(10ms);
    EXPECT_EQ(calls, 1);
    return out;
  }

  std::size_t changed_events() {
    return static_cast<std::size_t>(
        std::count_if(ctx.bus_.published.begin(), ctx.bus_.published.end(), [](const auto& e) {
          return e.first == "discovery.changed" && e.second["network"].asString() == "babel";
        }));
  }

  std::size_t log_lines(const std::string& text) {
    return static_cast<std::size_t>(
        std::count_if(ctx.log_.lines.begin(), ctx.log_.lines.end(),
                      [&](const std::string& l) { return l.find(text) != std::string::npos; }));
  }

  std::string where() {
    return "babeld's local interface at 127.0.0.1:" + std::to_string(babeld->port());
  }

  mnigs::testing::FakeContext ctx{"babel"};
  std::unique_ptr<FakeBabeld> babeld;
  std::unique_ptr<BabelDiscovery> plugin;
};

std::vector<std::string> nodes_of(const Discovery& d) {
  std::vector<std::string> out;
  for (const auto& c : d.candidates)
    if (std::find(out.begin(), out.end(), c.node) == out.end()) out.push_back(c.node);
  std::sort(out.begin(), out.end());
  return out;
}

TEST_F(BabelLive, SyncsFromMonitorAndAnswersFromTheTable) {
  start();
  ASSERT_TRUE(run_until([&] { return connected(); }));
  EXPECT_EQ(babeld->received, std::vector<std::string>{"monitor"});

  auto d = discover();
  EXPECT_EQ(d.error, "");
  ASSERT_EQ(d.candidates.size(), 4u);
  EXPECT_EQ(nodes_of(d), (std::vector<std::string>{kLeaf, kGateway}));
  for (const auto& c : d.candidates) EXPECT_EQ(c.gateway, c.node == kGateway);
  EXPECT_EQ(d.links.size(), 2u);

  auto s = plugin->status();
  EXPECT_EQ(s["state"].asString(), "live");
  EXPECT_EQ(s["endpoint"].asString(), "127.0.0.1:" + std::to_string(babeld->port()));
  EXPECT_EQ(s["version"].asString(), "babeld-1.12.1");
  EXPECT_EQ(s["myId"].asString(), kRelay);
  EXPECT_EQ(s["nodes"].asUInt(), 2u);
  EXPECT_EQ(s["gateways"].asUInt(), 1u);
  EXPECT_EQ(s["routes"].asUInt(), 12u);
  EXPECT_EQ(s["neighbours"].asUInt(), 2u);
  EXPECT_EQ(s["lastError"].asString(), "");
  EXPECT_EQ(plugin->network(), "babel");
  // From no nodes to two: one event for a waiting scanner.
  EXPECT_EQ(changed_events(), 1u);
}

TEST_F(BabelLive, FoldsChangesAndPublishesOnlyWhenNodesOrGatewaysChange) {
  start();
  ASSERT_TRUE(run_until([&] { return connected(); }));
  ASSERT_EQ(changed_events(), 1u);

  // The same route over and over with new metrics, as babeld sends them.
  std::string lines;
  for (int metric = 100; metric < 150; ++metric)
    lines += "change route 561e734b4700 prefix 10.99.0.1/32 from 0.0.0.0/0 installed yes id " +
             kLeaf + " metric " + std::to_string(metric) +
             " refmetric 0 via fe80::b8ab:efff:fef1:bb77 if vba\n";
  babeld->send(lines);
  // Longer than kPublishInterval, so a pending event would have gone out.
  ctx.run_for(kPublishInterval + 500ms);
  EXPECT_EQ(changed_events(), 1u);
  EXPECT_EQ(status_count("routes"), 12u);
  auto d = discover();
  for (const auto& c : d.candidates) {
    if (c.node == kLeaf) {
      EXPECT_EQ(c.distance, 96u);  // fd99::1 is still at 96
    }
  }

  // The gateway retracts its routes (both ways round): it is gone, and that is news.
  for (auto line : load("dump_relay.txt").dump) {
    if (line.find(kGateway) == std::string::npos) continue;
    line.replace(0, 3, "change");
    auto metric = line.find(" metric ");
    auto refmetric = line.find(" refmetric ");
    line.replace(metric, refmetric - metric, " metric 65535");
    babeld->send(line + "\n");
  }
  ASSERT_TRUE(run_until([&] { return changed_events() == 2; }));
  d = discover();
  EXPECT_EQ(d.error, "");
  EXPECT_EQ(nodes_of(d), std::vector<std::string>{kLeaf});
  EXPECT_EQ(status_count("gateways"), 0u);
}

TEST_F(BabelLive, AbsentBabeldIsReportedAndLoggedOncePerOutage) {
  babeld->stop();
  start();
  ASSERT_TRUE(run_until([&] { return !plugin->status()["lastError"].asString().empty(); }));
  auto d = discover();
  EXPECT_EQ(d.error, where() + ": connection refused");
  EXPECT_TRUE(d.candidates.empty());
  EXPECT_FALSE(connected());
  // listPlugins lists it as degraded with this reason.
  EXPECT_EQ(plugin->status()["error"].asString(), where() + ": connection refused");

  // The retry a second later fails the same way: logged once, at warn.
  ASSERT_TRUE(run_until([&] { return log_lines("connection refused") >= 2; }));
  EXPECT_EQ(log_lines("retrying every"), 1u);

  // babeld starts late: the next retry finds it.
  babeld->restart();
  ASSERT_TRUE(run_until([&] { return connected(); }));
  EXPECT_EQ(discover().candidates.size(), 4u);
  EXPECT_EQ(discover().error, "");
  EXPECT_EQ(plugin->status()["error"].asString(), "");
}

TEST_F(BabelLive, ReconnectsAndResyncsWhenBabeldRestarts) {
  start();
  ASSERT_TRUE(run_until([&] { return connected(); }));
  ASSERT_EQ(discover().candidates.size(), 4u);

  babeld->stop();
  ASSERT_TRUE(run_until([&] { return !connected(); }));
  auto d = discover();
  EXPECT_EQ(d.error, where() + ": babeld closed the connection");
  // What it knew is still there, marked by the error.
  EXPECT_EQ(d.candidates.size(), 4u);
  EXPECT_EQ(log_lines("retrying every"), 1u);

  // Back, as another node: the new dump replaces the table.
  serve(*babeld, "dump_leaf.txt");
  babeld->restart();
  ASSERT_TRUE(run_until([&] { return connected(); }));
  EXPECT_EQ(babeld->accepted, 2);
  EXPECT_EQ(status_count("connections"), 2u);
  EXPECT_EQ(plugin->status()["myId"].asString(), kLeaf);
  d = discover();
  EXPECT_EQ(d.error, "");
  EXPECT_EQ(nodes_of(d), (std::vector<std::string>{kGateway, kRelay}));
  EXPECT_EQ(status_count("routes"), 6u);
  EXPECT_EQ(log_lines("connected again"), 1u);
  EXPECT_TRUE(run_until([&] { return changed_events() == 2; }));

  // A dropped connection alone (babeld still listening) is resynced too.
  babeld->drop();
  ASSERT_TRUE(run_until([&] { return babeld->accepted == 3 && connected(); }));
  EXPECT_EQ(discover().candidates.size(), 4u);
}

TEST_F(BabelLive, SilentBabeldDoesNotHangDiscover) {
  babeld->greeting = "";  // accepts, then says nothing
  ctx.config_["timeout"] = 300;
  start();
  // Asked while the first attempt is under way: answered when it gives up.
  auto d = discover();
  EXPECT_NE(d.error.find(where()), std::string::npos) << d.error;
  EXPECT_TRUE(d.candidates.empty());
  ASSERT_TRUE(run_until([&] { return !plugin->status()["lastError"].asString().empty(); }));
  EXPECT_EQ(discover().error,
            where() + ": no greeting within 300 ms (is this babeld's local interface?)");
}

TEST_F(BabelLive, UnfinishedDumpIsNotUsed) {
  babeld->finish_dump = false;
  ctx.config_["timeout"] = 300;
  start();
  ASSERT_TRUE(run_until([&] { return !plugin->status()["lastError"].asString().empty(); }));
  auto d = discover();
  EXPECT_EQ(d.error, where() + ": the dump did not end within 300 ms");
  EXPECT_TRUE(d.candidates.empty());
  EXPECT_EQ(status_count("routes"), 0u);
}

TEST_F(BabelLive, NotBabeldIsToldApart) {
  babeld->greeting = "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n";
  start();
  ASSERT_TRUE(run_until([&] { return !plugin->status()["lastError"].asString().empty(); }));
  EXPECT_EQ(discover().error, where() +
                                  ": it did not greet with \"BABEL 1.x\" (is this babeld's local "
                                  "interface?)");
}

TEST_F(BabelLive, GarbageTruncatedAndOverlongLinesAreSkipped) {
  auto t = load("dump_relay.txt");
  babeld->dump = {"garbage from nowhere",
                  "add route 561e734b4700 prefix 10.99.0.1/32 from 0.0.0.0/0 installed yes id",
                  std::string(5000, 'x'), std::string("add \x01\x02\x7f route"),
                  "add route 99 prefix 10.99.0.9/40 from 0.0.0.0/0 installed yes id " + kLeaf +
                      " metric 96 refmetric 0 via fe80::1 if vba"};
  babeld->dump.insert(babeld->dump.end(), t.dump.begin(), t.dump.end());
  start();
  ASSERT_TRUE(run_until([&] { return connected(); }));
  EXPECT_EQ(status_count("malformedLines"), 5u);
  EXPECT_EQ(discover().candidates.size(), 4u);
  EXPECT_EQ(log_lines("skipped a line from babeld at 127.0.0.1"), 5u);
  EXPECT_EQ(log_lines("longer than 4096 bytes"), 1u);

  // A flood is counted, not logged line by line; the stream goes on.
  std::string flood;
  for (int i = 0; i < 100; ++i) flood += "nonsense " + std::to_string(i) + "\n";
  babeld->send(flood +
               "flush route 561e734b5060\nflush route 561e734b3820\n"
               "flush route 561e734b4f20\nflush route 561e734b3760\n");
  ASSERT_TRUE(run_until([&] { return status_count("malformedLines") == 105; }));
  EXPECT_EQ(log_lines("skipped a line from babeld"), 5u);
  ASSERT_TRUE(run_until([&] { return discover().candidates.size() == 2; }));
  EXPECT_TRUE(connected());
  // A line cut short by babeld going away is dropped with the connection.
  babeld->send("add route 561e734b4700 prefix 10.99");
  babeld->stop();
  ASSERT_TRUE(run_until([&] { return !connected(); }));
  EXPECT_EQ(status_count("malformedLines"), 105u);
}

TEST_F(BabelLive, UnixSocket) {
  std::string path = "/tmp/mnigs-babel-test-" + std::to_string(::getpid()) + ".sock";
  FakeBabeld local(ctx.io(), path);
  serve(local, "dump_gateway.txt");
  ctx.config_["socket"] = path;
  start();
  ASSERT_TRUE(run_until([&] { return connected(); }));
  EXPECT_EQ(plugin->status()["endpoint"].asString(), path);
  EXPECT_EQ(babeld->accepted, 0);
  auto d = discover();
  EXPECT_EQ(nodes_of(d), (std::vector<std::string>{kLeaf, kRelay}));
  plugin->stop();
  plugin.reset();
}

TEST_F(BabelLive, ConfigChangeMovesToAnotherBabeld) {
  start();
  ASSERT_TRUE(run_until([&] { return connected(); }));
  FakeBabeld other(ctx.io());
  serve(other, "dump_leaf.txt");
  ctx.config_["port"] = other.port();
  plugin->config_changed();
  ASSERT_TRUE(run_until([&] { return other.accepted == 1 && connected(); }));
  EXPECT_EQ(nodes_of(discover()), (std::vector<std::string>{kGateway, kRelay}));

  // An unusable value is refused; the connection stays.
  ctx.config_["address"] = "";
  plugin->config_changed();
  EXPECT_TRUE(ctx.log_.saw("babel.address and babel.socket are both empty"));
  EXPECT_TRUE(connected());
  plugin->stop();
  plugin.reset();
}

TEST_F(BabelLive, StopAnswersWaitingDiscoveries) {
  babeld->greeting = "";
  start();
  int calls = 0;
  std::string error;
  plugin->discover([&](Discovery d) {
    ++calls;
    error = d.error;
  });
  ctx.run_for(20ms);
  EXPECT_EQ(calls, 0);  // waiting for the greeting
  plugin->stop();
  EXPECT_EQ(calls, 1);
  EXPECT_NE(error.find("stopped"), std::string::npos) << error;
  ctx.run_for(50ms);
  EXPECT_EQ(calls, 1);
}

TEST_F(BabelLive, StartRefusesAnUnusableConfig) {
  ctx.config_["address"] = "";
  BabelDiscovery p(ctx);
  try {
    p.start();
    FAIL() << "started without an address or socket";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("babel.address and babel.socket are both empty"),
              std::string::npos);
  }
}

// The connection on its own, with a short keepalive interval.
class Quiet : public Monitor::Listener {
 public:
  void synced() override { ++syncs; }
  void updated() override {}
  void lost() override { ++losses; }
  int syncs = 0, losses = 0;
};

TEST(BabelMonitor, KeepaliveFindsABabeldThatStoppedAnswering) {
  mnigs::testing::FakeContext ctx("babel");
  FakeBabeld babeld(ctx.io());
  babeld.dump = load("dump_leaf.txt").dump;
  Settings settings;
  settings.address = "127.0.0.1";
  settings.port = babeld.port();
  settings.timeout = 200ms;
  settings.keepalive_idle = 100ms;
  Quiet listener;
  auto monitor = std::make_shared<Monitor>(ctx, settings, listener);
  monitor->start();
  auto run_until = [&](const std::function<bool()>& done) {
    for (int i = 0; i < 3000 && !done(); ++i) ctx.run_for(5ms);
    return done();
  };
  // A silent but healthy babeld answers each keepalive with "ok".
  ASSERT_TRUE(run_until(
      [&] { return std::count(babeld.received.begin(), babeld.received.end(), "") >= 3; }));
  EXPECT_TRUE(monitor->live());
  EXPECT_EQ(listener.losses, 0);

  // One that stops answering (SIGSTOP) is given up on and retried.
  babeld.answer_keepalive = false;
  ASSERT_TRUE(run_until([&] { return listener.losses == 1; }));
  EXPECT_EQ(monitor->last_error(), "no answer to a keepalive within 200 ms");
  EXPECT_EQ(monitor->table().routes(), 6u);  // still what it knew
  babeld.answer_keepalive = true;
  ASSERT_TRUE(run_until([&] { return listener.syncs == 2; }));
  EXPECT_TRUE(monitor->live());
  monitor->stop();
}

using Keys = mnigs::testing::RecordingDeclarer;

TEST(BabelConfig, DeclaresItsKeysWithDefaults) {
  Keys k;
  BabelDiscovery::declare(k);
  ASSERT_EQ(k.keys.size(), 4u);
  EXPECT_EQ(k.at("address").type, ValueType::address);
  EXPECT_EQ(k.at("address").default_value.asString(), "::1");
  EXPECT_EQ(k.at("port").type, ValueType::port);
  EXPECT_EQ(k.at("port").default_value.asInt(), 33123);
  EXPECT_EQ(k.at("socket").default_value.asString(), "");
  EXPECT_EQ(k.at("timeout").default_value.asInt(), 5000);
  // The defaults describe babeld on this host's [::1]:33123.
  Json::Value defaults(Json::objectValue);
  for (const auto& key : k.keys) defaults[key.name] = key.default_value;
  std::string why;
  auto s = read_settings(defaults, &why);
  ASSERT_TRUE(s) << why;
  EXPECT_EQ(s->describe(), "[::1]:33123");
}

}  // namespace
}  // namespace mnigs::babel::testing
