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
std::string_view trim(std::string_view text);

}  // namespace mnigs
