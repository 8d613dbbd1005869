#include "store/kv_store.hpp"

#include "store/sqlite.hpp"
#include "store/store.hpp"

#include <chrono>

namespace mnigs {

namespace {

constexpr std::size_t kLoggedKeyChars = 80;

// Keys come from plugins and may be long or binary; keep log lines readable.
std::string loggable(std::string_view key) {
  std::string out = "\"";
  for (char c : key.substr(0, kLoggedKeyChars))
    out += (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) ? '?' : c;
  out += key.size() > kLoggedKeyChars ? "\"..." : "\"";
  return out;
}

std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

std::optional<std::string> prefix_upper_bound(std::string_view prefix) {
  std::string bound(prefix);
  while (!bound.empty() && static_cast<unsigned char>(bound.back()) == 0xff) bound.pop_back();
  if (bound.empty()) return std::nullopt;
  bound.back() = static_cast<char>(static_cast<unsigned char>(bound.back()) + 1);
  return bound;
}

KvStore::KvStore(Store& store, std::string plugin, boost::asio::any_io_executor ex, Logger& log)
    : store_(store), plugin_(std::move(plugin)), ex_(std::move(ex)), log_(log) {}

// Each closure below copies what it needs (never `this`): the KvStore may be
// dropped while its work is still queued.

void KvStore::get(std::string key, std::function<void(std::optional<std::string>)> done) {
  std::function<std::optional<std::string>(sqlite3*)> fn =
      [plugin = plugin_, key = std::move(key),
       &log = log_](sqlite3* db) -> std::optional<std::string> {
    try {
      Statement st(db, "SELECT value FROM plugin_kv WHERE plugin = ? AND key = ?");
      st.bind_text(1, plugin).bind_text(2, key);
      if (st.step()) return st.column_text(0);
    } catch (const std::exception& e) {
      log.error("store: reading key ", loggable(key), " failed: ", e.what());
    }
    return std::nullopt;
  };
  store_.query<std::optional<std::string>>(std::move(fn), ex_, std::move(done));
}

void KvStore::put(std::string key, std::string value, std::function<void(bool)> done) {
  std::function<bool(sqlite3*)> fn = [plugin = plugin_, key = std::move(key),
                                      value = std::move(value), &log = log_](sqlite3* db) {
    try {
      Statement st(db,
                   "INSERT INTO plugin_kv (plugin, key, value, updated) VALUES (?, ?, ?, ?) "
                   "ON CONFLICT (plugin, key) DO UPDATE SET value = excluded.value, "
                   "updated = excluded.updated");
      st.bind_text(1, plugin).bind_text(2, key).bind_text(3, value).bind_int64(4, unix_now());
      st.step();
      return true;
    } catch (const std::exception& e) {
      log.error("store: writing key ", loggable(key), " failed: ", e.what());
      return false;
    }
  };
  if (!done) return store_.post([fn = std::move(fn)](sqlite3* db) { fn(db); });
  store_.query<bool>(std::move(fn), ex_, std::move(done));
}

void KvStore::erase(std::string key, std::function<void(bool)> done) {
  std::function<bool(sqlite3*)> fn = [plugin = plugin_, key = std::move(key),
                                      &log = log_](sqlite3* db) {
    try {
      Statement st(db, "DELETE FROM plugin_kv WHERE plugin = ? AND key = ?");
      st.bind_text(1, plugin).bind_text(2, key);
      st.step();
      return true;
    } catch (const std::exception& e) {
      log.error("store: erasing key ", loggable(key), " failed: ", e.what());
      return false;
    }
  };
  if (!done) return store_.post([fn = std::move(fn)](sqlite3* db) { fn(db); });
  store_.query<bool>(std::move(fn), ex_, std::move(done));
}

void KvStore::list(std::string prefix, std::function<void(std::vector<Row>)> done) {
  std::function<std::vector<Row>(sqlite3*)> fn = [plugin = plugin_, prefix = std::move(prefix),
                                                  &log = log_](sqlite3* db) {
    std::vector<Row> rows;
    try {
      // A range on the primary key instead of LIKE: no escaping of '%' and
      // '_', byte-wise like the BINARY collation, and it uses the index.
      const auto upper = prefix_upper_bound(prefix);
      Statement st(db, upper ? "SELECT key, value FROM plugin_kv WHERE plugin = ?1 AND key >= ?2 "
                               "AND key < ?3 ORDER BY key"
                             : "SELECT key, value FROM plugin_kv WHERE plugin = ?1 AND key >= ?2 "
                               "ORDER BY key");
      st.bind_text(1, plugin).bind_text(2, prefix);
      if (upper) st.bind_text(3, *upper);
      while (st.step()) rows.emplace_back(st.column_text(0), st.column_text(1));
    } catch (const std::exception& e) {
      log.error("store: listing keys with prefix ", loggable(prefix), " failed: ", e.what());
      rows.clear();
    }
    return rows;
  };
  store_.query<std::vector<Row>>(std::move(fn), ex_, std::move(done));
}

}  // namespace mnigs
