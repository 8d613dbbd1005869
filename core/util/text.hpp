// Small text helpers.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace mnigs {

// Edit distance (insert, delete, substitute; case-insensitive), for "did you mean".
std::size_t edit_distance(std::string_view a, std::string_view b);

// The candidate closest to `word`, if it is close enough to be a plausible typo.
std::string nearest(std::string_view word, const std::vector<std::string>& candidates);

std::vector<std::string> split(std::string_view text, char sep);
// "a, b, c"; `empty` when the list is empty.
std::string join(const std::vector<std::string>& items, std::string_view sep = ", ",
                 std::string_view empty = "");
// Part `index` (0: network, 1: tunnel, 2: payment) of a suite
// "network-tunnel-payment"; "" when the suite does not have three parts.
std::string suite_part(std::string_view suite, std::size_t index);
std::string_view trim(std::string_view text);

}  // namespace mnigs
