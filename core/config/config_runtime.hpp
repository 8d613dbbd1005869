// The running config plus what is needed to change it: the snapshot holder,
// the schema, and the keys written to the file that wait for a restart.
// setConfig (rpc/) and the daemon share one.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "config/config_edit.hpp"

namespace mnigs {

struct ConfigRuntime {
  ConfigHolder holder;
  Schema schema;
  std::mutex write_mutex;                 // one setConfig at a time
  std::set<std::string> restart_pending;  // keys written to the file, not yet in effect
  // Called with the live changes after a new snapshot is in place.
  std::function<void(const std::vector<ConfigChange>&)> on_live_change;

  explicit ConfigRuntime(std::shared_ptr<const Config> initial) : holder(std::move(initial)) {}
};

struct ReloadOutcome {
  std::vector<std::string> errors;            // why nothing changed; empty when it went
  std::vector<std::string> applied;           // live keys whose new value is in effect
  std::vector<std::string> restart_required;  // changed keys waiting for a restart
};

// Reads the running config's file again (SIGHUP, reloadConfig, the service
// manager's reload) with the validation of a start. When it is invalid,
// nothing changes and `errors` says why. Otherwise each live key that
// changed takes its new value (on_live_change runs), and each other one
// that differs from its running value waits for a restart, as setConfig's
// would; plugin keys the running daemon does not know are not read.
ReloadOutcome reload_config(ConfigRuntime& runtime);

}  // namespace mnigs
