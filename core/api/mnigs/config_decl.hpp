// Config keys as declared by the core and by each plugin: type, default, help.
// The core validates every value against its declaration in one place
// (core/config) before anybody sees it.
#pragma once

#include <json/value.h>

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

namespace mnigs {

enum class ValueType {
  boolean,      // true/false, yes/no, on/off
  integer,      // within [min, max]
  string,       // free text, or one of `choices` when given
  string_list,  // YAML sequence of strings (or one comma-separated string)
  port,         // 1..65535
  port_list,    // sequence of ports
  address,      // an IPv4 or IPv6 literal, or empty for "none"
  cidr_list,    // sequence of IPv4/IPv6 prefixes, e.g. 127.0.0.0/8
};

struct KeySpec {
  std::string name;           // key inside its section, e.g. "maxConnections"
  ValueType type = ValueType::string;
  Json::Value default_value;  // already in the typed form (bool, int, string, array)
  std::string help;           // one line, shown by --dump-config and conf/mnigs.yaml
  bool live = false;          // true: a change applies without a restart
  std::int64_t min = std::numeric_limits<std::int64_t>::min();
  std::int64_t max = std::numeric_limits<std::int64_t>::max();
  std::vector<std::string> choices;  // for strings: allowed values; empty means any
  // Not changeable over RPC (setConfig), only in the file: for keys whose value
  // the daemon executes, so an admin caller cannot make it run a command.
  bool file_only = false;
};

// Receives key declarations for one section.
class ConfigDeclarer {
 public:
  virtual ~ConfigDeclarer() = default;
  virtual void declare(KeySpec spec) = 0;
};

// Short helpers so a declaration reads as one line.
inline KeySpec typed_key(std::string name, ValueType type, Json::Value def, std::string help,
                         bool live = false) {
  KeySpec k;
  k.name = std::move(name);
  k.type = type;
  k.default_value = std::move(def);
  k.help = std::move(help);
  k.live = live;
  return k;
}
inline KeySpec bool_key(std::string name, bool def, std::string help, bool live = false) {
  return typed_key(std::move(name), ValueType::boolean, Json::Value(def), std::move(help), live);
}
inline KeySpec int_key(std::string name, std::int64_t def, std::int64_t min, std::int64_t max,
                       std::string help, bool live = false) {
  KeySpec k = typed_key(std::move(name), ValueType::integer, Json::Value(Json::Int64(def)),
                        std::move(help), live);
  k.min = min;
  k.max = max;
  return k;
}
inline KeySpec string_key(std::string name, std::string def, std::string help, bool live = false,
                          std::vector<std::string> choices = {}) {
  KeySpec k = typed_key(std::move(name), ValueType::string, Json::Value(def), std::move(help), live);
  k.choices = std::move(choices);
  return k;
}
inline KeySpec file_only(KeySpec spec) {
  spec.file_only = true;
  return spec;
}
inline KeySpec list_key(std::string name, ValueType type, std::vector<std::string> def,
                        std::string help, bool live = false) {
  Json::Value arr(Json::arrayValue);
  for (auto& v : def) arr.append(type == ValueType::port_list ? Json::Value(std::stoi(v)) : Json::Value(v));
  return typed_key(std::move(name), type, arr, std::move(help), live);
}

}  // namespace mnigs
