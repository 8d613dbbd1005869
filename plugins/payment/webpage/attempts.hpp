// Wrong voucher codes, counted per address: a bucket of `burst` tries that
// refills one try every `refill`. An address with an empty bucket is told to
// wait (HTTP 429) without its code being looked at. At most kMaxAddresses
// are tracked; past that the one idle longest is forgotten.
#pragma once

#include <chrono>
#include <cstddef>
#include <map>
#include <string>

namespace mnigs::webpage {

class Attempts {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr std::size_t kMaxAddresses = 4096;

  Attempts(int burst, std::chrono::seconds refill) : burst_(burst), refill_(refill) {}
  void set_limits(int burst, std::chrono::seconds refill) {
    burst_ = burst;
    refill_ = refill;
  }

  // Seconds `address` must wait before it may try a code; 0: it may.
  long long wait(const std::string& address, Clock::time_point now);
  // A wrong code from `address`.
  void failed(const std::string& address, Clock::time_point now);
  std::size_t tracked() const { return tries_.size(); }

 private:
  struct Bucket {
    double left = 0;  // tries left
    Clock::time_point at;
  };
  // `address`'s bucket refilled up to `now`.
  Bucket& refill(const std::string& address, Clock::time_point now);

  int burst_;
  std::chrono::seconds refill_;
  std::map<std::string, Bucket> tries_;
};

}  // namespace mnigs::webpage
