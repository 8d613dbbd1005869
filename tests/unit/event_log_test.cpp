// The event log behind the `events` method: each event once and in order,
// a waiting call answered by the next event or its time limit, the bounds
// (kept events, waiting calls, data size), and a seq from an earlier run.
#include "events/event_log.hpp"

#include <gtest/gtest.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <future>
#include <thread>

namespace mnigs {
namespace {

using namespace std::chrono_literals;

class EventLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    log_ = std::make_unique<EventLog>(io_, bus_, [] { return std::int64_t{1'800'000'000}; });
    thread_ = std::thread([this] { io_.run(); });
  }
  void TearDown() override {
    log_->stop();
    // Waiting calls are answered before the io_context stops.
    std::promise<void> drained;
    boost::asio::post(io_, [&] { drained.set_value(); });
    drained.get_future().wait();
    work_.reset();
    io_.stop();
    thread_.join();
    log_.reset();
  }

  std::future<Json::Value> query(std::uint64_t after, std::chrono::seconds wait) {
    auto p = std::make_shared<std::promise<Json::Value>>();
    log_->query(after, wait, [p](Json::Value v) { p->set_value(std::move(v)); });
    return p->get_future();
  }
  Json::Value now(std::uint64_t after) { return query(after, 0s).get(); }

  // The bus posts to the log's strand at once, and a query after it queues
  // behind: it sees the event.
  void publish(const std::string& topic, Json::Value data = Json::Value(Json::objectValue)) {
    bus_.publish(topic, std::move(data));
  }

  boost::asio::io_context io_;
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_{
      io_.get_executor()};
  CoreEventBus bus_{io_.get_executor()};
  std::unique_ptr<EventLog> log_;
  std::thread thread_;
};

TEST_F(EventLogTest, EachEventOnceAndInOrder) {
  auto empty = now(0);
  EXPECT_EQ(empty["events"].size(), 0u);
  EXPECT_EQ(empty["next"], 0);
  EXPECT_EQ(empty["missed"], false);
  EXPECT_EQ(empty["time"], 1'800'000'000);

  Json::Value d(Json::objectValue);
  d["probed"] = 3;
  publish("scan.started");
  publish("scan.progress", d);
  publish("scan.node");  // left out: one per node
  publish("scan.finished");
  auto all = now(0);
  ASSERT_EQ(all["events"].size(), 3u);
  EXPECT_EQ(all["events"][0]["topic"], "scan.started");
  EXPECT_EQ(all["events"][0]["seq"], 1);
  EXPECT_EQ(all["events"][0]["time"], 1'800'000'000);
  EXPECT_EQ(all["events"][1]["topic"], "scan.progress");
  EXPECT_EQ(all["events"][1]["data"]["probed"], 3);
  EXPECT_EQ(all["events"][2]["topic"], "scan.finished");
  EXPECT_EQ(all["next"], 3);
  auto rest = now(1);
  ASSERT_EQ(rest["events"].size(), 2u);
  EXPECT_EQ(rest["events"][0]["seq"], 2);
  EXPECT_EQ(now(3)["events"].size(), 0u);
  EXPECT_EQ(now(3)["next"], 3);
}

TEST_F(EventLogTest, AWaitingCallIsAnsweredByTheNextEvent) {
  publish("scan.started");
  auto waiting = query(1, 25s);
  EXPECT_EQ(waiting.wait_for(50ms), std::future_status::timeout);
  bus_.publish("subscriber.up", Json::Value(Json::objectValue));
  ASSERT_EQ(waiting.wait_for(5s), std::future_status::ready);
  auto r = waiting.get();
  ASSERT_EQ(r["events"].size(), 1u);
  EXPECT_EQ(r["events"][0]["topic"], "subscriber.up");
  EXPECT_EQ(r["next"], 2);
}

TEST_F(EventLogTest, AWaitingCallEndsEmptyAfterItsWait) {
  auto waiting = query(0, 1s);
  EXPECT_EQ(waiting.wait_for(300ms), std::future_status::timeout);
  ASSERT_EQ(waiting.wait_for(5s), std::future_status::ready);
  auto r = waiting.get();
  EXPECT_EQ(r["events"].size(), 0u);
  EXPECT_EQ(r["next"], 0);
}

TEST_F(EventLogTest, WaitingCallsAreBoundedTheOldestMakesRoomAndStopAnswersThem) {
  std::vector<std::future<Json::Value>> waiting;
  for (std::size_t i = 0; i < EventLog::kMaxWaiters; ++i) waiting.push_back(query(0, 25s));
  auto extra = query(0, 25s);
  // The call waiting longest (a page reloaded meanwhile, say) is answered.
  ASSERT_EQ(waiting[0].wait_for(5s), std::future_status::ready);
  EXPECT_EQ(waiting[0].get()["events"].size(), 0u);
  EXPECT_EQ(extra.wait_for(50ms), std::future_status::timeout) << "the newest waits";
  for (std::size_t i = 1; i < waiting.size(); ++i)
    EXPECT_EQ(waiting[i].wait_for(1ms), std::future_status::timeout) << i;
  log_->stop();
  for (std::size_t i = 1; i < waiting.size(); ++i)
    ASSERT_EQ(waiting[i].wait_for(5s), std::future_status::ready);
  ASSERT_EQ(extra.wait_for(5s), std::future_status::ready);
}

TEST_F(EventLogTest, EachRunOfTheDaemonHasItsOwnName) {
  const std::string run = now(0)["run"].asString();
  EXPECT_EQ(run.size(), 16u);
  EXPECT_EQ(now(0)["run"], run);
  EventLog other(io_, bus_, [] { return std::int64_t{0}; });
  std::promise<Json::Value> p;
  other.query(0, 0s, [&p](Json::Value v) { p.set_value(std::move(v)); });
  EXPECT_NE(p.get_future().get()["run"].asString(), run);
}

TEST_F(EventLogTest, OnlyTheLastEventsAreKeptAndAGapIsSaid) {
  for (std::size_t i = 0; i < EventLog::kCapacity + 20; ++i)
    bus_.publish("config.changed", Json::UInt64{i});
  publish("scan.finished");
  auto first = now(0);
  EXPECT_EQ(first["missed"], true);
  ASSERT_EQ(first["events"].size(), EventLog::kMaxPerAnswer);
  EXPECT_EQ(first["events"][0]["seq"], 22);  // 521 events, the last 500 kept
  auto later = now(first["next"].asUInt64());
  EXPECT_EQ(later["missed"], false);
  EXPECT_EQ(later["events"][0]["seq"], 222);
  EXPECT_EQ(now(521)["missed"], false);
}

TEST_F(EventLogTest, ASeqFromAnEarlierRunStartsAfresh) {
  publish("scan.started");
  publish("scan.finished");
  // The web UI saw seq 900 from the mnigsd before a restart: it must not
  // wait for seq 901, it gets all there is and is told it missed some.
  auto r = query(900, 25s);
  ASSERT_EQ(r.wait_for(5s), std::future_status::ready);
  auto v = r.get();
  EXPECT_EQ(v["missed"], true);
  EXPECT_EQ(v["events"].size(), 2u);
  EXPECT_EQ(v["next"], 2);
}

TEST_F(EventLogTest, LargeDataIsReplacedBySayingSo) {
  publish("plugin.failed", Json::Value(std::string(EventLog::kMaxDataBytes + 1, 'x')));
  auto r = now(0);
  ASSERT_EQ(r["events"].size(), 1u);
  EXPECT_EQ(r["events"][0]["data"]["truncated"], true);
}

}  // namespace
}  // namespace mnigs
