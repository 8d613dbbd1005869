// A small publish/subscribe bus between the core and plugins. Events are
// named by topic ("plugin.failed", "scan.progress", ...) and carry JSON.
#pragma once

#include <json/value.h>

#include <cstdint>
#include <functional>
#include <string>

namespace mnigs {

class EventBus {
 public:
  using Handler = std::function<void(const std::string& topic, const Json::Value& data)>;
  using Subscription = std::uint64_t;
  virtual ~EventBus() = default;
  // Delivers to every subscriber of `topic` (or of "*"), each on its own executor.
  virtual void publish(const std::string& topic, Json::Value data) = 0;
  // `topic` is an exact topic, a prefix ending in '.' ("scan."), or "*".
  virtual Subscription subscribe(const std::string& topic, Handler handler) = 0;
  virtual void unsubscribe(Subscription id) = 0;
};

}  // namespace mnigs
