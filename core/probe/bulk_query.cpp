#include "probe/bulk_query.hpp"

#include <charconv>
#include <system_error>

namespace mnigs::probe {

bool parse_bulk_query(std::string_view target, std::uint64_t& down, std::uint64_t& up) {
  auto q = target.find('?');
  if (q == std::string_view::npos) return false;
  std::string_view rest = target.substr(q + 1);
  bool seen_down = false, seen_up = false;
  while (!rest.empty()) {
    auto amp = rest.find('&');
    std::string_view part = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
    auto eq = part.find('=');
    if (eq == std::string_view::npos) return false;
    std::string_view key = part.substr(0, eq), value = part.substr(eq + 1);
    std::uint64_t n = 0;
    auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
    if (ec != std::errc() || end != value.data() + value.size() || value.empty() ||
        n > kMaxBulkBytes)
      return false;
    if (key == "down" && !seen_down) {
      down = n;
      seen_down = true;
    } else if (key == "up" && !seen_up) {
      up = n;
      seen_up = true;
    } else {
      return false;
    }
  }
  return seen_down || seen_up;
}

}  // namespace mnigs::probe
