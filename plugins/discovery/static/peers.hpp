// Parsing static peer entries: "10.0.0.2", "10.0.0.2:65533", "fd00::2",
// "[fd00::2]:65534".
#pragma once

#include <mnigs/plugin.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mnigs::static_discovery {

// One entry; nullopt with `why` set when it is not ADDRESS or ADDRESS:PORT.
std::optional<Candidate> parse_peer(std::string_view text, std::string* why);

}  // namespace mnigs::static_discovery
