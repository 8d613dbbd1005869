// The gateway's check of its own uplink (gateway.uplinkCheck): every
// gateway.uplinkInterval ms it opens a TCP connection to each target
// ("HOST:PORT", HOST an address or a name) and closes it at once. A round
// in which no target answers within the interval is a failure; two failed
// rounds in a row and the uplink is down. It is up again after
// gateway.uplinkStable seconds in which every round had an answer.
//
// While the uplink is down the gateway offers nothing: nodeInfo says it is
// no gateway, the DHT offer is withdrawn, requestConnection is refused, and
// subscribers learn it from renewal replies and probe echoes, so they move
// before their own probes could notice. Without targets the uplink is taken
// as up and never checked; so is one whose targets none can be read (said
// in the log and in status). Runs on a strand of its own.
#pragma once

#include "config/config.hpp"
#include "log/log.hpp"
#include "os/clock.hpp"

#include <json/value.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace mnigs {

class UplinkCheck {
 public:
  // `on_change(up)` runs on the check's strand after each change.
  UplinkCheck(boost::asio::io_context& io, const ConfigHolder& config, os::Clock& clock,
              std::function<void(bool up)> on_change);
  ~UplinkCheck();

  void start();
  void stop();
  // The targets or the interval changed.
  void config_changed();

  // Thread-safe. True without targets.
  bool up() const { return up_.load(); }
  // {"state": "up"|"down"|"unchecked", "since": unix seconds, "targets": [...],
  //  "lastFailure": "...", "invalid": [...]}
  void status(std::function<void(Json::Value)> done);

 private:
  struct Round;
  void schedule(std::chrono::milliseconds in);
  void run_round();
  void round_done(bool answered, const std::string& failure);
  void set_up(bool up, const std::string& why);

  boost::asio::io_context& io_;
  boost::asio::strand<boost::asio::io_context::executor_type> strand_;
  const ConfigHolder& config_;
  os::Clock& clock_;
  std::function<void(bool)> on_change_;
  StderrLogger log_{"uplink"};
  std::unique_ptr<os::Timer> timer_;
  std::atomic<bool> up_{true};
  bool stopped_ = true;
  bool checking_ = false;        // targets are configured
  std::uint64_t generation_ = 0;  // rounds of an older configuration are ignored
  int failed_in_a_row_ = 0;
  std::chrono::steady_clock::time_point answered_since_{};  // first of the current good rounds
  bool answered_streak_ = false;
  std::int64_t since_ = 0;  // unix seconds of the last change
  std::string last_failure_;
  std::vector<std::string> invalid_;
  bool all_invalid_ = false;  // no target could be read: not checked
};

}  // namespace mnigs
