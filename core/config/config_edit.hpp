// Changing config keys: the one path behind both the setConfig RPC and
// `mnigs-cli --set` on a stopped daemon. Every change is validated before
// anything is written; the file keeps its comments.
#pragma once

#include "config/config.hpp"

#include <json/value.h>

#include <string>
#include <utility>
#include <vector>

namespace mnigs {

struct ConfigChange {
  std::string section;
  std::string key;
  Json::Value value;  // typed, as the declaration wants
  bool live = false;  // applies without a restart
  std::string dotted() const { return section + "." + key; }
};

// Resolves "section.key" names and converts the raw values (JSON, or text in a
// JSON string). Returns one message per bad entry; `out` holds the good ones.
std::vector<std::string> resolve_changes(
    const Schema& schema, const std::vector<std::pair<std::string, Json::Value>>& raw,
    std::vector<ConfigChange>& out);

// Writes `changes` into the YAML file at `path` (created if missing), after
// checking that the whole edited file still validates. Throws ConfigError and
// leaves the file untouched when it does not, or when the file cannot be edited.
// Returns the validated values of the edited file.
ParsedConfig write_changes(const std::string& path, const Schema& schema,
                           const std::vector<ConfigChange>& changes);

}  // namespace mnigs
