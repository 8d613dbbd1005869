#include "log_limiter.hpp"

namespace mnigs::olsr {

bool LogLimiter::allow(const std::string& key, std::chrono::steady_clock::time_point now,
                       std::size_t* suppressed) {
  auto [it, fresh] = entries_.try_emplace(key);
  Entry& e = it->second;
  if (!fresh && now - e.last < interval_) {
    ++e.held;
    return false;
  }
  if (suppressed) *suppressed = e.held;
  e.last = now;
  e.held = 0;
  return true;
}

}  // namespace mnigs::olsr
