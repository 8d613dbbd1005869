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

}  // namespace mnigs
