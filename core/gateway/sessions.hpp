// The gateway side of the session protocol: requestConnection,
// renewConnection, releaseConnection. Sessions are created with ids and
// secrets from the CSPRNG, bound to the subscriber's mesh address, limited by
// gateway.maxConnections, expired after gateway.subscriberTimeout without a
// renewal, and kept in SQLite so a restart (or kill -9) loses none.
// Everything runs on the manager's strand.
#pragma once

#include "config/config.hpp"
#include "gateway/meter.hpp"
#include "gateway/vouchers.hpp"
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

// The vouchers table's rows; damaged ones are left out, each said in `bad`.
std::vector<Voucher> load_vouchers(sqlite3* db, std::vector<std::string>* bad);

struct GatewaySession {
  std::string id, secret;
  std::string subscriber_address, gateway_address;
  std::string name;
  int port = 0;
  std::string suite;
  // The key the subscriber's tunnel end is admitted by ("subscriberKey" of
  // its request, syntax checked); "" for none.
  std::string subscriber_key;
  Json::Value tunnel{Json::objectValue};
  std::int64_t created = 0, expires = 0;  // unix seconds
  std::int64_t stored_expires = 0;        // the expiry SQLite holds (renewals skip writes)
  Traffic used;                           // bytes through the gateway, as metered
  bool used_changed = false;              // since it was last written
  // Its payment method charges (PaymentPlugin::charges): its traffic goes
  // beyond the gateway only while a voucher it redeemed is good.
  bool charged = false;
  std::string portal;               // where its subscriber pays; "" for none
  std::uint16_t portal_port = 0;    // where its HTTP goes while unpaid
  std::vector<std::int64_t> vouchers;  // redeemed, in order
  MeterPolicy applied;                 // what the meter was told

  std::string tunnel_method() const;  // the middle part of the suite
  // For listSessions; never the secret. `now` gives the seconds used.
  Json::Value describe(std::int64_t now) const;
};

class SessionManager final : public GatewayPayments {
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
  // releaseSession (admin): the operator ends a session ({"sessionId"}),
  // as if it had expired; the subscriber learns it at its next renewal.
  void end_by_operator(const Json::Value& params, Responder reply);
  void list(std::function<void(Json::Value)> done);
  // How many sessions are held (nodeInfo's capacity): O(1), no descriptions.
  void count(std::function<void(std::size_t)> done);

  // GatewayPayments, for payment plugins (payments.cpp); `done` runs on the
  // manager's strand.
  void session_at(const std::string& address, std::function<void(PaymentState)> done) override;
  void redeem(const std::string& address, const std::string& session_id,
              const std::string& code, std::function<void(PaymentState)> done) override;
  void create_vouchers(const Json::Value& params,
                       std::function<void(std::string, Json::Value)> done) override;
  // The admin methods on vouchers: createVouchers, listVouchers ({"state":
  // "new"|"in use"|"spent"} to filter), revokeVoucher ({"code"}).
  void create_vouchers(const Json::Value& params, Responder reply);
  void list_vouchers(const Json::Value& params, Responder reply);
  void revoke_voucher(const Json::Value& params, Responder reply);

  // Told which addresses each session holds (its subscriber's mesh address
  // and the tunnel addresses it was given) when it starts or resumes, and an
  // empty list when it ends: the probe echo service answers only those.
  // Called on the strand; set it before start().
  using HoldersSink =
      std::function<void(const std::string& id, std::vector<boost::asio::ip::address>)>;
  void set_holders_sink(HoldersSink sink) { holders_ = std::move(sink); }
  // Meters every session (gateway/meter.hpp) and reads it every
  // gateway.meterInterval seconds. Set before start().
  void set_meter(Meter* meter) { meter_ = meter; }
  // Whether the uplink works (UplinkCheck::up); without it, always. While it
  // does not, requestConnection is refused and renewals say "uplink": false.
  // Set before start().
  void set_uplink(std::function<bool()> up) { uplink_up_ = std::move(up); }

  // A key that shapes the sessions' policies changed (gateway.throttleKbit).
  void policies_changed();
  // gateway.payments changed: sessions whose payment method is no longer
  // offered end.
  void payments_changed();
  // Adds a meter reading to the sessions' usage and writes what changed.
  // Runs on the strand; public for tests.
  void account(const MeterReading& reading);

  // Ends every session whose expiry is at or before `now`; returns the next
  // expiry (0 if none). Runs on the strand; public for tests.
  std::int64_t expire_due(std::int64_t now);

 private:
  void schedule_expiry();
  void schedule_reading();
  // Loads and resumes the stored sessions, adding `left` (what the kernel
  // counted after the last reading of a previous run) to their usage.
  void load(MeterReading left, std::function<void()> done);
  // Stops metering session `id`, adding its last reading.
  void unmeter(const std::string& id);
  // Meters `s` under its policy; then(false) when a charged session could
  // not be (it was ended: the kernel would not hold it back).
  void meter(const GatewaySession& s, std::function<void(bool)> then);
  // Writes the usage of every session and voucher whose usage changed.
  void persist_usage();
  // What session `s` may do at `now`, and the accounts (vouchers with a
  // byte limit) it draws on.
  MeterPolicy policy_of(const GatewaySession& s, std::int64_t now,
                        std::vector<MeterAccount>* accounts) const;
  // Tells the meter each session's policy where it changed; schedules the
  // next look at the moment a voucher's time ends. `done` (optional) runs on
  // the strand once the kernel has every change.
  void apply_policies(std::function<void()> done = {});
  PaymentState state_of(const GatewaySession& s, std::int64_t now) const;
  Json::Value payment_of(const GatewaySession& s, std::int64_t now) const;
  GatewaySession* session_holding(const std::string& address);
  void persist_voucher(const Voucher& v);
  // Redeems `code` for `s`: "" or why not; `applied` runs once the kernel
  // lets the session's traffic through as paid (at once when refused).
  std::string redeem_for(GatewaySession& s, const std::string& code,
                         std::function<void()> applied);
  // Queues the record's write; `then`, when given, runs on the strand once
  // it is written (or failed, which is logged).
  void persist(const GatewaySession& s, std::function<void()> then = {});
  static void write(sqlite3* db, const GatewaySession& s);
  // Opens the tunnel end of a new session and records it.
  void grant(GatewaySession s, Responder reply, std::int64_t timeout);
  // Runs onRegister and answers requestConnection for a recorded session.
  void announce(const GatewaySession& s, const Responder& reply, std::int64_t timeout);
  void forget(const std::string& id);
  // Tells the holders sink about `s` (ended: no addresses).
  void tell_holders(const GatewaySession& s, bool ended);
  // Closes the tunnel end, deletes the record, runs onRelease.
  void end_session(const GatewaySession& s, const std::string& why);
  // A release (by the subscriber or the operator): the session goes, ended
  // for `why`, and `reply` gets {sessionId, released}. On the strand.
  void release_now(GatewaySession s, const std::string& why, const Responder& reply);
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
  boost::asio::steady_timer meter_timer_;
  boost::asio::steady_timer policy_timer_;
  std::map<std::int64_t, Voucher> vouchers_;
  std::map<std::string, std::int64_t> voucher_codes_;  // code -> id
  std::set<std::int64_t> vouchers_changed_;            // usage not yet written
  std::map<std::string, GatewaySession> sessions_;
  std::size_t pending_ = 0;             // requests waiting for their tunnel end
  std::set<std::string> in_flight_;     // their subscriber addresses
  bool ready_ = false;                  // stored sessions are loaded
  bool stopped_ = false;
  HoldersSink holders_;
  std::function<bool()> uplink_up_;
  Meter* meter_ = nullptr;
};

}  // namespace mnigs
