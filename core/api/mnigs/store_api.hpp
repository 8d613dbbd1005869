// The key-value store a plugin gets: rows in the daemon's SQLite database,
// private to the plugin (namespaced by its name). Every call is asynchronous;
// callbacks run on the plugin's strand.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace mnigs {

class KeyValueStore {
 public:
  using Row = std::pair<std::string, std::string>;
  virtual ~KeyValueStore() = default;
  virtual void get(std::string key, std::function<void(std::optional<std::string>)> done) = 0;
  // `done(ok)` is optional; a failed write is also logged by the store.
  virtual void put(std::string key, std::string value, std::function<void(bool)> done = {}) = 0;
  virtual void erase(std::string key, std::function<void(bool)> done = {}) = 0;
  // All rows whose key starts with `prefix`, ordered by key.
  virtual void list(std::string prefix, std::function<void(std::vector<Row>)> done) = 0;
};

}  // namespace mnigs
