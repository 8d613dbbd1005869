// The connection history behind `connectionHistory`: what each sample keeps
// of the subscriber's state, and that only the last kSamples are kept.
#include "subscriber/history.hpp"

#include <gtest/gtest.h>
#include <json/reader.h>

#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <future>
#include <thread>

namespace mnigs {
namespace {

using namespace std::chrono_literals;

Json::Value parse(const std::string& text) {
  Json::Value v;
  std::unique_ptr<Json::CharReader> r(Json::CharReaderBuilder().newCharReader());
  EXPECT_TRUE(r->parse(text.data(), text.data() + text.size(), &v, nullptr)) << text;
  return v;
}

TEST(ConnectionHistory, ASampleKeepsStateGatewayHealthAndCountedBytes) {
  auto s = ConnectionHistory::sample_of(
      parse(R"({"state":"connected","connection":{"gatewayAddress":"10.77.3.2",
                "traffic":{"counted":true,"bytesOut":1200,"bytesIn":3400}},
                "health":{"health":"up","loss":0.04,"rttMs":{"median":1.5,"min":1}}})"),
      1'800'000'000);
  EXPECT_EQ(s["time"], 1'800'000'000);
  EXPECT_EQ(s["state"], "connected");
  EXPECT_EQ(s["gateway"], "10.77.3.2");
  EXPECT_EQ(s["rttMs"], 1.5);
  EXPECT_EQ(s["loss"], 0.04);
  EXPECT_EQ(s["bytesOut"], 1200);
  EXPECT_EQ(s["bytesIn"], 3400);

  // Not connected; a tunnel that counts nothing; health of the wrong shape.
  auto idle = ConnectionHistory::sample_of(parse(R"({"state":"idle","connection":null,
                                                     "health":null})"),
                                           5);
  EXPECT_EQ(idle["state"], "idle");
  EXPECT_EQ(idle["gateway"], "");
  EXPECT_FALSE(idle.isMember("rttMs"));
  EXPECT_FALSE(idle.isMember("bytesIn"));
  auto odd = ConnectionHistory::sample_of(
      parse(R"({"state":5,"connection":{"gatewayAddress":[],"traffic":{"counted":false,
                "bytesIn":9}},"health":{"rttMs":"x","loss":"y"}})"),
      5);
  EXPECT_EQ(odd["state"], "");
  EXPECT_EQ(odd["gateway"], "");
  EXPECT_FALSE(odd.isMember("rttMs"));
  EXPECT_FALSE(odd.isMember("loss"));
  EXPECT_FALSE(odd.isMember("bytesIn"));
}

TEST(ConnectionHistory, SamplesOnATimerAndKeepsOnlyTheLast) {
  boost::asio::io_context io;
  auto work = boost::asio::make_work_guard(io);
  std::atomic<int> asked{0};
  ConnectionHistory history(
      io,
      [&](std::function<void(Json::Value)> done) {
        Json::Value v(Json::objectValue);
        v["state"] = "connected";
        done(v);
        ++asked;
      },
      [&] { return std::int64_t{asked.load()}; }, 1ms);
  std::thread t([&] { io.run(); });
  history.start();
  while (asked < static_cast<int>(ConnectionHistory::kSamples) + 20)
    std::this_thread::sleep_for(1ms);
  std::promise<Json::Value> p;
  history.get([&](Json::Value v) { p.set_value(std::move(v)); });
  Json::Value r = p.get_future().get();
  ASSERT_EQ(r["samples"].size(), ConnectionHistory::kSamples);
  // Oldest first, the oldest ones gone.
  EXPECT_GT(r["samples"][0]["time"].asInt64(), 0);
  EXPECT_LT(r["samples"][0]["time"].asInt64(), r["samples"][179]["time"].asInt64());
  history.stop();
  std::promise<void> stopped;
  boost::asio::post(io, [&] { stopped.set_value(); });
  stopped.get_future().wait();
  work.reset();
  io.stop();
  t.join();
}

}  // namespace
}  // namespace mnigs
