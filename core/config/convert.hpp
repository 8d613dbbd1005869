// Turning config values from YAML, command-line text or JSON into the typed
// form of their declaration, with an error that says what is allowed.
#pragma once

#include <mnigs/config_decl.hpp>

#include <json/value.h>
#include <yaml-cpp/yaml.h>

#include <optional>
#include <string>
#include <string_view>

namespace mnigs {

// From a YAML node in the config file.
std::optional<Json::Value> convert_yaml(const KeySpec& spec, const YAML::Node& node,
                                        std::string* why);
// From text such as `--set daemon.scanports=65533,65534` gives: parsed as
// YAML first (so "[a, b]" and "yes" work), then as a comma-separated list.
std::optional<Json::Value> convert_text(const KeySpec& spec, std::string_view text,
                                        std::string* why);
// From a JSON-RPC setConfig value (typed JSON, or a string as for convert_text).
std::optional<Json::Value> convert_json(const KeySpec& spec, const Json::Value& value,
                                        std::string* why);

// Compact one-line rendering of a typed value for messages: 65533, "x", [a, b].
std::string show_value(const Json::Value& value);

}  // namespace mnigs
