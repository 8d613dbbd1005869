// An os::Clock that moves only when the test says so. Timers made on it fire
// in advance(): each one due by then gets its handler posted, with success,
// to its executor, earliest first. What those handlers arm meanwhile waits
// for the next advance(); a wait whose expiry has passed already fires at
// once. Thread-safe: the code under test may run on
// another thread than the one advancing the clock.
//
//   mnigs::testing::ManualClock clock;
//   Scanner scanner(io, config, store, plugins, events, "self", {}, clock);
//   clock.advance(15s);  // the first background scan is due
#pragma once

#include "os/clock.hpp"

#include <boost/asio/error.hpp>
#include <boost/asio/post.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

namespace mnigs::testing {

class ManualClock final : public os::Clock {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;
  using Duration = std::chrono::steady_clock::duration;

  // Starts at `unix_start` seconds on the wall clock and, on the monotonic
  // one, well after its epoch (as a host that has been up for a while).
  explicit ManualClock(std::int64_t unix_start = 1'800'000'000)
      : unix_start_(unix_start), start_(TimePoint{} + std::chrono::hours(1000)), now_(start_) {}

  TimePoint now() const override {
    std::lock_guard lock(mutex_);
    return now_;
  }
  std::int64_t unix_seconds() const override {
    std::lock_guard lock(mutex_);
    return unix_start_ + std::chrono::duration_cast<std::chrono::seconds>(now_ - start_).count();
  }
  std::unique_ptr<os::Timer> make_timer(boost::asio::any_io_executor executor) override {
    return std::make_unique<ManualTimer>(*this, std::move(executor));
  }

  // Moves time forward by `d` and fires the timers due by then. Returns how
  // many fired.
  std::size_t advance(Duration d) {
    std::vector<Wait> due;
    {
      std::lock_guard lock(mutex_);
      now_ += d;
      for (auto it = waits_.begin(); it != waits_.end();) {
        if (it->second.at <= now_) {
          due.push_back(std::move(it->second));
          it = waits_.erase(it);
        } else {
          ++it;
        }
      }
    }
    std::stable_sort(due.begin(), due.end(),
                     [](const Wait& a, const Wait& b) { return a.at < b.at; });
    for (auto& w : due) fire(w, {});
    return due.size();
  }

  // Timers waiting, and the earliest of their expiries.
  std::size_t waiting() const {
    std::lock_guard lock(mutex_);
    return waits_.size();
  }
  std::optional<TimePoint> next_expiry() const {
    std::lock_guard lock(mutex_);
    std::optional<TimePoint> next;
    for (const auto& [id, w] : waits_)
      if (!next || w.at < *next) next = w.at;
    return next;
  }
  // Seconds from now to the earliest expiry; -1 when nothing waits.
  double seconds_to_next() const {
    auto next = next_expiry();
    if (!next) return -1;
    return std::chrono::duration<double>(*next - now()).count();
  }

 private:
  struct Wait {
    TimePoint at;
    boost::asio::any_io_executor executor;
    os::Timer::Handler handler;
  };

  class ManualTimer final : public os::Timer {
   public:
    ManualTimer(ManualClock& clock, boost::asio::any_io_executor executor)
        : clock_(clock), executor_(std::move(executor)) {}
    ~ManualTimer() override { cancel(); }
    void expires_at(TimePoint at) override {
      cancel();
      at_ = at;
    }
    void expires_after(Duration in) override { expires_at(clock_.now() + in); }
    void async_wait(Handler handler) override {
      Wait w{at_, executor_, std::move(handler)};
      {
        std::lock_guard lock(clock_.mutex_);
        if (at_ > clock_.now_) {
          clock_.waits_.emplace(clock_.next_id_, std::move(w));
          ids_.push_back(clock_.next_id_++);
          return;
        }
      }
      fire(w, {});  // due already: at once, as steady_timer does
    }
    void cancel() override {
      std::vector<Wait> aborted;
      {
        std::lock_guard lock(clock_.mutex_);
        for (auto id : ids_) {
          auto it = clock_.waits_.find(id);
          if (it == clock_.waits_.end()) continue;  // fired already
          aborted.push_back(std::move(it->second));
          clock_.waits_.erase(it);
        }
        ids_.clear();
      }
      for (auto& w : aborted) fire(w, boost::asio::error::operation_aborted);
    }

   private:
    ManualClock& clock_;
    boost::asio::any_io_executor executor_;
    TimePoint at_{};
    std::vector<std::uint64_t> ids_;  // its waits, fired or not
  };

  static void fire(Wait& w, boost::system::error_code ec) {
    boost::asio::post(w.executor, [handler = std::move(w.handler), ec] { handler(ec); });
  }

  const std::int64_t unix_start_;
  const TimePoint start_;
  mutable std::mutex mutex_;
  TimePoint now_;
  std::map<std::uint64_t, Wait> waits_;  // by id
  std::uint64_t next_id_ = 1;
};

}  // namespace mnigs::testing
