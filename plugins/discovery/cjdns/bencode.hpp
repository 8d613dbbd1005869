// Bencode as cjdroute's admin interface speaks it: integers, byte strings,
// lists and dictionaries.
//
// The decoder is strict with what matters for safety (bounded nesting,
// string lengths bounded by the input, no truncated input, no duplicate
// keys, nothing after the top-level value) and lenient where cjdroute
// differs from the spec: it accepts leading zeros in string lengths, because
// cjdroute pads the first key's length to align its buffer
// ("d0000005:error..."), and it does not insist on sorted keys, since
// cjdroute's own reader does not either.
//
// Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mnigs::cjdns::bencode {

// One bencoded value. Only the member matching `type` is meaningful.
struct Value {
  enum class Type { integer, string, list, dict };

  Value() = default;
  static Value integer(std::int64_t v);
  static Value string(std::string v);
  static Value list(std::vector<Value> v = {});
  static Value dict(std::map<std::string, Value> v = {});

  bool is_integer() const { return type == Type::integer; }
  bool is_string() const { return type == Type::string; }
  bool is_list() const { return type == Type::list; }
  bool is_dict() const { return type == Type::dict; }

  // In a dict: the value under `key`, or nullptr when absent (or not a dict).
  const Value* find(const std::string& key) const;
  // In a dict: the string / integer under `key`, if present with that type.
  std::optional<std::string> get_string(const std::string& key) const;
  std::optional<std::int64_t> get_integer(const std::string& key) const;

  Type type = Type::dict;
  std::int64_t i = 0;
  std::string s;
  std::vector<Value> l;
  std::map<std::string, Value> d;
};

// Canonical bencoding: dictionary keys in byte order, no padding.
std::string encode(const Value& value);

// Limits that keep a hostile or broken peer from making the decoder spend
// unbounded memory or stack.
inline constexpr int kMaxDepth = 32;                 // nested lists/dicts
inline constexpr std::size_t kMaxLengthDigits = 20;  // digits of a string length, zeros included

// Decodes exactly one value spanning all of `input`. nullopt with `why` (the
// byte offset and what was wrong) on any error.
std::optional<Value> decode(std::string_view input, std::string* why);

}  // namespace mnigs::cjdns::bencode
