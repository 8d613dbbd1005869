// The effective configuration: every declared key with its value or default,
// validated in one pass. A Config is an immutable snapshot; a live change
// makes a new one (see ConfigHolder).
#pragma once

#include "config/schema.hpp"

#include <json/value.h>
#include <yaml-cpp/yaml.h>

#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

namespace mnigs {

struct ConfigIssue {
  enum class Severity { error, warning };
  Severity severity;
  std::string message;  // complete sentence naming the key, value and what is allowed
};

class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class Config {
 public:
  Config() = default;
  Config(std::string path, Json::Value values) : path_(std::move(path)), values_(std::move(values)) {}

  // The file this came from ("" when built from defaults only).
  const std::string& path() const { return path_; }
  // {"section": {"key": value, ...}, ...} for every declared key.
  const Json::Value& values() const { return values_; }
  const Json::Value& section(const std::string& name) const;
  const Json::Value& get(const std::string& section, const std::string& key) const;

  std::string get_string(const std::string& section, const std::string& key) const;
  std::int64_t get_int(const std::string& section, const std::string& key) const;
  bool get_bool(const std::string& section, const std::string& key) const;
  std::vector<std::string> get_list(const std::string& section, const std::string& key) const;

  // daemon.dataDir, and database.file resolved against it.
  std::string data_dir() const;
  std::string database_path() const;

 private:
  std::string path_;
  Json::Value values_{Json::objectValue};
};

struct ParsedConfig {
  Json::Value values{Json::objectValue};
  std::vector<ConfigIssue> issues;
  bool ok() const;  // no error-severity issue
};

// Reads and parses a YAML file. Throws ConfigError for a missing/unreadable
// file or a YAML syntax error ("config /etc/mnigs/mnigs.yaml line 3, column 7: ...").
YAML::Node read_yaml_file(const std::string& path);
YAML::Node parse_yaml_text(const std::string& text, const std::string& path_for_messages);

// Validates `root` against `schema`. Sections the schema does not know are
// warnings when `all_sections_known` is false they are skipped silently (the
// first pass at start-up, before plugins declared their sections).
ParsedConfig validate(const YAML::Node& root, const Schema& schema, const std::string& path,
                      bool all_sections_known = true);

// Fills every key of `schema` with its default.
Json::Value defaults(const Schema& schema);

// YAML text of every key with its effective value and, in comments, its help,
// type and default: what `mnigsd --dump-config` prints.
std::string dump_config(const Schema& schema, const Json::Value& values,
                        const std::string& source);

// Holds the current snapshot; readers take a shared_ptr copy. Thread-safe.
class ConfigHolder {
 public:
  explicit ConfigHolder(std::shared_ptr<const Config> initial) : current_(std::move(initial)) {}
  std::shared_ptr<const Config> get() const {
    std::lock_guard lock(mutex_);
    return current_;
  }
  void set(std::shared_ptr<const Config> next) {
    std::lock_guard lock(mutex_);
    current_ = std::move(next);
  }

 private:
  mutable std::mutex mutex_;
  std::shared_ptr<const Config> current_;
};

// The name this node shows: main.name, or the host name when that is empty.
std::string node_name(const Config& config);

}  // namespace mnigs
