// JSON from outside, parsed only within limits that bound its cost. jsoncpp
// spends about 100 bytes of heap per value (a 1 MiB body of "[0,0,...]"
// takes about 48 MiB), recurses per level of nesting and throws past its
// stack limit. So the text is measured first, in one pass over the bytes
// already held: its size, its depth and how many values it holds; only text
// within all three is handed to jsoncpp, in strict mode.
#pragma once

#include <json/value.h>

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace mnigs {

struct JsonLimits {
  std::size_t max_bytes = 64 << 10;
  unsigned max_depth = 16;        // arrays and objects nested
  std::size_t max_values = 4096;  // arrays, objects, members and elements counted
  // What the text is, for the messages: "reply", "request body", ...
  const char* what = "JSON text";
};

// A bound on the values in `text` (containers, plus one per element and
// member), and its nesting depth, without parsing it. Strings are skipped.
struct JsonShape {
  std::size_t values = 0;
  unsigned depth = 0;
};
JsonShape measure_json(std::string_view text);

// Exactly one strict JSON array or object (no comments, trailing commas,
// duplicate keys or text after it) within `limits`; nullopt with `why`, a
// sentence such as "reply is 70000 bytes, more than 65536". Never throws.
std::optional<Json::Value> parse_json_within(std::string_view text, const JsonLimits& limits,
                                             std::string* why = nullptr);

}  // namespace mnigs
