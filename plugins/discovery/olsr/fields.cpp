#include "fields.hpp"

#include <charconv>

namespace mnigs::olsr {

std::vector<std::string_view> split_tabs(std::string_view line) {
  std::vector<std::string_view> out;
  while (true) {
    auto tab = line.find('\t');
    out.push_back(line.substr(0, tab));
    if (tab == std::string_view::npos) break;
    line.remove_prefix(tab + 1);
  }
  return out;
}

std::optional<std::uint32_t> parse_count(std::string_view text) {
  std::uint32_t n = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc() || p != text.data() + text.size() || text.empty()) return std::nullopt;
  return n;
}

}  // namespace mnigs::olsr
