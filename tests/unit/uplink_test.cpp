// The gateway's uplink check on a hand-moved clock: targets are real TCP
// ports on loopback, one listening (answers) or closed (refuses at once).
// Down after two failed rounds, up again only after uplinkStable seconds of
// answered rounds; no targets means up and unchecked; what cannot be parsed
// is listed, and targets none of which can be read check nothing.
#include "config/schema.hpp"
#include "gateway/uplink.hpp"
#include "test_util.hpp"

#include <manual_clock.hpp>

#include <gtest/gtest.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <future>
#include <mutex>
#include <thread>

namespace mnigs {
namespace {

using namespace std::chrono_literals;
using boost::asio::ip::tcp;
using test::eventually;

class UplinkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    declare_core_keys(schema_);
    thread_ = std::thread([this] { io_.run(); });
  }
  void TearDown() override {
    if (check_) check_->stop();
    work_.reset();
    thread_.join();
  }
  // Starts the check with these targets, uplinkStable 2 s, a round a second.
  void start(const std::vector<std::string>& targets) {
    Json::Value values = defaults(schema_);
    Json::Value list(Json::arrayValue);
    for (const auto& t : targets) list.append(t);
    values["gateway"]["uplinkCheck"] = list;
    values["gateway"]["uplinkStable"] = 2;
    values["gateway"]["uplinkInterval"] = 1000;
    config_ = std::make_unique<ConfigHolder>(std::make_shared<const Config>("", values));
    check_ = std::make_unique<UplinkCheck>(io_, *config_, clock_, [this](bool up) {
      std::lock_guard lock(mutex_);
      changes_.push_back(up);
    });
    check_->start();
  }
  Json::Value status() {
    std::promise<Json::Value> p;
    check_->status([&](Json::Value v) { p.set_value(v); });
    return p.get_future().get();
  }
  std::vector<bool> changes() {
    std::lock_guard lock(mutex_);
    return changes_;
  }
  // One check interval (1 s) on the clock, then time for the round's
  // connections to finish.
  void next_round() {
    ASSERT_TRUE(eventually([&] { return clock_.waiting() > 0; }));
    clock_.advance(1s);
    std::this_thread::sleep_for(50ms);
  }
  std::string target() const {
    return "127.0.0.1:" + std::to_string(listener_.local_endpoint().port());
  }

  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_{
      io_.get_executor()};
  boost::asio::io_context own_io_;
  tcp::acceptor listener_{own_io_, tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), 0)};
  Schema schema_;
  testing::ManualClock clock_;
  std::unique_ptr<ConfigHolder> config_;
  std::unique_ptr<UplinkCheck> check_;
  std::mutex mutex_;
  std::vector<bool> changes_;
  std::thread thread_;
};

TEST_F(UplinkTest, WithoutTargetsTheUplinkIsUpAndUnchecked) {
  start({});
  EXPECT_TRUE(eventually([&] { return status()["state"] == "unchecked"; }));
  EXPECT_TRUE(check_->up());
  EXPECT_EQ(clock_.waiting(), 0u) << "nothing scheduled";
}

TEST_F(UplinkTest, DownAfterTwoFailedRoundsUpAfterStableAnswers) {
  const std::string t = target();
  start({t});
  next_round();
  EXPECT_TRUE(eventually([&] { return status()["state"] == "up"; }));

  listener_.close();  // the port now refuses
  next_round();
  EXPECT_TRUE(check_->up()) << "one failed round is not down";
  next_round();
  ASSERT_TRUE(eventually([&] { return !check_->up(); })) << status().toStyledString();
  EXPECT_EQ(status()["state"], "down");
  EXPECT_NE(status()["lastFailure"].asString().find(t), std::string::npos)
      << status().toStyledString();
  EXPECT_EQ(changes(), std::vector<bool>{false});

  // Back: answered rounds for 2 s (uplinkStable) before it is up.
  tcp::acceptor again(own_io_, tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"),
                                             static_cast<unsigned short>(std::stoi(t.substr(10)))));
  next_round();
  next_round();
  EXPECT_FALSE(check_->up()) << "answered for 1 s only";
  next_round();
  ASSERT_TRUE(eventually([&] { return check_->up(); })) << status().toStyledString();
  EXPECT_EQ(changes(), (std::vector<bool>{false, true}));
}

TEST_F(UplinkTest, OneAnsweringTargetIsEnough) {
  start({"127.0.0.1:1", target()});  // port 1 refuses
  for (int i = 0; i < 3; ++i) next_round();
  EXPECT_TRUE(check_->up());
  EXPECT_TRUE(changes().empty());
}

TEST_F(UplinkTest, TargetsThatCannotBeParsedAreListedAndCheckNothing) {
  start({"no port here", "[::1"});
  next_round();
  next_round();
  ASSERT_TRUE(eventually([&] { return status()["invalid"].size() == 2; }));
  Json::Value s = status();
  EXPECT_EQ(s["invalid"][0].asString().rfind("no port here: ", 0), 0u) << s.toStyledString();
  EXPECT_EQ(s["state"], "unchecked") << "a typo must not withdraw the gateway";
  EXPECT_NE(s["lastFailure"].asString().find("not checked"), std::string::npos)
      << s.toStyledString();
  EXPECT_TRUE(check_->up());
  EXPECT_TRUE(changes().empty());
}

}  // namespace
}  // namespace mnigs
