// Time as the core's schedules see it: a monotonic clock, the wall clock in
// unix seconds, and one-shot timers on the monotonic clock. The daemon runs
// on real_clock() (std::chrono::steady_clock, system_clock and
// boost::asio::steady_timer); unit tests pass a clock they move by hand
// (tests/support/manual_clock.hpp), so that renewals and scan schedules are
// tested without waiting for them.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/system/error_code.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>

namespace mnigs::os {

// A one-shot timer, used as boost::asio::steady_timer is: set the expiry, then
// async_wait. The handler runs once, on the timer's executor: with success at
// the expiry, with operation_aborted when cancelled or when the expiry is set
// again first. Not thread-safe: use it on its executor (a strand).
class Timer {
 public:
  using Handler = std::function<void(const boost::system::error_code&)>;
  virtual ~Timer() = default;
  virtual void expires_at(std::chrono::steady_clock::time_point at) = 0;
  virtual void expires_after(std::chrono::steady_clock::duration in) = 0;
  virtual void async_wait(Handler handler) = 0;
  virtual void cancel() = 0;
};

class Clock {
 public:
  virtual ~Clock() = default;
  // Monotonic: what timers expire on. Thread-safe.
  virtual std::chrono::steady_clock::time_point now() const = 0;
  // Seconds since 1970 (UTC), for what is stored and shown. Thread-safe.
  virtual std::int64_t unix_seconds() const = 0;
  // A timer whose handlers run on `executor`.
  virtual std::unique_ptr<Timer> make_timer(boost::asio::any_io_executor executor) = 0;
};

// The real clocks and boost::asio::steady_timer. Lives as long as the process.
Clock& real_clock();

}  // namespace mnigs::os
