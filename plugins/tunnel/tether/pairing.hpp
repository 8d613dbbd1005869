// The code a page must give before the laptop takes it: 8 digits from the
// kernel's random source, shown by `mnigs-cli --tether` and the web UI and
// typed on the phone, or carried in the page's URL after '#' (a fragment,
// which browsers never send to a server). Five wrong codes in a row replace
// it: whoever guesses gets five tries at one chance in 10^8 each, then needs
// the new code from the laptop's user.
//
// Thread-safe: the server checks codes on the data thread, the plugin
// shows the code on its strand.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>

namespace mnigs::tether {

class Pairing {
 public:
  static constexpr unsigned digits = 8;
  static constexpr unsigned max_wrong = 5;

  Pairing() { renew(); }

  std::string code() const;
  // A fresh code; the old one is refused from now on.
  void renew();

  enum class Check { ok, wrong, replaced };
  // ok resets the count of wrong ones; the max_wrong-th wrong one in a row
  // replaces the code (replaced). Compared in time that does not depend on
  // where the codes differ.
  Check check(std::string_view offered);
  std::uint64_t refused() const;  // wrong codes so far

 private:
  mutable std::mutex mutex_;
  std::string code_;
  unsigned wrong_ = 0;
  std::uint64_t refused_ = 0;
};

// 8 random digits.
std::string random_code();

}  // namespace mnigs::tether
