#include "pairing.hpp"

#include <sys/random.h>

#include <algorithm>
#include <cerrno>
#include <stdexcept>

namespace mnigs::tether {

std::string random_code() {
  std::string out;
  while (out.size() < Pairing::digits) {
    unsigned char bytes[16];
    const ssize_t n = ::getrandom(bytes, sizeof bytes, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw std::runtime_error("getrandom failed while making a pairing code");
    }
    // 250 of the 256 byte values map evenly onto the ten digits.
    for (ssize_t i = 0; i < n && out.size() < Pairing::digits; ++i)
      if (bytes[i] < 250) out += static_cast<char>('0' + bytes[i] % 10);
  }
  return out;
}

std::string Pairing::code() const {
  std::lock_guard lock(mutex_);
  return code_;
}

void Pairing::renew() {
  std::string fresh = random_code();
  std::lock_guard lock(mutex_);
  code_ = std::move(fresh);
}

Pairing::Check Pairing::check(std::string_view offered, Clock::time_point now) {
  std::lock_guard lock(mutex_);
  if (budget_at_ != Clock::time_point{})
    budget_ = std::min(burst, budget_ + std::chrono::duration<double>(now - budget_at_) /
                                            std::chrono::duration<double>(refill));
  budget_at_ = now;
  if (budget_ < 1) {
    ++busy_;
    return Check::busy;
  }
  unsigned char diff = offered.size() == code_.size() ? 0 : 1;
  for (std::size_t i = 0; i < code_.size(); ++i)
    diff |= static_cast<unsigned char>(code_[i] ^ (i < offered.size() ? offered[i] : 0));
  if (diff == 0) return Check::ok;
  ++refused_;
  budget_ -= 1;
  return Check::wrong;
}

std::uint64_t Pairing::refused() const {
  std::lock_guard lock(mutex_);
  return refused_;
}

std::uint64_t Pairing::busy() const {
  std::lock_guard lock(mutex_);
  return busy_;
}

}  // namespace mnigs::tether
