// The code a page must give before the laptop takes it: 8 digits from the
// kernel's random source, shown by `mnigs-cli --tether` and the web UI and
// typed on the phone, or carried in the page's URL after '#' (a fragment,
// which browsers never send to a server).
//
// Guessing is slowed down, not rewarded with a new code (which anyone could
// then take away from the user who has it): wrong codes, from all devices
// together, are taken at most `burst` at once and then one every `refill`;
// beyond that no code is checked (busy) until the budget has grown again.
// At 10 a minute, a guesser needs about 10^7 minutes (19 years) on average.
//
// Thread-safe: the server checks codes on the data thread, the plugin
// shows the code on its strand.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>

namespace mnigs::tether {

class Pairing {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr unsigned digits = 8;
  static constexpr double burst = 10;
  static constexpr std::chrono::seconds refill{6};

  Pairing() { renew(); }

  std::string code() const;
  // A fresh code; the old one is refused from now on.
  void renew();

  enum class Check { ok, wrong, busy };
  // Compared in time that does not depend on where the codes differ; busy
  // (not compared) while the budget of wrong codes is spent.
  Check check(std::string_view offered, Clock::time_point now = Clock::now());
  std::uint64_t refused() const;  // wrong codes so far
  std::uint64_t busy() const;     // attempts not compared, the budget spent

 private:
  mutable std::mutex mutex_;
  std::string code_;
  double budget_ = burst;
  Clock::time_point budget_at_{};
  std::uint64_t refused_ = 0, busy_ = 0;
};

// 8 random digits.
std::string random_code();

}  // namespace mnigs::tether
