#include "util/units.hpp"

#include <array>
#include <cctype>
#include <utility>

namespace mnigs {

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// The number at the front of `text` and what follows it.
std::optional<std::pair<std::int64_t, std::string>> split(std::string_view text) {
  std::size_t digits = 0;
  while (digits < text.size() && std::isdigit(static_cast<unsigned char>(text[digits])))
    ++digits;
  if (digits == 0 || digits > 15) return std::nullopt;
  std::int64_t n = 0;
  for (std::size_t i = 0; i < digits; ++i) n = n * 10 + (text[i] - '0');
  std::string_view rest = text.substr(digits);
  while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
  return std::make_pair(n, lower(rest));
}

std::optional<std::int64_t> scaled(std::int64_t n, std::int64_t factor, std::int64_t max) {
  if (n > max / factor) return std::nullopt;
  return n * factor;
}

void say(std::string* why, std::string text) {
  if (why) *why = std::move(text);
}

}  // namespace

std::optional<std::int64_t> parse_bytes(std::string_view text, std::string* why) {
  constexpr std::int64_t kMax = std::int64_t{1} << 62;
  const std::string shown(text);
  auto parts = split(text);
  if (!parts) {
    say(why, "\"" + shown + "\" is not a size: write a whole number of bytes, e.g. 500M or 1G");
    return std::nullopt;
  }
  auto [n, unit] = *parts;
  if (!unit.empty() && unit.back() == 'b') unit.pop_back();
  static const std::array<std::pair<const char*, std::int64_t>, 9> units{{
      {"", 1},
      {"k", 1000},
      {"m", 1000 * 1000},
      {"g", 1000 * 1000 * 1000},
      {"t", std::int64_t{1000} * 1000 * 1000 * 1000},
      {"ki", 1024},
      {"mi", 1024 * 1024},
      {"gi", 1024 * 1024 * 1024},
      {"ti", std::int64_t{1024} * 1024 * 1024 * 1024},
  }};
  for (const auto& [name, factor] : units) {
    if (unit != name) continue;
    if (auto v = scaled(n, factor, kMax)) return v;
    say(why, "\"" + shown + "\" is too large");
    return std::nullopt;
  }
  say(why, "\"" + shown + "\": unknown unit; use k, M, G, T (1000s) or KiB, MiB, GiB, TiB");
  return std::nullopt;
}

std::optional<std::int64_t> parse_rate(std::string_view text, std::string* why) {
  constexpr std::int64_t kMax = 10'000'000'000'000;
  const std::string shown(text);
  auto parts = split(text);
  if (!parts) {
    say(why, "\"" + shown + "\" is not a rate: write e.g. 4mbit or 500kbit");
    return std::nullopt;
  }
  const auto& [n, unit] = *parts;
  static const std::array<std::pair<const char*, std::int64_t>, 9> units{{
      {"", 1},
      {"bit", 1},
      {"kbit", 1000},
      {"mbit", 1000 * 1000},
      {"gbit", 1000 * 1000 * 1000},
      {"bps", 8},
      {"kbps", 8 * 1000},
      {"mbps", 8 * 1000 * 1000},
      {"gbps", std::int64_t{8} * 1000 * 1000 * 1000},
  }};
  for (const auto& [name, factor] : units) {
    if (unit != name) continue;
    if (auto v = scaled(n, factor, kMax)) return v;
    say(why, "\"" + shown + "\" is more than 10 Tbit/s");
    return std::nullopt;
  }
  say(why, "\"" + shown + "\": unknown unit; use bit, kbit, mbit, gbit (bits per second) or "
           "bps, kbps, mbps, gbps (bytes per second)");
  return std::nullopt;
}

std::string format_rate(std::int64_t bits) {
  if (bits > 0 && bits % 1'000'000'000 == 0) return std::to_string(bits / 1'000'000'000) + "gbit";
  if (bits > 0 && bits % 1'000'000 == 0) return std::to_string(bits / 1'000'000) + "mbit";
  if (bits > 0 && bits % 1000 == 0) return std::to_string(bits / 1000) + "kbit";
  return std::to_string(bits) + "bit";
}

}  // namespace mnigs
