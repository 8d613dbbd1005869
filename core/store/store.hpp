// The daemon's SQLite database. One connection, owned by one worker thread:
// every access runs there, as a closure taken from a FIFO queue, so the event
// loop never waits on disk. Closures run one at a time, in the order they were
// queued, and get the connection as their argument; use store/sqlite.hpp there.
#pragma once

#include "store/migrations.hpp"

#include <mnigs/log.hpp>
#include <mnigs/store_api.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/post.hpp>

#include <condition_variable>
#include <deque>
#include <exception>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

struct sqlite3;

namespace mnigs {

class Store {
 public:
  using Work = std::function<void(sqlite3*)>;

  // Opens or creates the database at `path` (and its parent directory, mode
  // 0700) and brings it to the latest schema. Throws StoreError, with what
  // to do, if the file is not a database, is corrupt, was written by a newer
  // mnigsd, or a migration fails; a file refused for the first three reasons
  // is left byte-for-byte as it was. Blocks until done: call at start-up only.
  static std::unique_ptr<Store> open(const std::string& path, Logger& log);
  // The same with another migration list (tests: upgrades, failing migrations).
  static std::unique_ptr<Store> open(const std::string& path, Logger& log,
                                     const std::vector<Migration>& list);

  // Runs everything still queued, closes the connection (which checkpoints
  // the WAL into the file) and joins the worker. Do not queue work from
  // other threads once destruction has begun.
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // Queues `fn`. An exception it throws is logged and dropped; the worker
  // carries on. Thread-safe, never blocks on the database.
  void post(Work fn);

  // Runs `fn` on the worker, then posts done(result) to `ex`. If `fn` throws,
  // the error is logged and failed(message) is posted to `ex` instead (when
  // given): exactly one of done/failed runs, and neither if `failed` is
  // empty and `fn` threw. The worker posts to `ex` from its own thread, so
  // the execution context behind `ex` must outlive this Store. Thread-safe,
  // never blocks.
  template <class R>
  void query(std::function<R(sqlite3*)> fn, boost::asio::any_io_executor ex,
             std::function<void(R)> done, std::function<void(std::string)> failed = {});

  // Runs `fn` on the worker and waits for it; rethrows what it threw. Blocks
  // the caller: for start-up, shutdown and tests, never on the event loop.
  // Throws std::logic_error when called from the worker itself.
  template <class R>
  R call(std::function<R(sqlite3*)> fn);

  // Waits until everything queued before this call has run. Same blocking
  // rules as call().
  void flush();

  // The file's schema version after open (PRAGMA user_version).
  int schema_version() const { return schema_version_; }
  const std::string& path() const { return path_; }

  // A key-value store private to plugin `ns` (rows in plugin_kv), with its
  // callbacks posted to `ex` and its errors logged to `log`. It must not
  // outlive this Store; `log` must outlive the operations it starts, and the
  // context behind `ex` must outlive this Store (as for query()).
  std::unique_ptr<KeyValueStore> namespaced(std::string ns, boost::asio::any_io_executor ex,
                                            Logger& log);

  // True on the worker thread, i.e. inside a queued closure.
  bool on_worker_thread() const { return std::this_thread::get_id() == worker_.get_id(); }

 private:
  Store(std::string path, Logger& log);
  void run();
  void close_database();
  int open_database(const std::vector<Migration>& list);
  [[noreturn]] void refuse(const std::string& message, bool had_wal, bool had_shm);
  void check_not_worker(const char* what) const;

  const std::string path_;
  Logger& log_;
  sqlite3* db_ = nullptr;  // used only on the worker thread
  int schema_version_ = 0;

  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Work> queue_;  // guarded by mutex_
  bool stopping_ = false;   // guarded by mutex_
  std::thread worker_;      // last: starts once everything above exists
};

template <class R>
void Store::query(std::function<R(sqlite3*)> fn, boost::asio::any_io_executor ex,
                  std::function<void(R)> done, std::function<void(std::string)> failed) {
  post([this, fn = std::move(fn), ex = std::move(ex), done = std::move(done),
        failed = std::move(failed)](sqlite3* db) mutable {
    std::string error;
    try {
      if constexpr (std::is_void_v<R>) {
        fn(db);
        boost::asio::post(ex, [done = std::move(done)] {
          if (done) done();
        });
      } else {
        R result = fn(db);
        boost::asio::post(ex, [done = std::move(done), result = std::move(result)]() mutable {
          if (done) done(std::move(result));
        });
      }
      return;
    } catch (const std::exception& e) {
      error = e.what();
    } catch (...) {
      error = "unknown exception";
    }
    log_.error("database ", path_, ": query failed: ", error);
    if (failed)
      boost::asio::post(ex, [failed = std::move(failed), error = std::move(error)]() mutable {
        failed(std::move(error));
      });
  });
}

template <class R>
R Store::call(std::function<R(sqlite3*)> fn) {
  check_not_worker("call");
  auto promise = std::make_shared<std::promise<R>>();
  auto future = promise->get_future();
  post([promise, fn = std::move(fn)](sqlite3* db) {
    try {
      if constexpr (std::is_void_v<R>) {
        fn(db);
        promise->set_value();
      } else {
        promise->set_value(fn(db));
      }
    } catch (...) {
      promise->set_exception(std::current_exception());
    }
  });
  return future.get();
}

}  // namespace mnigs
