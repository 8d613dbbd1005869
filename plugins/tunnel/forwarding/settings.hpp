// The forwarding plugin's config section: declaration and checked values.
//
//   uplink    string  ""     gateway's uplink; "" = interface of main's default route
//   table     int     65533  routing table for the subscriber's default route
//   priority  int     31000  priority of the first ip rule; the second uses +1
//   restrict  bool    true   (live) drop non-subscribers leaving by the uplink
//
// Pure functions; thread-safe.
#pragma once

#include <mnigs/config_decl.hpp>

#include <json/value.h>

#include <cstdint>
#include <optional>
#include <string>

namespace mnigs::forwarding {

inline constexpr std::int64_t kDefaultTable = 65533;
inline constexpr int kDefaultPriority = 31000;
// The second rule uses priority + 1 and must stay ahead of the main table's
// own rule at 32766, so the first may be 32764 at most.
inline constexpr int kMaxPriority = 32764;

struct Settings {
  std::string uplink;  // "" until a session opens and the default route is looked up
  std::int64_t table = kDefaultTable;
  int priority = kDefaultPriority;
  bool restrict = true;
};

// Declares the four keys of section "forwarding".
void declare_keys(ConfigDeclarer& declarer);

// Reads a config section (every key present, types already checked by the
// core) and applies the checks the declaration cannot express: table not
// 253/254/255, uplink a valid interface name. nullopt with `why` naming the
// key, the value and what is allowed.
std::optional<Settings> parse_settings(const Json::Value& section, std::string* why);

}  // namespace mnigs::forwarding
