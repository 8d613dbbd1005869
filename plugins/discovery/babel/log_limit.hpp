// Rate limit for log lines about bad input: at most `burst` lines per
// `window`; what was held back is counted and reported with the next line
// let through, so a babeld (or impostor) spewing garbage cannot flood the log.
#pragma once

#include <chrono>
#include <cstdint>

namespace mnigs::babel {

class LogLimit {
 public:
  using Clock = std::chrono::steady_clock;

  LogLimit(unsigned burst, Clock::duration window) : burst_(burst), window_(window) {}

  // True if a line may be written at `now`. Then `held_back` is how many
  // lines were suppressed since the last one written (to mention in it).
  bool allow(Clock::time_point now, std::uint64_t* held_back) {
    if (now - window_start_ >= window_) {
      window_start_ = now;
      used_ = 0;
    }
    if (used_ >= burst_) {
      ++suppressed_;
      return false;
    }
    ++used_;
    if (held_back) *held_back = suppressed_;
    suppressed_ = 0;
    return true;
  }

 private:
  unsigned burst_;
  Clock::duration window_;
  Clock::time_point window_start_{};
  unsigned used_ = 0;
  std::uint64_t suppressed_ = 0;
};

}  // namespace mnigs::babel
