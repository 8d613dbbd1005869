#include "metrics.hpp"

#include <algorithm>
#include <cmath>

namespace mnigs::httptunnel {

void LatencyHistogram::add(std::chrono::microseconds latency) {
  const auto us = static_cast<std::uint64_t>(std::max<std::int64_t>(latency.count(), 0));
  const auto at = std::lower_bound(kBoundsUs.begin(), kBoundsUs.end(), us);
  ++buckets_[static_cast<std::size_t>(at - kBoundsUs.begin())];
  ++count_;
  sum_us_ += us;
  max_us_ = std::max(max_us_, us);
}

double LatencyHistogram::quantile_ms(double q) const {
  if (count_ == 0) return 0;
  // The rank of the quantile, 1-based: the smallest n with n >= q * count.
  const auto rank = std::max<std::uint64_t>(
      1, static_cast<std::uint64_t>(std::ceil(q * static_cast<double>(count_))));
  std::uint64_t seen = 0;
  for (std::size_t i = 0; i < kBoundsUs.size(); ++i) {
    seen += buckets_[i];
    if (seen >= rank) return static_cast<double>(std::min(kBoundsUs[i], max_us_)) / 1000.0;
  }
  return max_ms();
}

std::shared_ptr<KeyStats> KeyMetrics::get(const std::string& name) {
  if (auto found = find(name)) return found;
  if (capacity_ == 0) return std::make_shared<KeyStats>();  // counted nowhere
  if (index_.size() >= capacity_) {
    index_.erase(order_.back().first);
    order_.pop_back();
    ++dropped_;
  }
  order_.emplace_front(name, std::make_shared<KeyStats>());
  index_.emplace(name, order_.begin());
  return order_.front().second;
}

std::shared_ptr<KeyStats> KeyMetrics::find(const std::string& name) {
  const auto it = index_.find(name);
  if (it == index_.end()) return nullptr;
  order_.splice(order_.begin(), order_, it->second);  // iterators stay valid
  return it->second->second;
}

std::vector<std::pair<std::string, std::shared_ptr<const KeyStats>>> KeyMetrics::view() const {
  std::vector<std::pair<std::string, std::shared_ptr<const KeyStats>>> out;
  out.reserve(order_.size());
  for (const auto& [name, stats] : order_) out.emplace_back(name, stats);
  return out;
}

}  // namespace mnigs::httptunnel
