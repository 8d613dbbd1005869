// The data plane outlives a handler that throws: it is counted, its message
// kept for status, logged at a bounded rate, and the next handler runs.
#include "dataplane.hpp"

#include <plugin_fakes.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <stdexcept>
#include <string>

namespace mnigs::websocket {
namespace {

using namespace std::chrono_literals;

class LockedLogger : public testing::FakeLogger {
 public:
  void write(LogLevel level, std::string_view message) override {
    std::lock_guard lock(mutex_);
    FakeLogger::write(level, message);
  }
  std::size_t count(std::string_view text) {
    std::lock_guard lock(mutex_);
    std::size_t n = 0;
    for (const auto& l : lines) n += l.find(text) != std::string::npos;
    return n;
  }

 private:
  std::mutex mutex_;
};

// Waits until everything posted before has run.
void drain(DataPlane& plane) {
  std::promise<void> ran;
  plane.post([&ran] { ran.set_value(); });
  ASSERT_EQ(ran.get_future().wait_for(5s), std::future_status::ready)
      << "the data plane stopped running handlers";
}

TEST(DataPlane, AHandlerThatThrowsIsCountedAndTheNextOneRuns) {
  LockedLogger log;
  DataPlane plane(log, "websocket");
  EXPECT_EQ(plane.errors(), 0u);
  plane.post([] { throw std::runtime_error("a frame no check foresaw"); });
  drain(plane);
  EXPECT_EQ(plane.errors(), 1u);
  EXPECT_EQ(plane.last_error(), "a frame no check foresaw");
  EXPECT_EQ(log.count("data plane handler failed: a frame no check foresaw"), 1u);

  plane.post([] { throw 42; });  // not even an exception
  drain(plane);
  EXPECT_EQ(plane.errors(), 2u);
  EXPECT_EQ(plane.last_error(), "an unknown exception");
}

TEST(DataPlane, AStormOfFailuresIsLoggedAtABoundedRate) {
  LockedLogger log;
  DataPlane plane(log, "websocket");
  for (int i = 0; i < 1000; ++i) plane.post([] { throw std::runtime_error("bad"); });
  drain(plane);
  EXPECT_EQ(plane.errors(), 1000u);
  // Four lines per 10 s, the rest counted in the next line: the storm took
  // far less than one window (two if the machine stalled).
  EXPECT_GE(log.count("data plane handler failed"), 4u);
  EXPECT_LE(log.count("data plane handler failed"), 8u);
}

}  // namespace
}  // namespace mnigs::websocket
