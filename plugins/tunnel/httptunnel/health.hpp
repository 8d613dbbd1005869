// The node's health checks (httptunnel.healthCheck): every `interval`, each
// service (and the token mode's backend) is asked `GET <path>`; one that
// does not answer within `timeout`, or answers with a status of 500 or
// more, fails until it answers below 500 again (a 4xx is the service
// answering: a path or a Host it does not know). While a service fails,
// the node answers its requests with 503 and Retry-After at once instead
// of handing them on.
//
// Bounds: one check per target at a time, an answer's head read within
// 16 KiB and its body not read at all.
//
// Threading: everything on the io_context given (the plugin's data thread);
// not thread-safe. No handler runs after stop().
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <json/value.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>

namespace mnigs::httptunnel {

class HealthChecks : public std::enable_shared_from_this<HealthChecks> {
 public:
  // What one target is: a service by name, or link::kTokenAuthority for
  // the token mode's backend.
  struct Target {
    std::string host;  // an IP literal or a name
    std::uint16_t port = 0;
    std::string host_field;  // the request's Host
    std::string prefix;      // put before `path` (a token backend's URL path)
  };
  struct Options {
    std::string path = "/";
    std::chrono::milliseconds interval{10000};
    std::chrono::milliseconds timeout{5000};
  };

  HealthChecks(boost::asio::io_context& io, Options options,
               std::map<std::string, Target> targets);
  ~HealthChecks();
  HealthChecks(const HealthChecks&) = delete;
  HealthChecks& operator=(const HealthChecks&) = delete;

  // Checks each target now, and every interval after.
  void start();
  void stop();
  // Why `name` fails its check ("" when it passed the last one, has not
  // been checked yet, or is not a target).
  std::string failing(const std::string& name) const;
  // {"<name>": {"healthy": bool, "checks": N, "error": "..."}}
  Json::Value status() const;

 private:
  struct Check;
  void check(const std::string& name);
  void done(const std::string& name, std::string error);

  boost::asio::io_context& io_;
  Options options_;
  std::map<std::string, Target> targets_;
  struct State {
    std::string error;  // "" while healthy
    std::uint64_t checks = 0;
  };
  std::map<std::string, State> state_;
  std::map<std::string, std::shared_ptr<Check>> running_;
  std::map<std::string, std::shared_ptr<boost::asio::steady_timer>> timers_;
  bool stopped_ = false;
};

}  // namespace mnigs::httptunnel
