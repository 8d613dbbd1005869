#include "config/config.hpp"

#include "config/convert.hpp"
#include "config/yaml_edit.hpp"
#include "util/text.hpp"

#include <unistd.h>

#include <cstring>
#include <fstream>
#include <sstream>

namespace mnigs {

namespace {
const Json::Value& null_value() {
  static const Json::Value null;
  return null;
}

std::string where(const std::string& path, const YAML::Mark& mark) {
  std::string s = "config " + (path.empty() ? std::string("<text>") : path);
  if (mark.line >= 0) s += " line " + std::to_string(mark.line + 1);
  return s;
}
}  // namespace

const Json::Value& Config::section(const std::string& name) const {
  return values_.isMember(name) ? values_[name] : null_value();
}

const Json::Value& Config::get(const std::string& s, const std::string& key) const {
  const Json::Value& sec = section(s);
  if (!sec.isObject() || !sec.isMember(key))
    throw std::logic_error("config key " + s + "." + key + " is not declared");
  return sec[key];
}

std::string Config::get_string(const std::string& s, const std::string& k) const {
  return get(s, k).asString();
}
std::int64_t Config::get_int(const std::string& s, const std::string& k) const {
  return get(s, k).asInt64();
}
bool Config::get_bool(const std::string& s, const std::string& k) const {
  return get(s, k).asBool();
}
std::vector<std::string> Config::get_list(const std::string& s, const std::string& k) const {
  std::vector<std::string> out;
  for (const auto& v : get(s, k)) out.push_back(v.isString() ? v.asString() : v.asString());
  return out;
}

std::string Config::data_dir() const { return get_string("daemon", "dataDir"); }

std::string Config::database_path() const {
  std::string file = get_string("database", "file");
  if (!file.empty() && file.front() == '/') return file;
  std::string dir = data_dir();
  if (!dir.empty() && dir.back() != '/') dir += '/';
  return dir + file;
}

bool ParsedConfig::ok() const {
  for (const auto& i : issues)
    if (i.severity == ConfigIssue::Severity::error) return false;
  return true;
}

YAML::Node parse_yaml_text(const std::string& text, const std::string& path) {
  try {
    return YAML::Load(text);
  } catch (const YAML::Exception& e) {
    std::string msg = "config " + path;
    if (e.mark.line >= 0)
      msg += " line " + std::to_string(e.mark.line + 1) + ", column " +
             std::to_string(e.mark.column + 1);
    throw ConfigError(msg + ": YAML syntax error: " + e.msg);
  }
}

YAML::Node read_yaml_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    throw ConfigError("config " + path + ": cannot read the file (" + std::strerror(errno) +
                      "); copy conf/mnigs.yaml there or pass -f PATH");
  std::stringstream buf;
  buf << in.rdbuf();
  return parse_yaml_text(buf.str(), path);
}

Json::Value defaults(const Schema& schema) {
  Json::Value out(Json::objectValue);
  for (const auto& s : schema.sections()) {
    Json::Value sec(Json::objectValue);
    for (const auto& k : s.keys) sec[k.name] = k.default_value;
    out[s.name] = sec;
  }
  return out;
}

ParsedConfig validate(const YAML::Node& root, const Schema& schema, const std::string& path,
                      bool all_sections_known) {
  ParsedConfig out;
  out.values = defaults(schema);
  auto error = [&](std::string m) {
    out.issues.push_back({ConfigIssue::Severity::error, std::move(m)});
  };
  auto warn = [&](std::string m) {
    out.issues.push_back({ConfigIssue::Severity::warning, std::move(m)});
  };
  if (!root || root.IsNull()) return out;  // an empty file: all defaults
  if (!root.IsMap()) {
    error(where(path, root.Mark()) + ": the top level must be a mapping of sections " +
          "(section: then indented key: value lines)");
    return out;
  }
  for (const auto& entry : root) {
    const std::string section = entry.first.Scalar();
    const YAML::Node& body = entry.second;
    const Schema::Section* decl = schema.section(section);
    if (!decl) {
      if (!all_sections_known) continue;
      std::string hint = nearest(section, schema.section_names());
      warn(where(path, entry.first.Mark()) + ": unknown section \"" + section + "\"" +
           (hint.empty() ? std::string() : " (did you mean \"" + hint + "\"?)") +
           "; no loaded plugin declares it, so it is ignored");
      continue;
    }
    if (body.IsNull()) continue;
    if (!body.IsMap()) {
      error(where(path, body.Mark()) + ": section \"" + section +
            "\" must be a mapping of key: value lines");
      continue;
    }
    for (const auto& kv : body) {
      const std::string key = kv.first.Scalar();
      const KeySpec* spec = schema.find(section, key);
      if (!spec) {
        std::vector<std::string> names;
        for (const auto& k : decl->keys) names.push_back(k.name);
        std::string hint = nearest(key, names);
        warn(where(path, kv.first.Mark()) + ": unknown key " + section + "." + key +
             (hint.empty() ? std::string() : " (did you mean " + section + "." + hint + "?)") +
             "; it is ignored");
        continue;
      }
      std::string why;
      auto value = convert_yaml(*spec, kv.second, &why);
      if (!value) {
        error(where(path, kv.second.Mark()) + ": " + section + "." + key + " " + why);
        continue;
      }
      out.values[section][key] = *value;
    }
  }
  return out;
}

std::string dump_config(const Schema& schema, const Json::Value& values,
                        const std::string& source) {
  std::ostringstream out;
  out << "# mnigsd effective configuration";
  if (!source.empty()) out << " (from " << source << ")";
  out << "\n# Every key is listed with its value; comments give its meaning, type and default.\n";
  for (const auto& s : schema.sections()) {
    out << "\n# " << s.help << (s.owner == "core" ? "" : " [" + s.owner + "]") << "\n";
    out << s.name << ":\n";
    for (const auto& k : s.keys) {
      out << "  # " << k.help << "\n";
      out << "  # " << describe_type(k) << "; default " << render_yaml_value(k.default_value)
          << (k.live ? "; applies at once" : "; needs a restart")
          << (k.file_only ? "; set in the file only, not over RPC" : "") << "\n";
      const Json::Value& v =
          values.isMember(s.name) && values[s.name].isMember(k.name) ? values[s.name][k.name]
                                                                      : k.default_value;
      out << "  " << k.name << ": " << render_yaml_value(v) << "\n";
    }
  }
  return out.str();
}

std::string node_name(const Config& config) {
  std::string name = config.get_string("main", "name");
  if (!name.empty()) return name;
  char host[256] = {0};
  if (gethostname(host, sizeof host - 1) == 0 && host[0]) return host;
  return "mnigs";
}

}  // namespace mnigs
