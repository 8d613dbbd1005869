#include "os/clock.hpp"

#include <boost/asio/steady_timer.hpp>

namespace mnigs::os {

namespace {

class SteadyTimer final : public Timer {
 public:
  explicit SteadyTimer(boost::asio::any_io_executor executor) : timer_(std::move(executor)) {}
  void expires_at(std::chrono::steady_clock::time_point at) override { timer_.expires_at(at); }
  void expires_after(std::chrono::steady_clock::duration in) override {
    timer_.expires_after(in);
  }
  void async_wait(Handler handler) override { timer_.async_wait(std::move(handler)); }
  void cancel() override { timer_.cancel(); }

 private:
  boost::asio::steady_timer timer_;
};

class RealClock final : public Clock {
 public:
  std::chrono::steady_clock::time_point now() const override {
    return std::chrono::steady_clock::now();
  }
  std::int64_t unix_seconds() const override {
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
  std::unique_ptr<Timer> make_timer(boost::asio::any_io_executor executor) override {
    return std::make_unique<SteadyTimer>(std::move(executor));
  }
};

}  // namespace

Clock& real_clock() {
  static RealClock clock;
  return clock;
}

}  // namespace mnigs::os
