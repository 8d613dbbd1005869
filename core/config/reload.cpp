#include "config/config_runtime.hpp"

namespace mnigs {

ReloadOutcome reload_config(ConfigRuntime& runtime) {
  ReloadOutcome out;
  std::lock_guard lock(runtime.write_mutex);
  auto current = runtime.holder.get();
  if (current->path().empty()) {
    out.errors.push_back("mnigsd runs on built-in defaults without a config file: nothing to read");
    return out;
  }
  ParsedConfig parsed;
  try {
    parsed = validate(read_yaml_file(current->path()), runtime.schema, current->path());
  } catch (const std::exception& e) {
    out.errors.push_back(e.what());
    return out;
  }
  for (const auto& issue : parsed.issues)
    if (issue.severity == ConfigIssue::Severity::error) out.errors.push_back(issue.message);
  if (!out.errors.empty()) return out;

  Json::Value values = current->values();
  std::vector<ConfigChange> live;
  for (const auto& section : runtime.schema.sections())
    for (const auto& key : section.keys) {
      const std::string dotted = section.name + "." + key.name;
      const Json::Value& now = current->get(section.name, key.name);
      const Json::Value& read = parsed.values[section.name][key.name];
      if (read == now) {
        runtime.restart_pending.erase(dotted);  // the file says what runs
        continue;
      }
      if (key.live) {
        values[section.name][key.name] = read;
        live.push_back(ConfigChange{section.name, key.name, read, true});
        out.applied.push_back(dotted);
      } else {
        runtime.restart_pending.insert(dotted);
        out.restart_required.push_back(dotted);
      }
    }
  runtime.holder.set(std::make_shared<const Config>(current->path(), values));
  if (!live.empty() && runtime.on_live_change) runtime.on_live_change(live);
  return out;
}

}  // namespace mnigs
