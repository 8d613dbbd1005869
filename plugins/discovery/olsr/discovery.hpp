// The olsr discovery plugin: asks the local OLSR daemon (olsrd through
// jsoninfo or txtinfo, or olsrd2 through telnet) which nodes it knows, and
// reports their originator addresses as candidates. See README.md.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <mnigs/plugin.hpp>
#include <string>
#include <vector>

#include "log_limit.hpp"
#include "query.hpp"
#include "settings.hpp"

namespace mnigs::olsr {

class OlsrDiscovery final : public DiscoveryPlugin {
 public:
  static void declare(ConfigDeclarer& d) { olsr::declare(d); }

  explicit OlsrDiscovery(PluginContext& ctx);
  ~OlsrDiscovery() override;

  void start() override;
  void stop() override;
  void config_changed() override;
  Json::Value status() const override;

  std::string network() const override { return "olsr"; }
  // Asks the daemons (one round at a time: calls during a round wait for
  // it). On failure the last answer's candidates are reported again, with
  // the error.
  void discover(std::function<void(Discovery)> done) override;

 private:
  struct Attempt {  // one daemon asked in a round
    std::string source, endpoint, error;
    bool answered = false;  // it sent something, usable or not
  };

  void on_attempt(const Outcome& outcome);
  void on_done(Outcome outcome);
  void log_skipped(const Outcome& outcome);
  void log_failure();
  std::string summary_of_attempts() const;
  void log_unusable(const Attempt& attempt);

  PluginContext& ctx_;
  Settings settings_;
  std::unique_ptr<Chain> chain_;  // the round in progress
  std::vector<std::function<void(Discovery)>> waiting_;
  LogLimit limiter_{1, std::chrono::minutes(1)};
  bool stopped_ = false;

  // What status() shows.
  Discovery last_;           // the last readable answer, as reported
  std::string last_source_;  // which interface gave it
  std::string last_endpoint_;
  std::size_t last_skipped_ = 0;   // entries skipped in it
  std::string last_error_;         // of the last round; "" if it succeeded
  std::int64_t last_success_ = 0;  // unix seconds
  bool failure_logged_ = false;    // this outage has been logged
  std::vector<Attempt> attempts_;  // of the last round, in order
  std::uint64_t rounds_ = 0;
};

}  // namespace mnigs::olsr
