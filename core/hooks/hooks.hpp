// The user's hook commands (gateway.onRegister, gateway.onRelease,
// subscriber.onConnect, subscriber.onDisconnect): run with `sh -c`, the
// event's details in MNIGS_* environment variables and as arguments, killed
// with whatever it started after daemon.hookTimeout seconds. They run one at
// a time; at most 64 wait, more are dropped with a warning. Each value is at
// most 1024 bytes with control characters replaced by '?' (some come from
// other nodes). A failing hook is logged, never fatal.
#pragma once

#include "config/config.hpp"
#include "os/command_runner.hpp"

#include <mnigs/log.hpp>

#include <atomic>
#include <map>
#include <string>

namespace mnigs {

class Hooks {
 public:
  Hooks(const ConfigHolder& config, Logger& log) : config_(config), log_(log) {}

  // Runs the command configured at `key` ("gateway.onRegister"), if any.
  // `details` become MNIGS_<NAME> variables (e.g. {"SESSION_ID", "ab12"}), and
  // the positional arguments are: event, session id, subscriber address,
  // gateway address, suite. Returns at once.
  void fire(const std::string& key, const std::map<std::string, std::string>& details);

  // Waits for hooks still running (shutdown).
  void drain() { runner_.drain(); }

 private:
  const ConfigHolder& config_;
  Logger& log_;
  std::atomic<std::size_t> dropped_{0};
  os::CommandRunner runner_;
};

}  // namespace mnigs
