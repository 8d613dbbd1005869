// Rate limit for log lines about trouble that may repeat on every packet,
// line or scan: at most `burst` lines per `window` under each key. What was
// held back is counted and handed out with the next line let through, to be
// mentioned in it, so a daemon (or impostor) spewing garbage cannot flood
// the log. Not thread-safe: use one on one strand or thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>

namespace mnigs {

class LogLimit {
 public:
  using Clock = std::chrono::steady_clock;

  LogLimit(unsigned burst, Clock::duration window) : burst_(burst), window_(window) {}

  // True if a line under `key` may be written at `now`. Then `*held_back`
  // (if given) is how many lines under `key` were held back since the last
  // one written. The first line under a key always goes through. Keys are
  // kept for good: use a few fixed ones, never text from outside.
  bool allow(std::string_view key, Clock::time_point now, std::uint64_t* held_back = nullptr);
  // The same under one key for everything.
  bool allow(Clock::time_point now, std::uint64_t* held_back = nullptr) {
    return allow({}, now, held_back);
  }

 private:
  struct Window {
    Clock::time_point start;
    unsigned used = 0;       // lines written since `start`
    std::uint64_t held = 0;  // lines held back since the last one written
  };
  unsigned burst_;
  Clock::duration window_;
  std::map<std::string, Window, std::less<>> windows_;
};

}  // namespace mnigs
