// The gateway side of the session protocol: requestConnection,
// renewConnection, releaseConnection. Sessions are created with ids and
// secrets from the CSPRNG, bound to the subscriber's mesh address, limited by
// gateway.maxConnections, expired after gateway.subscriberTimeout without a
// renewal, and kept in SQLite so a restart (or kill -9) loses none.
// Everything runs on the manager's strand.
#pragma once

#include "config/config.hpp"
#include "hooks/hooks.hpp"
#include "plugin_host/host.hpp"
#include "store/store.hpp"

#include <mnigs/rpc_api.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace mnigs {

struct GatewaySession {
  std::string id, secret;
  std::string subscriber_address, gateway_address;
  std::string name;
  int port = 0;
  std::string suite;
  Json::Value tunnel{Json::objectValue};
  std::int64_t created = 0, expires = 0;  // unix seconds
  std::int64_t stored_expires = 0;        // the expiry SQLite holds (renewals skip writes)

  std::string tunnel_method() const;  // the middle part of the suite
  Json::Value describe() const;       // for listSessions; never the secret
};

class SessionManager {
 public:
  using Clock = std::function<std::int64_t()>;  // unix seconds

  SessionManager(boost::asio::io_context& io, const ConfigHolder& config, Store& store,
                 PluginHost& plugins, Hooks& hooks, Clock clock);

  // Loads the stored sessions: expired ones are dropped (onRelease runs),
  // live ones get their tunnel end set up again. The tunnel plugins must have
  // been reset before. `done` runs on the io_context.
  void start(std::function<void()> done);
  // Stops taking requests and expiring sessions; the records stay for the
  // next start. The tunnel ends stay too: the caller resets the tunnel
  // plugins next (as Daemon::shutdown does), which removes them all at once.
  void stop(std::function<void()> done);

  void request(const Json::Value& params, const CallInfo& caller, Responder reply);
  void renew(const Json::Value& params, const CallInfo& caller, Responder reply);
  void release(const Json::Value& params, const CallInfo& caller, Responder reply);
  void list(std::function<void(Json::Value)> done);
  // How many sessions are held (nodeInfo's capacity): O(1), no descriptions.
  void count(std::function<void(std::size_t)> done);

  // Told which addresses each session holds (its subscriber's mesh address
  // and the tunnel addresses it was given) when it starts or resumes, and an
  // empty list when it ends: the probe echo service answers only those.
  // Called on the strand; set it before start().
  using HoldersSink =
      std::function<void(const std::string& id, std::vector<boost::asio::ip::address>)>;
  void set_holders_sink(HoldersSink sink) { holders_ = std::move(sink); }
  // Whether the uplink works (UplinkCheck::up); without it, always. While it
  // does not, requestConnection is refused and renewals say "uplink": false.
  // Set before start().
  void set_uplink(std::function<bool()> up) { uplink_up_ = std::move(up); }

  // Ends every session whose expiry is at or before `now`; returns the next
  // expiry (0 if none). Runs on the strand; public for tests.
  std::int64_t expire_due(std::int64_t now);

 private:
  void schedule_expiry();
  // Queues the record's write; `then`, when given, runs on the strand once
  // it is written (or failed, which is logged).
  void persist(const GatewaySession& s, std::function<void()> then = {});
  static void write(sqlite3* db, const GatewaySession& s);
  // Runs onRegister and answers requestConnection for a recorded session.
  void announce(const GatewaySession& s, const Responder& reply, std::int64_t timeout);
  void forget(const std::string& id);
  // Tells the holders sink about `s` (ended: no addresses).
  void tell_holders(const GatewaySession& s, bool ended);
  // Closes the tunnel end, deletes the record, runs onRelease.
  void end_session(const GatewaySession& s, const std::string& why);
  // Finds the session named in params and checks secret and caller; answers
  // the error itself and returns nullptr when they do not match.
  GatewaySession* authorize(const Json::Value& params, const CallInfo& caller,
                            const Responder& reply, const char* method);

  boost::asio::io_context& io_;
  boost::asio::strand<boost::asio::io_context::executor_type> strand_;
  const ConfigHolder& config_;
  Store& store_;
  PluginHost& plugins_;
  Hooks& hooks_;
  Clock clock_;
  StderrLogger log_{"gateway"};
  boost::asio::steady_timer timer_;
  std::map<std::string, GatewaySession> sessions_;
  std::size_t pending_ = 0;             // requests waiting for their tunnel end
  std::set<std::string> in_flight_;     // their subscriber addresses
  bool ready_ = false;                  // stored sessions are loaded
  bool stopped_ = false;
  HoldersSink holders_;
  std::function<bool()> uplink_up_;
};

}  // namespace mnigs
