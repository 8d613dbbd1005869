#include "config/startup.hpp"

#include <sys/stat.h>

#include <filesystem>

namespace mnigs {
namespace {

void throw_errors(const std::vector<ConfigIssue>& issues) {
  std::string msg;
  for (const auto& i : issues)
    if (i.severity == ConfigIssue::Severity::error) msg += (msg.empty() ? "" : "\n") + i.message;
  if (!msg.empty()) throw ConfigError(msg);
}

}  // namespace

StartupConfig load_startup_config(const std::string& path, bool required, Logger& log) {
  StartupConfig out;
  declare_core_keys(out.schema);
  YAML::Node root;
  struct stat st{};
  if (::stat(path.c_str(), &st) != 0 && errno == ENOENT && !required) {
    log.warn("config ", path, " does not exist; running on built-in defaults (see --dump-config)");
  } else {
    root = read_yaml_file(path);
    // Absolute, so setConfig writes the same file whatever the working directory.
    std::error_code ec;
    out.path = std::filesystem::absolute(path, ec).lexically_normal().string();
    if (ec) out.path = path;
  }
  // First pass over the core sections only: plugin sections are not declared yet.
  ParsedConfig core = validate(root, out.schema, path, /*all_sections_known=*/false);
  throw_errors(core.issues);

  std::vector<std::string> disabled;
  for (const auto& v : core.values["plugins"]["disabled"]) disabled.push_back(v.asString());
  out.libraries =
      load_plugin_libraries(core.values["plugins"]["dir"].asString(), disabled, out.schema, log);

  ParsedConfig full = validate(root, out.schema, path, /*all_sections_known=*/true);
  throw_errors(full.issues);
  for (auto& i : full.issues) out.warnings.push_back(std::move(i));
  out.values = std::move(full.values);
  return out;
}

}  // namespace mnigs
