// KeyValueStore for plugins: rows of table plugin_kv, keyed by (plugin, key),
// so each plugin sees only its own keys. Work runs on the Store's worker;
// callbacks are posted to the executor given at construction (the plugin's
// strand). Operations from one KvStore complete in the order they were made.
#pragma once

#include <mnigs/log.hpp>
#include <mnigs/store_api.hpp>

#include <boost/asio/any_io_executor.hpp>

#include <optional>
#include <string>
#include <string_view>

namespace mnigs {

class Store;

class KvStore final : public KeyValueStore {
 public:
  // `store` must outlive this object; `log` must outlive the operations
  // started through it. Failures are logged to `log` and then reported
  // through the callback: put/erase with done(false), get with
  // done(nullopt), list with done({}). Thread-safe.
  KvStore(Store& store, std::string plugin, boost::asio::any_io_executor ex, Logger& log);

  void get(std::string key, std::function<void(std::optional<std::string>)> done) override;
  // Inserts or replaces; stamps the row with the current unix time.
  void put(std::string key, std::string value, std::function<void(bool)> done = {}) override;
  // done(true) also when the key did not exist.
  void erase(std::string key, std::function<void(bool)> done = {}) override;
  // Byte-wise prefix match: '%' and '_' are ordinary characters here.
  void list(std::string prefix, std::function<void(std::vector<Row>)> done) override;

  const std::string& plugin() const { return plugin_; }

 private:
  Store& store_;
  const std::string plugin_;
  boost::asio::any_io_executor ex_;
  Logger& log_;
};

// The smallest string that sorts (byte-wise) after every string starting with
// `prefix`; nullopt when there is no such bound ("" or all 0xff bytes).
std::optional<std::string> prefix_upper_bound(std::string_view prefix);

}  // namespace mnigs
