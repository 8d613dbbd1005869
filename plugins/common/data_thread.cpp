#include "data_thread.hpp"

#include "log_limit.hpp"
#include "util/guarded_loop.hpp"

#include <boost/asio/post.hpp>
#include <mnigs/log.hpp>
#include <utility>

namespace mnigs::tunnels {

namespace net = boost::asio;

DataThread::DataThread(Logger& log, std::string name)
    : log_(log), name_(std::move(name)), guard_(net::make_work_guard(io_)), thread_([this] {
        // A handler that throws (a bug, or input no check foresaw) is logged,
        // rate-limited, counted in status, and the data plane goes on.
        LogLimit limit(4, std::chrono::seconds(10));
        run_guarded(io_, [this, &limit](const std::string& what) {
          ++errors_;
          {
            std::lock_guard lock(error_mutex_);
            last_error_ = what;
          }
          std::uint64_t held = 0;
          if (limit.allow(std::chrono::steady_clock::now(), &held))
            log_.error(name_, ": data plane handler failed: ", what,
                       held ? " (" + std::to_string(held) + " more not logged)" : "");
        });
      }) {}

std::string DataThread::last_error() const {
  std::lock_guard lock(error_mutex_);
  return last_error_;
}

DataThread::~DataThread() {
  // Behind what was posted before (the owner's stop of its links and
  // devices), so that runs first; then the loop ends whatever still waits.
  net::post(io_, [this] { io_.stop(); });
  guard_.reset();
  if (thread_.joinable()) thread_.join();
}

void DataThread::post(std::function<void()> fn) { net::post(io_, std::move(fn)); }

}  // namespace mnigs::tunnels
