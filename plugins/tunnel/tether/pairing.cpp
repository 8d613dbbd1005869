#include "pairing.hpp"

#include <sys/random.h>

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
  wrong_ = 0;
}

Pairing::Check Pairing::check(std::string_view offered) {
  std::lock_guard lock(mutex_);
  unsigned char diff = offered.size() == code_.size() ? 0 : 1;
  for (std::size_t i = 0; i < code_.size(); ++i)
    diff |= static_cast<unsigned char>(code_[i] ^ (i < offered.size() ? offered[i] : 0));
  if (diff == 0) {
    wrong_ = 0;
    return Check::ok;
  }
  ++refused_;
  if (++wrong_ < max_wrong) return Check::wrong;
  code_ = random_code();
  wrong_ = 0;
  return Check::replaced;
}

std::uint64_t Pairing::refused() const {
  std::lock_guard lock(mutex_);
  return refused_;
}

}  // namespace mnigs::tether
