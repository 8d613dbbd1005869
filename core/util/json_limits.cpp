#include "util/json_limits.hpp"

#include <json/reader.h>

#include <algorithm>
#include <memory>

namespace mnigs {
namespace {

bool fail(std::string* why, std::string text) {
  if (why) *why = std::move(text);
  return false;
}

}  // namespace

JsonShape measure_json(std::string_view text) {
  JsonShape shape;
  unsigned depth = 0;
  bool in_string = false, escaped = false, any = false;
  for (const char c : text) {
    if (in_string) {
      if (escaped)
        escaped = false;
      else if (c == '\\')
        escaped = true;
      else if (c == '"')
        in_string = false;
      continue;
    }
    switch (c) {
      case '"': in_string = true; break;
      case '[':
      case '{':
        ++shape.values;
        shape.depth = std::max(shape.depth, ++depth);
        break;
      case ']':
      case '}':
        if (depth > 0) --depth;
        break;
      case ',': ++shape.values; break;
      default: break;
    }
    any = true;
  }
  // The first element of each container is not preceded by a comma; one
  // more per container would double-count empty ones, so count it once
  // for the whole text.
  if (any) ++shape.values;
  return shape;
}

std::optional<Json::Value> parse_json_within(std::string_view text, const JsonLimits& limits,
                                             std::string* why) {
  const std::string what = limits.what;
  if (text.size() > limits.max_bytes) {
    fail(why, what + " is " + std::to_string(text.size()) + " bytes, more than " +
                  std::to_string(limits.max_bytes));
    return std::nullopt;
  }
  const auto shape = measure_json(text);
  if (shape.depth > limits.max_depth) {
    fail(why, what + " is nested deeper than " + std::to_string(limits.max_depth) + " levels");
    return std::nullopt;
  }
  if (shape.values > limits.max_values) {
    fail(why, what + " holds more than " + std::to_string(limits.max_values) + " values");
    return std::nullopt;
  }
  Json::CharReaderBuilder builder;
  Json::CharReaderBuilder::strictMode(&builder.settings_);
  builder["stackLimit"] = static_cast<int>(limits.max_depth) + 1;
  const std::unique_ptr<Json::CharReader> reader(builder.newCharReader());
  Json::Value root;
  std::string errors;
  try {
    if (!reader->parse(text.data(), text.data() + text.size(), &root, &errors)) {
      fail(why, what + " is not valid JSON (" + errors.substr(0, errors.find('\n')) + ")");
      return std::nullopt;
    }
  } catch (const std::exception& e) {  // jsoncpp throws past its stack limit
    fail(why, what + " is not valid JSON (" + e.what() + ")");
    return std::nullopt;
  }
  return root;
}

}  // namespace mnigs
