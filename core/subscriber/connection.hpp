// The subscriber side: one connection to one gateway at a time. connect asks
// the gateway's nodeInfo, picks a suite both ends support, requests a
// session, brings the tunnel up, and renews the session well before it
// expires (every third of its timeout). A renewal the gateway refuses, or no
// answer until the session has expired, tears the connection down and says
// why. The connection is kept in SQLite: after a restart (or kill -9) it is
// resumed, or reported as expired. Everything runs on the manager's strand.
// Its timers run on an os::Clock: the real one in the daemon, one moved by
// hand in unit tests.
//
// While connected, a prober (core/probe) checks the gateway through the
// tunnel. In auto mode (subscriber.auto, unless a manual connect pinned a
// gateway) the manager chooses the gateway itself (choice.hpp), and leaves
// one that is down, degraded or without uplink for the next best; a gateway
// left or failed is left out for subscriber.holdDown seconds. A pinned
// connection is only reported down and up again.
#pragma once

#include "config/config.hpp"
#include "hooks/hooks.hpp"
#include "os/clock.hpp"
#include "peer/rpc_client.hpp"
#include "plugin_host/host.hpp"
#include "probe/prober.hpp"
#include "store/kv_store.hpp"
#include "store/store.hpp"
#include "subscriber/choice.hpp"

#include <mnigs/events.hpp>
#include <mnigs/rpc_api.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>

#include <cstdint>
#include <functional>
#include <map>
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
  // The key the tunnel pins the gateway's end by, and where it came from
  // ("offer" or "nodeInfo"; gateway_key.hpp); "" when none is known. Stored
  // with the connection: a resumed tunnel pins the same key.
  std::string gateway_key, gateway_key_source;
  // The key this end of the tunnel was admitted by (the tunnel's
  // subscriber_key(), sent as "subscriberKey"); "" for none.
  std::string subscriber_key;
  // The tunnel's device for this session once it is up ("" for none, as
  // with forwarding): probes and tests through the tunnel are bound to it.
  // Not stored: the tunnel says it again when the session is resumed.
  std::string device;
  std::int64_t timeout = 0;               // seconds granted per renewal
  std::int64_t created = 0, expires = 0;  // unix seconds (our clock)
  // What the gateway metered for the session at its last renewal:
  // {"bytesOut", "bytesIn", "seconds", "at": our unix time}; null before.
  Json::Value metered;
  // The gateway's word on payment, from the grant and each renewal:
  // {"required", "paid", "url", "secondsRemaining", "bytesRemaining"}; null
  // from a gateway that says nothing.
  Json::Value payment;

  std::string tunnel_method() const;
  bool payment_required() const;  // the gateway waits for payment
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
  //  "lastError": "...", "auto": bool, "pinned": bool, "health": prober figures or null,
  //  "switches": [{"time", "from", "to", "reason"}...] (newest last)}
  void describe(std::function<void(Json::Value)> done);

  // Admin RPC testGateway: {"address", "port"?, "suite"?}. Measures the
  // gateway through a real tunnel: the current connection's when it is the
  // one, the standby's when it is that one, else a session brought up for
  // the test and given back after it (while idle; while connected only
  // through a tunnel that supports a standby, beside the connection, and
  // then without the check targets, which the routes reach through the
  // current gateway: "checks" null, "checksSkipped" says why). Answers
  // {"address", "port", "suite", "time", "setupMs" (null on an existing
  // session), "current", "probes", "rttMs": {"min", "median", "p95",
  // "jitter"}, "loss", "download", "upload" ({"bytes", "seconds",
  // "mbitPerS"}, or {"error"}), "checks", "score"}; kept in SQLite
  // (gateway_tests) for listGateways.
  void test_gateway(const Json::Value& params, Responder reply);

  // What auto mode needs from the rest of the daemon; without it auto mode
  // knows no gateways. Set before start().
  struct Environment {
    // listGateways' "gateways" array; `done` may run on any thread.
    std::function<void(std::function<void(Json::Value)> done)> list_gateways;
    // Asks for a scan (auto mode knows no usable gateway).
    std::function<void()> request_scan;
    // subscriber.up / down / degraded / switched go here.
    EventBus* events = nullptr;
    // The clock the health probes run on; null: the manager's.
    os::Clock* probe_clock = nullptr;
    // A connection came up (not a gateway test's own), with its gateway's address.
    std::function<void(const std::string& gateway)> connected;
  };
  void set_environment(Environment env);
  // subscriber.auto changed, or setAuto asked for auto mode (`unpin`: a
  // manual connect's pin is lifted).
  void auto_changed(bool unpin);

 private:
  // How long a gateway has to answer a call.
  static constexpr std::chrono::seconds kCallTimeout{5};
  // A session's credentials, as renew and release want them.
  static Json::Value credentials(const Connection& c);

  // starting: until start() has resumed the stored connection or found none.
  enum class State { starting, idle, connecting, connected, disconnecting };
  static const char* to_string(State s);

  // A session from the gateway `c` names (address, port): nodeInfo, a suite
  // both ends support (`wanted_suite` if not ""), requestConnection (retried
  // on `retry` a few times while the gateway is starting), the grant and its
  // tunnel parameters checked. `done(connection)`, or `done(nullopt, code,
  // error)` with a JSON-RPC error code and a sentence.
  using Acquired = std::function<void(std::optional<Connection>, int code, std::string error)>;
  void acquire(Connection c, std::string wanted_suite, os::Timer& retry, Acquired done);
  void on_node_info(Connection c, std::string wanted_suite, os::Timer& retry, Acquired done,
                    RpcReply info);
  // The suite is chosen: the key its tunnel pins the gateway by, from the
  // gateway's DHT offer if this node holds it and from `node` (its nodeInfo
  // reply), then request_session(); a key the two disagree on refuses.
  void find_gateway_key(Connection c, Json::Value node, os::Timer& retry, Acquired done);
  // Asks the tunnel for the key it is admitted by (TunnelPlugin::subscriber_key).
  void find_subscriber_key(Connection c, os::Timer& retry, Acquired done);
  void request_session(Connection c, os::Timer& retry, Acquired done, int attempt);
  // A connect that failed: idle again, `message` kept as the last error,
  // logged and answered.
  void fail_connect(const Responder& reply, int code, std::string message);
  // Releases a granted session the connect will not use.
  void give_back(const Connection& c);
  // Says in the log and through subscriber.onPaymentRequired that the
  // gateway of `c` waits for payment.
  void payment_required(const Connection& c);
  // Records the connection, then connect_tunnel().
  void bring_up(Connection c, Responder reply);
  void connect_tunnel(Connection c, Responder reply);
  // Out of State::starting: the connects that waited for it go on.
  void leave_starting(State next);
  void schedule_renewal(std::chrono::seconds in);
  void renew();
  // Stops the renewal, the checks and the probes of the connection, keeping
  // what the probes measured for the ranking.
  void stop_watching();
  // Takes the tunnel down, forgets the record, runs onDisconnect; then `done`.
  void tear_down(const std::string& reason, std::function<void()> done = {});
  // Writes the record; with `then`, waits for it to land and passes the
  // error ("" once written).
  void persist(const Connection& c, std::function<void(std::string error)> then = {});
  void forget();
  // `standby`: routing "none" (a warm standby's tunnel touches no route).
  TunnelSession tunnel_session(const Connection& c, bool standby = false) const;
  // t->connect(session), then done(error, device) with the device the
  // tunnel (of suite part `method`) says the session uses
  // (TunnelPlugin::traffic) once it is up.
  void open_tunnel(TunnelPlugin* t, const std::string& method, const TunnelSession& session,
                   std::function<void(std::string error, std::string device)> done);
  // This host's routable addresses but those its tunnels' sessions were
  // given (two gateways may give the same): what a gateway's tunnel prefix
  // must not cover.
  std::vector<std::string> mesh_addresses() const;

  struct GatewayParams {
    std::string address;  // unmapped
    int port = 65533;
  };
  // The gateway connect's and testGateway's params name; the error is
  // answered here when they are not usable.
  std::optional<GatewayParams> gateway_params(const Json::Value& params, const Responder& reply,
                                              const char* method) const;
  // connect() on the strand; `pin`: a manual connect, which pins its gateway.
  void start_connect(const Json::Value& params, Responder reply, bool pin);
  // The stored connection, if any, resumed (start()'s second half).
  void resume_stored(std::function<void()> done);
  // Health probes for the connection that just came up.
  void start_probing(const Connection& c);
  // Where the probes of `c` go: its tunnel address, else its mesh address.
  std::optional<boost::asio::ip::address> probe_target(const Connection& c) const;
  os::Clock& probe_clock() const { return env_.probe_clock ? *env_.probe_clock : timers_; }
  // testGateway's measurements on the connection `c`; `temporary`: brought
  // up for the test, given back after it.
  void measure(Connection c, std::optional<double> setup_ms, bool temporary, Responder reply);
  void finish_test(const Connection& c, bool temporary, Json::Value result, Responder reply);
  // testGateway of another gateway while connected, through a tunnel that
  // supports a standby: the standby's session, or one of the test's own
  // beside the connection (routes untouched), given back after it.
  void test_beside(const GatewayParams& gateway, const Json::Value& params, Responder reply);
  // subscriber.checkTargets through the tunnel, every checkInterval.
  void schedule_checks(std::chrono::seconds in);
  void run_checks();
  void on_health(probe::Health h, const std::string& why);
  // Auto mode on and not pinned.
  bool auto_active() const;
  void set_pinned(bool pinned);
  // Auto mode: leaves the current gateway (held down), then chooses another.
  void leave(const std::string& reason);
  // Auto mode: when idle, connects to the best gateway not held down.
  void consider();
  // Leaves `address` out of auto mode's choice for subscriber.holdDown seconds.
  void hold_down(const std::string& address);
  // The gateways auto mode may take now, best first (`skipped` gets why the
  // others are not).
  std::vector<GatewayChoice> usable_choices(const Json::Value& gateways,
                                            std::vector<std::string>& skipped);

  // Warm standby (standby.cpp): while auto mode is connected through a tunnel
  // that supports it, a session and tunnel to the next best gateway, routes
  // untouched, probed once a second and renewed like the active one; when
  // the active gateway fails, the standby takes the default route in one
  // step and a new standby is looked for.
  bool standby_wanted() const;
  void schedule_standby(std::chrono::milliseconds in);
  void find_standby();
  void standby_acquired(Connection c);
  // Leaves `address` out as a standby (not as the active gateway) for
  // subscriber.holdDown seconds: it gave no session or tunnel for one.
  void skip_as_standby(const std::string& address);
  void renew_standby_in(std::chrono::seconds in);
  void renew_standby();
  void on_standby_health(probe::Health h, const std::string& why);
  // Takes the standby's tunnel down and (with `release`) gives its session back.
  void drop_standby(const std::string& reason, bool release = true);
  // The standby, if up and healthy, becomes the connection; false when there
  // is none to take over.
  bool promote_standby(const std::string& reason);
  Json::Value describe_standby() const;
  // Every few seconds while a standby is wanted: a clearly better gateway
  // than the standby replaces it, and a standby clearly better than the
  // active gateway for subscriber.switchAfter seconds is switched to (which
  // is also how a gateway that failed is taken back, once it is stable).
  void schedule_review();
  void review();
  // The live round trip and loss of `prober`'s gateway, for the ranking.
  void note_quality(const std::string& address, const probe::Prober* prober);
  // Connects to choices[next], on failure (held down) to the next one.
  void try_choices(std::vector<GatewayChoice> choices, std::size_t next);
  void schedule_consider(std::chrono::milliseconds in);
  void record_switch(const std::string& from, const std::string& to, const std::string& reason);
  void publish(const std::string& topic, Json::Value data);

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

  os::Clock& timers_;
  Environment env_;
  KvStore kv_;  // "pinned", "switches"
  std::unique_ptr<probe::Prober> prober_;
  std::unique_ptr<os::Timer> auto_timer_;  // auto mode's next look when idle
  bool pinned_ = false;
  bool considering_ = false;      // a choice is being connected
  std::string pending_from_, pending_reason_;  // the gateway left and why, until the next connect
  std::map<std::string, std::int64_t> held_down_;  // address -> last unix second held
  struct Standby {
    Connection c;
    std::unique_ptr<probe::Prober> prober;
  };
  std::unique_ptr<Standby> standby_;
  std::map<std::string, std::int64_t> standby_skip_;  // address -> last unix second skipped
  bool standby_busy_ = false;                 // a standby is being brought up
  std::uint64_t standby_round_ = 0;           // answers for an older attempt are dropped
  std::unique_ptr<os::Timer> standby_timer_;  // the next look for a standby
  std::unique_ptr<os::Timer> standby_renewal_;
  std::unique_ptr<os::Timer> standby_retry_;  // requestConnection while the gateway starts
  std::unique_ptr<os::Timer> review_timer_;
  std::optional<std::int64_t> better_since_;  // unix seconds the standby has been clearly better
  std::map<std::string, GatewayQuality> quality_;  // address -> last measured
  std::int64_t last_scan_request_ = 0;              // unix seconds
  bool testing_ = false;            // testGateway runs
  bool testing_temporary_ = false;  // ... on a connection of its own
  std::unique_ptr<probe::Prober> test_prober_;
  std::unique_ptr<os::Timer> test_timer_;
  std::unique_ptr<os::Timer> test_retry_;   // requestConnection of a test beside the connection
  std::optional<Connection> beside_;        // the session a test brought up beside it
  std::unique_ptr<os::Timer> check_timer_;  // subscriber.checkTargets while connected
  std::uint64_t check_round_ = 0;           // answers of older rounds are dropped
  int no_internet_rounds_ = 0;
  Json::Value checks_;                      // the last round's outcomes
  Json::Value switches_{Json::arrayValue};         // newest last, at most kMaxSwitches
  static constexpr Json::ArrayIndex kMaxSwitches = 50;
  // Gone with the manager: a Responder of its own that is dropped
  // unanswered (at shutdown) calls its sink, which then does nothing.
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);
};

}  // namespace mnigs
