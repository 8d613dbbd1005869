#include "hooks/hooks.hpp"

namespace mnigs {
namespace {

// What a hook is given comes partly from others (a gateway's name and
// suite, a subscriber's address): each value is cut to this many bytes and
// control characters become '?', so the environment stays far below the
// kernel's limit (E2BIG: the hook would silently not run) and a value is one
// line.
constexpr std::size_t max_value_bytes = 1024;
constexpr std::size_t max_details = 32;
// Hooks waiting to run (they run one at a time); more are dropped, with a
// warning, rather than queued without bound.
constexpr std::size_t max_pending = 64;

std::string hook_value(const std::string& text) {
  std::string out = text.substr(0, max_value_bytes);
  for (char& c : out)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
  return out;
}

// Names come from the daemon, but only [A-Z0-9_] make a variable a shell
// script can read.
bool is_variable_name(const std::string& name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name)
    if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_')) return false;
  return true;
}

}  // namespace

void Hooks::fire(const std::string& key, const std::map<std::string, std::string>& details) {
  auto config = config_.get();
  auto dot = key.find('.');
  std::string command = config->get_string(key.substr(0, dot), key.substr(dot + 1));
  if (command.empty()) return;
  if (runner_.pending() >= max_pending) {
    if (dropped_++ == 0)
      log_.warn("hook ", key, " not run: ", max_pending,
                " hooks are waiting already (further drops are counted, not logged)");
    return;
  }
  if (dropped_ > 0) {
    log_.warn(dropped_, " hook run(s) were dropped while ", max_pending, " were waiting");
    dropped_ = 0;
  }
  auto get = [&](const char* name) {
    auto it = details.find(name);
    return it == details.end() ? std::string() : hook_value(it->second);
  };
  os::Command c;
  // $0 is the hook's name, so `sh -c 'echo "$1 $2"'` sees the event first.
  c.argv = {"sh", "-c", command, "mnigs-hook", key, get("SESSION_ID"), get("SUBSCRIBER"),
            get("GATEWAY"), get("SUITE")};
  c.env["MNIGS_EVENT"] = key;
  std::size_t given = 0;
  for (const auto& [name, value] : details)
    if (is_variable_name(name) && given++ < max_details) c.env["MNIGS_" + name] = hook_value(value);
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
