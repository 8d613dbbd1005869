// The subscriber side: one connection to one gateway at a time. connect asks
// the gateway's nodeInfo, picks a suite both ends support, requests a
// session, brings the tunnel up, and renews the session well before it
// expires (every third of its timeout). A renewal the gateway refuses, or no
// answer until the session has expired, tears the connection down and says
// why. The connection is kept in SQLite: after a restart (or kill -9) it is
// resumed, or reported as expired. Everything runs on the manager's strand.
// Its timers run on an os::Clock: the real one in the daemon, one moved by
// hand in unit tests.
#pragma once

#include "config/config.hpp"
#include "hooks/hooks.hpp"
#include "os/clock.hpp"
#include "peer/rpc_client.hpp"
#include "plugin_host/host.hpp"
#include "store/store.hpp"

#include <mnigs/rpc_api.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace mnigs {

struct Connection {
  std::string gateway_address;
  int gateway_port = 65533;
  std::string gateway_name;
  std::string session_id, secret;
  std::string suite;
  Json::Value tunnel{Json::objectValue};  // the reply's "tunnel" object
  std::int64_t timeout = 0;               // seconds granted per renewal
  std::int64_t created = 0, expires = 0;  // unix seconds (our clock)

  std::string tunnel_method() const;
  Json::Value describe() const;  // for listSessions/status; never the secret
};

class ConnectionManager {
 public:
  using Clock = std::function<std::int64_t()>;  // unix seconds

  // `clock` dates the session (created, expires); `timers` schedules renewals
  // and retries. Tests pass one hand-moved clock for both.
  ConnectionManager(boost::asio::io_context& io, const ConfigHolder& config, Store& store,
                    PluginHost& plugins, Hooks& hooks, Clock clock,
                    os::Clock& timers = os::real_clock());

  // Resumes a stored connection (the tunnel plugins must have been reset).
  void start(std::function<void()> done);
  // Takes the tunnel down and removes its routes; the record stays so the
  // next start resumes it. A call to a gateway already made may still
  // complete afterwards: destroy the manager only once `io` has stopped.
  void stop(std::function<void()> done);

  // Admin RPC: {"address": IP, "port": 65533, "suite": optional}.
  void connect(const Json::Value& params, Responder reply);
  // Admin RPC: releases the session and takes the tunnel down.
  void disconnect(Responder reply);
  // {"state": "starting"|"idle"|"connecting"|"connected"|"disconnecting", "connection": {...},
  //  "lastError": "..."}
  void describe(std::function<void(Json::Value)> done);

 private:
  // starting: until start() has resumed the stored connection or found none.
  enum class State { starting, idle, connecting, connected, disconnecting };
  static const char* to_string(State s);

  void on_node_info(Connection c, std::string wanted_suite, Responder reply, RpcReply info);
  // requestConnection, retried a few times while the gateway is starting.
  void request_session(Connection c, Responder reply, int attempt);
  // A connect that failed: idle again, `message` kept as the last error,
  // logged and answered.
  void fail_connect(const Responder& reply, int code, std::string message);
  // Releases a granted session the connect will not use.
  void give_back(const Connection& c);
  // Records the connection, then connect_tunnel().
  void bring_up(Connection c, Responder reply);
  void connect_tunnel(Connection c, Responder reply);
  // Out of State::starting: the connects that waited for it go on.
  void leave_starting(State next);
  void schedule_renewal(std::chrono::seconds in);
  void renew();
  // Takes the tunnel down, forgets the record, runs onDisconnect; then `done`.
  void tear_down(const std::string& reason, std::function<void()> done = {});
  // Writes the record; with `then`, waits for it to land and passes the
  // error ("" once written).
  void persist(const Connection& c, std::function<void(std::string error)> then = {});
  void forget();
  TunnelSession tunnel_session(const Connection& c) const;

  boost::asio::io_context& io_;
  boost::asio::strand<boost::asio::io_context::executor_type> strand_;
  const ConfigHolder& config_;
  Store& store_;
  PluginHost& plugins_;
  Hooks& hooks_;
  Clock clock_;
  StderrLogger log_{"subscriber"};
  std::unique_ptr<os::Timer> timer_;  // renewal
  std::unique_ptr<os::Timer> retry_;  // requestConnection while the gateway starts
  State state_ = State::starting;
  static constexpr std::size_t kMaxWaitingConnects = 16;
  std::vector<std::function<void()>> after_start_;  // connects made while starting
  std::optional<Connection> connection_;
  std::string last_error_;
  bool stopped_ = false;
};

}  // namespace mnigs
