// Fields of the tab-separated text that olsrd's txtinfo and olsrd2's telnet
// interface print. Pure; thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

namespace mnigs::olsr {

// The fields of one line, split at every tab (empty fields kept); views
// into `line`.
std::vector<std::string_view> split_tabs(std::string_view line);

// A decimal count ("0".."4294967295"); nullopt for anything else.
std::optional<std::uint32_t> parse_count(std::string_view text);

}  // namespace mnigs::olsr
