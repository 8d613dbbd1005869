// Per-key metrics of the gateway's front: for each token and each named
// service the front routed requests to, how many, the bytes each way, the
// errors and the latency to the answer's head (a fixed-bucket histogram).
//
// Bounded: at most `capacity` keys (1024 by default); a new key beyond
// that drops the least recently used one (a key is used when a request
// for it starts), so keys in use stay counted whatever else comes and
// goes. The front makes entries only for keys a node held (the registry
// knew them), never for tokens or service names a client invented.
//
// Threading: none; the front and the gateway's status use it on the data
// thread only.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <list>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace mnigs::httptunnel {

// Latencies in fixed buckets: constant memory, quantiles within a bucket's
// width (the bounds roughly double, so within a factor of about 2.5).
class LatencyHistogram {
 public:
  // Upper bounds of the buckets, in microseconds; one more bucket holds
  // what is above the last.
  static constexpr std::array<std::uint64_t, 17> kBoundsUs = {
      250,     500,     1'000,     2'500,     5'000,     10'000,     25'000,     50'000,    100'000,
      250'000, 500'000, 1'000'000, 2'500'000, 5'000'000, 10'000'000, 30'000'000, 60'000'000};

  void add(std::chrono::microseconds latency);
  // The q-quantile (0 < q <= 1), in milliseconds: the upper bound of the
  // bucket it falls in, or the largest latency seen when that is lower
  // (and for the last bucket). 0 when nothing was added.
  double quantile_ms(double q) const;
  std::uint64_t count() const { return count_; }
  double sum_ms() const { return static_cast<double>(sum_us_) / 1000.0; }
  double max_ms() const { return static_cast<double>(max_us_) / 1000.0; }

 private:
  std::array<std::uint64_t, kBoundsUs.size() + 1> buckets_{};
  std::uint64_t count_ = 0, sum_us_ = 0, max_us_ = 0;
};

struct KeyStats {
  std::uint64_t requests = 0;   // requests routed to the key
  std::uint64_t bytes_in = 0;   // request bytes sent towards its node
  std::uint64_t bytes_out = 0;  // answer bytes written to clients
  std::uint64_t errors = 0;     // answers with status >= 500
  LatencyHistogram latency;     // request head read to answer head
};

class KeyMetrics {
 public:
  explicit KeyMetrics(std::size_t capacity = 1024) : capacity_(capacity) {}

  // The key's stats, made when absent (dropping the least recently used
  // key when full); marks it used. The pointer stays valid for its holder
  // even when the key is dropped from the table later (then nothing reads
  // what is added to it).
  std::shared_ptr<KeyStats> get(const std::string& name);
  // The key's stats if the table has it (marks it used), else nullptr.
  std::shared_ptr<KeyStats> find(const std::string& name);

  std::size_t size() const { return index_.size(); }
  std::uint64_t dropped() const { return dropped_; }  // keys dropped to make room
  // Each key with its stats, the most recently used first.
  std::vector<std::pair<std::string, std::shared_ptr<const KeyStats>>> view() const;

 private:
  using Order = std::list<std::pair<std::string, std::shared_ptr<KeyStats>>>;
  std::size_t capacity_;
  Order order_;  // most recently used first
  std::unordered_map<std::string, Order::iterator> index_;
  std::uint64_t dropped_ = 0;
};

}  // namespace mnigs::httptunnel
