// The subscriber's connection over the last 15 minutes, sampled every 5 s:
// what the web UI's charts draw as soon as a page opens
// (`connectionHistory`). Bounded: kSamples, each a handful of numbers.
#pragma once

#include <json/value.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>

namespace mnigs {

class ConnectionHistory {
 public:
  static constexpr std::chrono::seconds kInterval{5};
  static constexpr std::size_t kSamples = 180;  // 15 minutes

  // `describe`: ConnectionManager::describe (the subscriber part of
  // listSessions). `wall`: seconds since the epoch. `interval`: kInterval
  // but in tests.
  using Describe = std::function<void(std::function<void(Json::Value)>)>;
  ConnectionHistory(boost::asio::io_context& io, Describe describe,
                    std::function<std::int64_t()> wall,
                    std::chrono::milliseconds interval = kInterval);

  void start();
  // No more samples. Call before the io_context stops.
  void stop();

  // {"interval": 5, "samples": [{"time", "state", "gateway", "rttMs"?,
  // "loss"?, "bytesOut"?, "bytesIn"?}...]} oldest first; `done` runs on
  // the io_context.
  void get(std::function<void(Json::Value)> done);

  // One sample from a describe() answer (for tests and the timer).
  static Json::Value sample_of(const Json::Value& subscriber, std::int64_t time);

 private:
  void tick();

  Describe describe_;
  std::function<std::int64_t()> wall_;
  boost::asio::strand<boost::asio::io_context::executor_type> strand_;
  const std::chrono::milliseconds interval_;
  boost::asio::steady_timer timer_;
  std::deque<Json::Value> samples_;
  bool stopped_ = false;
};

}  // namespace mnigs
