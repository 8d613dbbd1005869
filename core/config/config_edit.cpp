#include "config/config_edit.hpp"

#include "config/convert.hpp"
#include "config/yaml_edit.hpp"
#include "util/atomic_file.hpp"
#include "util/text.hpp"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace mnigs {

std::vector<std::string> resolve_changes(
    const Schema& schema, const std::vector<std::pair<std::string, Json::Value>>& raw,
    std::vector<ConfigChange>& out) {
  std::vector<std::string> errors;
  for (const auto& [name, value] : raw) {
    auto dot = name.find('.');
    if (dot == std::string::npos || dot == 0 || dot + 1 == name.size()) {
      errors.push_back("\"" + name + "\" is not a key: write section.key, e.g. gateway.enabled");
      continue;
    }
    std::string section = name.substr(0, dot), key = name.substr(dot + 1);
    const KeySpec* spec = schema.find(section, key);
    if (!schema.section(section)) {
      std::string hint = nearest(section, schema.section_names());
      errors.push_back("unknown key " + name + ": no section \"" + section + "\"" +
                       (hint.empty() ? std::string() : " (did you mean " + hint + "?)") +
                       "; plugin sections exist only for plugins found in plugins.dir");
      continue;
    }
    if (!spec) {
      std::string hint = nearest(name, schema.dotted_keys());
      errors.push_back("unknown key " + name +
                       (hint.empty() ? std::string() : " (did you mean " + hint + "?)"));
      continue;
    }
    std::string why;
    auto typed = convert_json(*spec, value, &why);
    if (!typed) {
      errors.push_back(name + " " + why);
      continue;
    }
    out.push_back(ConfigChange{section, key, *typed, spec->live});
  }
  return errors;
}

ParsedConfig write_changes(const std::string& path, const Schema& schema,
                           const std::vector<ConfigChange>& changes) {
  std::string text;
  {
    std::ifstream in(path, std::ios::binary);
    if (in) {
      std::stringstream buf;
      buf << in.rdbuf();
      text = buf.str();
    } else if (errno != ENOENT) {
      throw ConfigError("config " + path + ": cannot read the file (" + std::strerror(errno) + ")");
    }
  }
  for (const auto& c : changes) {
    try {
      text = set_yaml_value(text, c.section, c.key, render_yaml_value(c.value));
    } catch (const std::exception& e) {
      throw ConfigError("config " + path + ": cannot set " + c.dotted() + " in this file: " +
                        e.what() + "; edit it by hand");
    }
  }
  ParsedConfig parsed = validate(parse_yaml_text(text, path), schema, path);
  if (!parsed.ok()) {
    std::string msg = "config " + path + ": not changed, the edited file would not be valid:";
    for (const auto& i : parsed.issues)
      if (i.severity == ConfigIssue::Severity::error) msg += "\n  " + i.message;
    throw ConfigError(msg);
  }
  try {
    // A config file linked from elsewhere stays linked; its mode and owner stay.
    write_file_atomic(path, text, {.mode = std::nullopt, .follow_link = true});
  } catch (const std::exception& e) {
    throw ConfigError(e.what());
  }
  return parsed;
}

}  // namespace mnigs
