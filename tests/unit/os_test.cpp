// core/os: running commands without a shell, the clock and timers the core
// schedules on (the real one, and the hand-moved one tests use, held to the
// same contract), and the host's interface addresses.
#include "os/clock.hpp"
#include "os/command_runner.hpp"
#include "os/interfaces.hpp"

#include <manual_clock.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <boost/asio/error.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/strand.hpp>

#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace mnigs {
namespace {

using namespace std::chrono_literals;

// --- commands ---

TEST(CommandRunner, CapturesOutputFeedsInputAndReportsExitCodes) {
  os::Command c;
  c.argv = {"sh", "-c", "cat; echo err >&2; exit 4"};
  c.input = "from stdin\n";
  auto r = os::run_command(c);
  EXPECT_EQ(r.exit_code, 4);
  EXPECT_EQ(r.out, "from stdin\n");
  EXPECT_EQ(r.err, "err\n");
  EXPECT_FALSE(r.timed_out);
  os::Command missing;
  missing.argv = {"/nonexistent/tool"};
  EXPECT_EQ(os::run_command(missing).exit_code, 127);
}

TEST(CommandRunner, ArgumentsReachTheCommandAsTheyAreWithoutAShell) {
  os::Command c;
  c.argv = {"printf", "%s|", "a b", "$HOME", "; echo injected", "*"};
  auto r = os::run_command(c);
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out, "a b|$HOME|; echo injected|*|");
}

TEST(CommandRunner, EnvironmentIsAddedAndAnEmptyCommandIsRefused) {
  os::Command c;
  c.argv = {"sh", "-c", "printf '%s' \"$MNIGS_TEST_VALUE\""};
  c.env = {{"MNIGS_TEST_VALUE", "42 and more"}};
  EXPECT_EQ(os::run_command(c).out, "42 and more");
  auto empty = os::run_command(os::Command{});
  EXPECT_EQ(empty.exit_code, -1);
  EXPECT_EQ(empty.err, "empty command");
}

// A command gets stdin, stdout and stderr and no other descriptor of the
// daemon's, even one opened without O_CLOEXEC (as a listening socket may
// be): a daemon it starts must not keep them after mnigsd is gone.
TEST(CommandRunner, ACommandInheritsOnlyItsThreeStandardDescriptors) {
  const int leaked = ::open("/dev/null", O_RDONLY);  // no O_CLOEXEC
  ASSERT_GE(leaked, 3);
  os::Command c;
  c.argv = {"sh", "-c", "ls /proc/$$/fd"};
  auto r = os::run_command(c);
  ::close(leaked);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "0\n1\n2\n");
}

TEST(CommandRunner, ACommandPastItsDeadlineIsKilled) {
  os::Command c;
  c.argv = {"sleep", "30"};
  c.timeout = 200ms;
  const auto t0 = std::chrono::steady_clock::now();
  auto r = os::run_command(c);
  EXPECT_TRUE(r.timed_out);
  EXPECT_EQ(r.exit_code, 128 + 9);  // SIGKILL
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);
}

TEST(CommandRunner, RunsQueuedCommandsOneAtATimeInOrder) {
  os::CommandRunner runner;
  std::mutex mutex;
  std::vector<std::string> outs;
  for (const char* word : {"one", "two", "three"}) {
    os::Command c;
    c.argv = {"sh", "-c", std::string("sleep 0.05; echo ") + word};
    runner.submit(c, [&](CommandOutcome o) {
      std::lock_guard lock(mutex);
      outs.push_back(o.out);
    });
  }
  runner.drain();
  std::lock_guard lock(mutex);
  EXPECT_EQ(outs, (std::vector<std::string>{"one\n", "two\n", "three\n"}));
}

// --- clocks and timers ---

TEST(RealClock, ReadsTheSystemClocks) {
  auto& clock = os::real_clock();
  const auto before = std::chrono::steady_clock::now();
  const auto now = clock.now();
  EXPECT_GE(now, before);
  EXPECT_LE(now, std::chrono::steady_clock::now());
  const std::int64_t wall = std::chrono::duration_cast<std::chrono::seconds>(
                                std::chrono::system_clock::now().time_since_epoch())
                                .count();
  EXPECT_LE(std::abs(clock.unix_seconds() - wall), 1);
}

// What the core relies on from a timer, checked on the real clock and on the
// manual one alike, so that what passes on the manual clock holds in the daemon.
class TimerContract : public ::testing::TestWithParam<bool> {
 protected:
  bool manual() const { return GetParam(); }
  os::Clock& clock() { return manual() ? static_cast<os::Clock&>(manual_) : os::real_clock(); }
  // Lets `d` pass: moves the manual clock, or sleeps on the real one.
  void pass(std::chrono::milliseconds d) {
    if (manual()) manual_.advance(d);
    else std::this_thread::sleep_for(d);
  }
  // Runs the handlers due by now.
  void run() {
    io_.restart();
    io_.poll();
  }
  // Runs handlers for up to `d` of real time, until `done`.
  template <class Pred>
  bool run_until(Pred done, std::chrono::milliseconds d = 2000ms) {
    const auto end = std::chrono::steady_clock::now() + d;
    while (!done() && std::chrono::steady_clock::now() < end) {
      run();
      std::this_thread::sleep_for(1ms);
    }
    return done();
  }

  testing::ManualClock manual_;
  boost::asio::io_context io_;
  boost::asio::strand<boost::asio::io_context::executor_type> strand_{
      boost::asio::make_strand(io_)};
};

// Counts a handler's runs; keeps the last error and when, on `clock`, it ran.
struct Fired {
  explicit Fired(os::Clock& clock) : clock(clock) {}
  os::Clock& clock;
  int times = 0;
  boost::system::error_code ec;
  std::chrono::steady_clock::time_point at{};
  os::Timer::Handler handler() {
    return [this](const boost::system::error_code& e) {
      ++times;
      ec = e;
      at = clock.now();
    };
  }
};

TEST_P(TimerContract, FiresOnceAtItsExpiryNotBefore) {
  auto timer = clock().make_timer(strand_);
  Fired f(clock());
  const auto expiry = clock().now() + 100ms;
  timer->expires_at(expiry);
  timer->async_wait(f.handler());
  run();
  pass(50ms);
  run();
  if (f.times) {  // the real clock may have slept longer
    EXPECT_GE(f.at, expiry);
  }
  pass(50ms);
  ASSERT_TRUE(run_until([&] { return f.times > 0; }));
  EXPECT_FALSE(f.ec);
  EXPECT_GE(f.at, expiry);
  pass(100ms);
  run();
  EXPECT_EQ(f.times, 1);
}

TEST_P(TimerContract, AnExpiryInThePastFiresAtOnce) {
  auto timer = clock().make_timer(strand_);
  Fired f(clock());
  timer->expires_at(clock().now() - 1s);
  timer->async_wait(f.handler());
  ASSERT_TRUE(run_until([&] { return f.times > 0; }, 500ms));
  EXPECT_FALSE(f.ec);
}

TEST_P(TimerContract, CancelAbortsTheWait) {
  auto timer = clock().make_timer(strand_);
  Fired f(clock());
  timer->expires_after(100ms);
  timer->async_wait(f.handler());
  timer->cancel();
  ASSERT_TRUE(run_until([&] { return f.times > 0; }));
  EXPECT_EQ(f.ec, boost::asio::error::operation_aborted);
  pass(200ms);
  run();
  EXPECT_EQ(f.times, 1);
}

TEST_P(TimerContract, SettingTheExpiryAgainAbortsTheWaitBefore) {
  auto timer = clock().make_timer(strand_);
  Fired first(clock()), second(clock());
  timer->expires_after(100ms);
  timer->async_wait(first.handler());
  const auto expiry = clock().now() + 300ms;
  timer->expires_at(expiry);
  timer->async_wait(second.handler());
  ASSERT_TRUE(run_until([&] { return first.times > 0; }));
  EXPECT_EQ(first.ec, boost::asio::error::operation_aborted);
  pass(150ms);
  run();
  if (second.times) {
    EXPECT_GE(second.at, expiry);
  }
  pass(150ms);
  ASSERT_TRUE(run_until([&] { return second.times > 0; }));
  EXPECT_FALSE(second.ec);
  EXPECT_GE(second.at, expiry);
  EXPECT_EQ(first.times, 1);
}

TEST_P(TimerContract, TheClockMovesWithTime) {
  const auto t0 = clock().now();
  pass(1100ms);
  EXPECT_GE(clock().now() - t0, 1100ms);
  const std::int64_t s0 = clock().unix_seconds();
  pass(1000ms);
  EXPECT_GE(clock().unix_seconds() - s0, 1);
}

INSTANTIATE_TEST_SUITE_P(RealAndManual, TimerContract, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? "Manual" : "Real"; });

TEST(ManualClock, FiresWhatIsDueInOrderAndCountsIt) {
  testing::ManualClock clock;
  boost::asio::io_context io;
  std::vector<int> order;
  auto a = clock.make_timer(io.get_executor());
  auto b = clock.make_timer(io.get_executor());
  auto c = clock.make_timer(io.get_executor());
  b->expires_after(2s);
  b->async_wait([&](const auto&) { order.push_back(2); });
  a->expires_after(1s);
  a->async_wait([&](const auto&) { order.push_back(1); });
  c->expires_after(10s);
  c->async_wait([&](const auto&) { order.push_back(10); });
  EXPECT_EQ(clock.waiting(), 3u);
  EXPECT_DOUBLE_EQ(clock.seconds_to_next(), 1.0);
  EXPECT_EQ(clock.advance(5s), 2u);
  io.run();
  EXPECT_EQ(order, (std::vector<int>{1, 2}));
  EXPECT_EQ(clock.waiting(), 1u);
  EXPECT_DOUBLE_EQ(clock.seconds_to_next(), 5.0);
}

// --- interfaces ---

TEST(Interfaces, RoutableAddressesLeaveOutLoopbackAndLinkLocal) {
  bool v6 = false;
  for (const auto& text : os::routable_addresses()) {
    boost::system::error_code ec;
    auto a = boost::asio::ip::make_address(text, ec);
    ASSERT_FALSE(ec) << text;
    EXPECT_FALSE(a.is_loopback()) << text;
    if (a.is_v4()) {
      EXPECT_NE(a.to_v4().to_uint() >> 16, 0xa9feu) << text;  // 169.254/16
    } else {
      EXPECT_FALSE(a.to_v6().is_link_local()) << text;
      v6 = true;
    }
  }
  // The two agree: IPv6 is routable exactly when a routable IPv6 address is listed.
  EXPECT_EQ(os::has_routable_ipv6(), v6);
}

}  // namespace
}  // namespace mnigs
