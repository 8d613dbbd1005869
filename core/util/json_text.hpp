// Compact JSON text for storing JSON in SQLite, and back.
#pragma once

#include <json/value.h>

#include <string>

namespace mnigs {

std::string to_json_text(const Json::Value& value);
// Null when `text` is not valid JSON.
Json::Value from_json_text(const std::string& text);

}  // namespace mnigs
