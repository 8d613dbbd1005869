// Sharing the gateway with the LAN (subscriber.lan) on a fake command runner:
// the nft table it writes, forwarding turned on only when it was off and
// turned off again at stop (or at the next start after a crash), the
// connections of the old gateway deleted from conntrack at a switch and only
// then, and a missing conntrack tool said in status.
#include "config/schema.hpp"
#include "store/store.hpp"
#include "subscriber/lan.hpp"
#include "test_util.hpp"

#include <gtest/gtest.h>

#include <boost/asio/executor_work_guard.hpp>

#include <future>
#include <map>
#include <mutex>
#include <thread>

namespace mnigs {
namespace {

using test::eventually;

std::vector<Prefix> prefixes(const std::vector<std::string>& texts) {
  std::vector<Prefix> out;
  for (const auto& t : texts) out.push_back(*parse_prefix(t));
  return out;
}

TEST(LanScript, MasqueradesEachFamilyOutsideItsPrefixesAndMarksTheGeneration) {
  const std::string s =
      lan_nft_script(prefixes({"192.168.77.0/24", "10.5.0.0/16", "fd77::/64"}), 3);
  // Replaced in one transaction, whether or not the table existed.
  EXPECT_EQ(s.rfind("table inet mnigs_lan\ndelete table inet mnigs_lan\n", 0), 0u);
  EXPECT_NE(s.find("elements = { 192.168.77.0/24, 10.5.0.0/16 }"), std::string::npos);
  EXPECT_NE(s.find("elements = { fd77::/64 }"), std::string::npos);
  EXPECT_NE(s.find("ip saddr @lan4 ip daddr != @lan4 ct mark set ct mark and 0xf0ffffff or "
                   "0x03000000 masquerade"),
            std::string::npos);
  EXPECT_NE(s.find("ip6 saddr @lan6 ip6 daddr != @lan6 ct mark set ct mark and 0xf0ffffff or "
                   "0x03000000 masquerade"),
            std::string::npos);
  EXPECT_NE(s.find("type nat hook postrouting priority srcnat"), std::string::npos);
}

TEST(LanScript, OneFamilyOnlyAndNothingAtAll) {
  const std::string v4 = lan_nft_script(prefixes({"192.168.1.0/24"}), 1);
  EXPECT_EQ(v4.find("lan6"), std::string::npos);
  EXPECT_NE(v4.find("or 0x01000000 masquerade"), std::string::npos);
  EXPECT_EQ(lan_nft_script({}, 5), "table inet mnigs_lan\ndelete table inet mnigs_lan\n");
}

TEST(LanScript, ConntrackMarkSelectsOneGeneration) {
  EXPECT_EQ(lan_conntrack_mark(1), "0x01000000/0x0f000000");
  EXPECT_EQ(lan_conntrack_mark(15), "0x0f000000/0x0f000000");
}

class LanShareTest : public ::testing::Test {
 protected:
  void SetUp() override {
    declare_core_keys(schema_);
    store_ = Store::open(dir_.path() + "/state.db", log_);
    thread_ = std::thread([this] { io_.run(); });
  }
  void TearDown() override {
    lan_.reset();
    work_.reset();
    thread_.join();
    // Before io_ goes: the store's worker may still hold a completion that
    // carries a strand of io_.
    store_.reset();
  }
  void configure(const std::vector<std::string>& lan) {
    Json::Value values = defaults(schema_);
    Json::Value list(Json::arrayValue);
    for (const auto& p : lan) list.append(p);
    values["subscriber"]["lan"] = list;
    if (!config_)
      config_ = std::make_unique<ConfigHolder>(std::make_shared<const Config>("", values));
    else
      config_->set(std::make_shared<const Config>("", values));
  }
  // A LanShare on the fake runner, started.
  void start(const std::vector<std::string>& lan) {
    configure(lan);
    lan_ = std::make_unique<LanShare>(
        io_, *config_, *store_, [this](os::Command c, std::function<void(CommandOutcome)> done) {
          CommandOutcome o;
          std::string line;
          for (const auto& a : c.argv) line += (line.empty() ? "" : " ") + a;
          {
            std::lock_guard lock(mutex_);
            commands_.push_back(line);
            if (c.argv[0] == "nft") scripts_.push_back(c.input);
            if (c.argv[0] == "sysctl" && c.argv[1] == "-w") {
              auto eq = c.argv[2].find('=');
              knobs_[c.argv[2].substr(0, eq)] = c.argv[2].substr(eq + 1);
            }
            if (c.argv[0] == "sysctl" && c.argv[1] == "-n") {
              o.exit_code = 0;
              o.out = knobs_[c.argv[2]] + "\n";
            } else if (c.argv[0] == "conntrack") {
              if (!conntrack_) {
                o.exit_code = -1;
                o.err = "No such file or directory";
              } else {
                o.exit_code = c.argv[3] == "ipv4" ? 0 : 1;
                o.err = std::string("conntrack v1.4.7 (conntrack-tools): ") +
                        (c.argv[3] == "ipv4" ? "2 flow entries have" : "0 flow entries have") +
                        " been deleted.\n";
              }
            } else {
              o.exit_code = 0;
            }
          }
          done(o);
        });
    std::promise<void> started;
    lan_->start([&] { started.set_value(); });
    started.get_future().get();
  }
  void stop() {
    std::promise<void> stopped;
    lan_->stop([&] { stopped.set_value(); });
    stopped.get_future().get();
  }
  Json::Value status() {
    std::promise<Json::Value> p;
    lan_->status([&](Json::Value v) { p.set_value(v); });
    return p.get_future().get();
  }
  std::vector<std::string> commands() {
    std::lock_guard lock(mutex_);
    return commands_;
  }
  std::size_t count(const std::string& prefix) {
    std::size_t n = 0;
    for (const auto& c : commands()) n += c.rfind(prefix, 0) == 0;
    return n;
  }
  std::string last_script() {
    std::lock_guard lock(mutex_);
    return scripts_.empty() ? "" : scripts_.back();
  }
  std::string knob(const std::string& name) {
    std::lock_guard lock(mutex_);
    return knobs_[name];
  }
  void set_knob(const std::string& name, const std::string& value) {
    std::lock_guard lock(mutex_);
    knobs_[name] = value;
  }
  // The daemon's restart: a new LanShare on the same store.
  void restart(const std::vector<std::string>& lan, bool clean) {
    if (clean) stop();
    lan_.reset();
    {
      std::lock_guard lock(mutex_);
      commands_.clear();
    }
    start(lan);
  }

  test::TempDir dir_;
  test::RecordingLogger log_;
  Schema schema_;
  std::unique_ptr<ConfigHolder> config_;
  std::unique_ptr<Store> store_;
  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_{
      io_.get_executor()};
  std::thread thread_;
  std::mutex mutex_;
  std::vector<std::string> commands_, scripts_;
  std::map<std::string, std::string> knobs_{{"net.ipv4.ip_forward", "0"},
                                            {"net.ipv6.conf.all.forwarding", "0"}};
  bool conntrack_ = true;
  std::unique_ptr<LanShare> lan_;
};

TEST_F(LanShareTest, WithoutLanItOnlyRemovesALeftoverTableAndTouchesNoKnob) {
  start({});
  EXPECT_EQ(last_script(), "table inet mnigs_lan\ndelete table inet mnigs_lan\n");
  EXPECT_EQ(count("sysctl"), 0u);
  lan_->gateway_active("10.77.1.1");
  lan_->gateway_active("10.77.2.1");
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(count("conntrack"), 0u);
}

TEST_F(LanShareTest, TurnsOnForwardingOfItsFamilyAndBackOffAtStop) {
  start({"192.168.77.0/24"});
  EXPECT_NE(last_script().find("ip saddr @lan4"), std::string::npos);
  EXPECT_EQ(knob("net.ipv4.ip_forward"), "1");
  EXPECT_EQ(count("sysctl -w net.ipv6"), 0u);  // no IPv6 prefix
  EXPECT_EQ(status()["prefixes"][0].asString(), "192.168.77.0/24");
  stop();
  EXPECT_EQ(knob("net.ipv4.ip_forward"), "0");
  EXPECT_EQ(last_script(), "table inet mnigs_lan\ndelete table inet mnigs_lan\n");
}

TEST_F(LanShareTest, ForwardingThatWasOnStaysOn) {
  set_knob("net.ipv4.ip_forward", "1");
  start({"192.168.77.0/24"});
  EXPECT_EQ(count("sysctl -w"), 0u);
  stop();
  EXPECT_EQ(count("sysctl -w"), 0u);
  EXPECT_EQ(knob("net.ipv4.ip_forward"), "1");
}

TEST_F(LanShareTest, AfterACrashTheNextStartTurnsOffWhatItTurnedOn) {
  start({"192.168.77.0/24", "fd77::/64"});
  EXPECT_EQ(knob("net.ipv4.ip_forward"), "1");
  EXPECT_EQ(knob("net.ipv6.conf.all.forwarding"), "1");
  restart({}, false);  // no stop: kill -9, and subscriber.lan emptied meanwhile
  EXPECT_EQ(knob("net.ipv4.ip_forward"), "0");
  EXPECT_EQ(knob("net.ipv6.conf.all.forwarding"), "0");
}

TEST_F(LanShareTest, ASwitchMarksNewConnectionsThenDeletesTheOldGatewaysOnes) {
  start({"192.168.77.0/24"});
  EXPECT_NE(last_script().find("or 0x01000000 masquerade"), std::string::npos);
  lan_->gateway_active("10.77.1.1");  // the first gateway: nothing to delete
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(count("conntrack"), 0u);
  lan_->gateway_active("10.77.1.1");  // the same one again (a renewal, a resume)
  lan_->gateway_active("10.77.2.1");
  ASSERT_TRUE(eventually([&] { return count("conntrack") == 2; }));
  const auto c = commands();
  EXPECT_NE(std::find(c.begin(), c.end(), "conntrack -D -f ipv4 --mark 0x01000000/0x0f000000"),
            c.end());
  EXPECT_NE(std::find(c.begin(), c.end(), "conntrack -D -f ipv6 --mark 0x01000000/0x0f000000"),
            c.end());
  // The table with the new mark came before the deletions.
  std::size_t nft = 0, first_conntrack = 0;
  for (std::size_t i = 0; i < c.size(); ++i) {
    if (c[i].rfind("nft", 0) == 0) nft = i;
    if (c[i].rfind("conntrack", 0) == 0 && !first_conntrack) first_conntrack = i;
  }
  EXPECT_LT(nft, first_conntrack);
  EXPECT_NE(last_script().find("or 0x02000000 masquerade"), std::string::npos);
  ASSERT_TRUE(eventually([&] { return status()["flushed"].isInt64(); }));
  EXPECT_EQ(status()["flushed"].asInt64(), 2);
  EXPECT_EQ(status()["generation"].asUInt(), 2u);
  EXPECT_EQ(status()["error"].asString(), "");
}

TEST_F(LanShareTest, ARestartKeepsTheGatewayAndGeneration) {
  start({"192.168.77.0/24"});
  lan_->gateway_active("10.77.1.1");
  lan_->gateway_active("10.77.2.1");
  ASSERT_TRUE(eventually([&] { return count("conntrack") == 2; }));
  restart({"192.168.77.0/24"}, true);
  // The same mark as before, so the connections of the gateway it resumes
  // are its own and stay.
  EXPECT_NE(last_script().find("or 0x02000000 masquerade"), std::string::npos);
  lan_->gateway_active("10.77.2.1");
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(count("conntrack"), 0u);
}

TEST_F(LanShareTest, WithoutConntrackTheSwitchStillWorksAndStatusSaysWhy) {
  conntrack_ = false;
  start({"192.168.77.0/24"});
  lan_->gateway_active("10.77.1.1");
  lan_->gateway_active("10.77.2.1");
  ASSERT_TRUE(eventually([&] { return !status()["error"].asString().empty(); }));
  const std::string error = status()["error"].asString();
  EXPECT_NE(error.find("conntrack"), std::string::npos) << error;
  EXPECT_NE(error.find("not deleted at once"), std::string::npos) << error;
  EXPECT_NE(last_script().find("or 0x02000000 masquerade"), std::string::npos);
}

// A live change replaces the table and turns on what the new prefixes need,
// but turns nothing off until stop: a gateway tunnel on the same node may
// rely on forwarding by then.
TEST_F(LanShareTest, ALiveChangeReplacesTheTableAndTurnsKnobsOffOnlyAtStop) {
  start({"192.168.77.0/24"});
  configure({"fd77::/64"});
  lan_->config_changed();
  ASSERT_TRUE(eventually([&] { return knob("net.ipv6.conf.all.forwarding") == "1"; }));
  EXPECT_EQ(last_script().find("lan4"), std::string::npos);
  EXPECT_NE(last_script().find("ip6 saddr @lan6"), std::string::npos);
  EXPECT_EQ(knob("net.ipv4.ip_forward"), "1");
  stop();
  EXPECT_EQ(knob("net.ipv4.ip_forward"), "0");
  EXPECT_EQ(knob("net.ipv6.conf.all.forwarding"), "0");
}

}  // namespace
}  // namespace mnigs
