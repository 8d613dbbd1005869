// Where a tunnel plugin's packets move: a thread of its own with its own
// io_context, so that packet work never waits behind the daemon's control
// work (RPC, SQLite, other plugins) and the control work never waits
// behind a busy tunnel. The plugin's strand posts here to set things up and
// tear them down; its sockets and tun devices live here.
//
// A handler that throws (a bug, or input no check foresaw) is logged,
// rate-limited, counted (errors(), for status), and the thread goes on.
#pragma once

#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

namespace mnigs {
class Logger;
}

namespace mnigs::tunnels {

class DataThread {
 public:
  // `name` (the plugin's) goes into its log lines.
  DataThread(Logger& log, std::string name);
  // Runs what was posted so far, then stops the loop (pending reads and
  // timers are dropped) and joins the thread.
  ~DataThread();
  DataThread(const DataThread&) = delete;
  DataThread& operator=(const DataThread&) = delete;

  boost::asio::io_context& io() { return io_; }
  // Runs fn on the data thread. Thread-safe.
  void post(std::function<void()> fn);
  // Handlers that threw, and what the last one said (for status).
  std::uint64_t errors() const { return errors_; }
  std::string last_error() const;

 private:
  Logger& log_;
  std::string name_;
  std::atomic<std::uint64_t> errors_{0};
  mutable std::mutex error_mutex_;
  std::string last_error_;
  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> guard_;
  std::thread thread_;
};

}  // namespace mnigs::tunnels
