#include "attempts.hpp"

#include <algorithm>
#include <cmath>

namespace mnigs::webpage {

Attempts::Bucket& Attempts::refill(const std::string& address, Clock::time_point now) {
  auto it = tries_.find(address);
  if (it == tries_.end()) {
    if (tries_.size() >= kMaxAddresses) {
      auto idle = std::min_element(tries_.begin(), tries_.end(), [](const auto& a, const auto& b) {
        return a.second.at < b.second.at;
      });
      tries_.erase(idle);
    }
    it = tries_.emplace(address, Bucket{static_cast<double>(burst_), now}).first;
  }
  Bucket& b = it->second;
  const double elapsed = std::chrono::duration<double>(now - b.at).count();
  if (elapsed > 0) {
    b.left = std::min<double>(burst_, b.left + elapsed / static_cast<double>(refill_.count()));
    b.at = now;
  }
  return b;
}

long long Attempts::wait(const std::string& address, Clock::time_point now) {
  if (!tries_.count(address)) return 0;
  const Bucket& b = refill(address, now);
  if (b.left >= 1) return 0;
  return static_cast<long long>(std::ceil((1 - b.left) * static_cast<double>(refill_.count())));
}

void Attempts::failed(const std::string& address, Clock::time_point now) {
  Bucket& b = refill(address, now);
  b.left = std::max(0.0, b.left - 1);
}

}  // namespace mnigs::webpage
