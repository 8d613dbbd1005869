// Rate limiting for log lines about a daemon that misbehaves on every scan:
// one line per kind of trouble per interval, and a count of the lines held
// back in between. Not thread-safe; the plugin uses it on its strand.
#pragma once

#include <chrono>
#include <cstddef>
#include <map>
#include <string>

namespace mnigs::olsr {

class LogLimiter {
 public:
  explicit LogLimiter(std::chrono::steady_clock::duration interval) : interval_(interval) {}

  // True when a line under `key` may be written at `now`; then
  // `*suppressed` (if given) is how many were held back since the last one.
  bool allow(const std::string& key, std::chrono::steady_clock::time_point now,
             std::size_t* suppressed = nullptr);

 private:
  struct Entry {
    std::chrono::steady_clock::time_point last;
    std::size_t held = 0;
  };
  std::chrono::steady_clock::duration interval_;
  std::map<std::string, Entry> entries_;
};

}  // namespace mnigs::olsr
