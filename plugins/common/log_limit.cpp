#include "log_limit.hpp"

namespace mnigs {

bool LogLimit::allow(std::string_view key, Clock::time_point now, std::uint64_t* held_back) {
  auto it = windows_.find(key);
  if (it == windows_.end()) {
    it = windows_.emplace(std::string(key), Window{}).first;
    it->second.start = now;
  }
  Window& w = it->second;
  if (now - w.start >= window_) {
    w.start = now;
    w.used = 0;
  }
  if (w.used >= burst_) {
    ++w.held;
    return false;
  }
  ++w.used;
  if (held_back) *held_back = w.held;
  w.held = 0;
  return true;
}

}  // namespace mnigs
