// Reading the config at start-up: the core keys first (they say where the
// plugins are), then the plugins' declarations, then one validation pass over
// everything. Shared by mnigsd and mnigs-cli.
#pragma once

#include "config/config.hpp"
#include "plugin_host/loader.hpp"

#include <mnigs/log.hpp>

#include <string>
#include <vector>

namespace mnigs {

inline constexpr const char* default_config_path = "/etc/mnigs/mnigs.yaml";

struct StartupConfig {
  Schema schema;
  std::vector<PluginLibrary> libraries;
  std::string path;  // the file read; "" when running on defaults
  Json::Value values;
  std::vector<ConfigIssue> warnings;
};

// Reads `path` (a missing file is an error when `required`, else the defaults
// are used with a warning), loads the plugin libraries it names and validates.
// Throws ConfigError listing every error found.
StartupConfig load_startup_config(const std::string& path, bool required, Logger& log);

}  // namespace mnigs
