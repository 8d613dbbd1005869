#include "hooks/hooks.hpp"

namespace mnigs {

void Hooks::fire(const std::string& key, const std::map<std::string, std::string>& details) {
  auto config = config_.get();
  auto dot = key.find('.');
  std::string command = config->get_string(key.substr(0, dot), key.substr(dot + 1));
  if (command.empty()) return;
  auto get = [&](const char* name) {
    auto it = details.find(name);
    return it == details.end() ? std::string() : it->second;
  };
  os::Command c;
  // $0 is the hook's name, so `sh -c 'echo "$1 $2"'` sees the event first.
  c.argv = {"sh", "-c", command, "mnigs-hook", key, get("SESSION_ID"), get("SUBSCRIBER"),
            get("GATEWAY"), get("SUITE")};
  c.env["MNIGS_EVENT"] = key;
  for (const auto& [name, value] : details) c.env["MNIGS_" + name] = value;
  c.timeout = std::chrono::seconds(config->get_int("daemon", "hookTimeout"));
  log_.debug("hook ", key, ": running ", command);
  Logger& log = log_;
  runner_.submit(std::move(c), [&log, key, command](CommandOutcome outcome) {
    if (outcome.timed_out)
      log.warn("hook ", key, " (", command, ") was killed after daemon.hookTimeout");
    else if (outcome.exit_code != 0)
      log.warn("hook ", key, " (", command, ") exited with ", outcome.exit_code,
               outcome.err.empty() ? "" : ": " + outcome.err.substr(0, 300));
    else
      log.debug("hook ", key, " done");
  });
}

}  // namespace mnigs
