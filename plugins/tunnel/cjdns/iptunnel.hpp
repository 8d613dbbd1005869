// tunnel/cjdns: cjdns IpTunnel (suite part `cjdns`, plugin and config
// section `iptunnel`), driven through cjdroute's admin interface.
//
// Gateway: open_session checks the subscriber's cjdns key
// (TunnelSession::subscriber_key), gives the session an address of each
// family from the pool and tells cjdroute IpTunnel_allowConnection for
// that key and those addresses; this node's cjdroute TUN gets the pool's
// first addresses (cjdroute does not address a server's TUN) and the pool
// is masqueraded out of the uplink (nft table inet mnigs_iptunnel).
// Subscriber: connect tells cjdroute IpTunnel_connectTo the gateway's key
// (params "gatewayKey", which the core takes from the gateway's
// gateway_key()), adds the session's addresses to cjdroute's TUN and moves
// the default route into it by policy routing (tunnels::TunnelRoutes).
//
// Nothing is removed from cjdroute by number alone: it renumbers from 0
// after a restart. A removal shows the connection first and compares key,
// direction and addresses; the gateway's pool addresses stay reserved until
// their connection is confirmed gone. The subscriber checks the addresses
// the gateway's cjdroute issues over the mesh (which the core never sees).
//
// Every connection this plugin makes is recorded in its store
// ("connection/<N>") before anything else depends on it, so that reset()
// can find and remove it after a crash, and leave the operator's own
// IpTunnel connections (cjdroute.conf's ipTunnel section) alone.
//
// Threading: everything on the plugin's strand; every operation (and with
// it every admin call) runs through the command queue one at a time.
#pragma once

#include <boost/asio/steady_timer.hpp>

#include <map>
#include <memory>
#include <mnigs/plugin.hpp>
#include <optional>
#include <string>
#include <vector>

#include "address_pool.hpp"
#include "admin_client.hpp"  // discovery/cjdns
#include "command_queue.hpp"
#include "iptunnel_calls.hpp"
#include "iptunnel_settings.hpp"
#include "log_limit.hpp"
#include "tunnel_routes.hpp"

namespace mnigs::iptunnel {

using netcmd::Command;
using netcmd::CommandQueue;

class IpTunnelPlugin final : public TunnelPlugin {
 public:
  static void declare(ConfigDeclarer& declarer) { declare_keys(declarer); }
  explicit IpTunnelPlugin(PluginContext& context);
  ~IpTunnelPlugin() override;

  void start() override;
  void stop() override;
  Json::Value status() const override;
  void config_changed() override;

  std::string method() const override { return "cjdns"; }

  void open_session(const TunnelSession& session,
                    std::function<void(std::string error, Json::Value params)> done) override;
  void close_session(const TunnelSession& session, Done done) override;
  // Offered only while an interface is seen to hold the key's address: a
  // key cjdroute names but whose TUN is gone admits no one.
  std::string gateway_key() const override { return own_ && own_seen_ ? own_->key : ""; }
  void subscriber_key(std::function<void(std::string error, std::string key)> done) override;
  void connect(const TunnelSession& session, Done done) override;
  void disconnect(const TunnelSession& session, Done done) override;
  TunnelTraffic traffic(const TunnelSession& session) const override;
  void reset(Done done) override;

 private:
  using Reply = cjdns::AdminClient::Reply;
  // `sentence` is "" when cjdroute answered without error.
  using Answer = std::function<void(const Reply& reply, const std::string& sentence)>;

  // ---- cjdroute (plugin.cpp)
  // One admin call, inside a queue operation. Failures to reach cjdroute
  // (password, silence, nothing listening, malformed) are counted and make
  // the plugin degraded until a call succeeds.
  void call(const std::string& function, bencode::Value args, Answer answer);
  // This node's key and address (Core_nodeInfo), asked once and kept.
  void identify(std::function<void(std::string error)> then);
  // cjdroute's TUN device (tunDevice, else the holder of our address).
  void find_tun(std::function<void(std::string error)> then);
  // A refusal, counted by `kind` and logged (rate-limited by sameness).
  std::string refuse(const std::string& kind, const std::string& sentence);
  void retry_identity_later();
  // Records what reset() must undo: connection/<N>.
  void record(std::int64_t connection, const Json::Value& what);
  void forget(std::int64_t connection);
  // forget, only while the record of `connection` is of `key` in that
  // direction (cjdroute numbers from 0 again after a restart).
  void forget_if(std::int64_t connection, const std::string& key, bool outgoing);
  // What a connection of ours must look like in showConnection before it
  // is removed: cjdroute numbers connections from 0 again after a restart,
  // so a number alone may name another session's or the operator's.
  struct Expect {
    std::int64_t number = -1;  // -1: unknown (a reply was lost): found by key
    std::string key;
    bool outgoing = false;
    std::string address4, address6;  // incoming: the addresses allowed
    bool matches(const Connection& c) const;
  };
  using Shown = std::optional<Connection>;
  void show(std::int64_t n, std::function<void(std::string error, Shown shown)> then);
  // Every connection cjdroute lists, as shown.
  void scan(std::function<void(std::string error, std::vector<Connection>)> then);
  void scan_from(std::shared_ptr<std::vector<std::int64_t>> numbers,
                 std::shared_ptr<std::vector<Connection>> out, std::size_t i,
                 std::function<void(std::string, std::vector<Connection>)> then);
  // Removes the connection `e` names once showConnection shows it as `e`
  // says (by key and addresses when its number is unknown). One that is
  // gone, or whose number now names another, counts as removed. `then`
  // gets what cjdroute showed of the removed connection.
  void remove_checked(Expect e, std::function<void(std::string error, Shown removed)> then);
  void remove_all(std::vector<Connection> found, std::function<void(std::string error)> then);
  // Removes connection `n` in cjdroute; "not_found" counts as removed.
  void remove_connection(std::int64_t n, std::function<void(std::string error)> then);
  // Whether connection `c` is one this plugin recorded (made earlier).
  bool recorded(const Connection& c) const;
  // After an outgoing connection is removed: RouteGen's prefixes for the
  // addresses cjdroute recorded (RouteGen_removePrefix, RouteGen_commit),
  // and the addresses it put on the TUN.
  void clear_issued(const Connection& c, std::function<void()> then);
  // Periodic check (checkInterval): key and TUN, connections, addresses.
  void schedule_check();
  void check(std::function<void()> then);
  void check_connections(std::function<void()> then);
  // Retries removals that failed; their addresses stay reserved until then.
  void schedule_removals();
  void retry_removals(std::size_t i, std::function<void()> then);
  // Reset's connection removals, one after another.
  struct ResetStep {
    std::int64_t number;
    Json::Value what;
  };
  void reset_from(std::shared_ptr<std::vector<ResetStep>> steps, std::size_t i,
                  std::function<void(std::string error)> then);
  // Reset's steps: the recorded connections, then the kernel.
  void reset_connections(std::vector<KeyValueStore::Row> rows, std::vector<Command>* kernel,
                         std::function<void(std::string error)> then);

  // ---- gateway (gateway.cpp)
  struct GatewaySession {
    TunnelSession session;
    std::int64_t connection = -1;
    std::string address4, address6;
    std::string broken;  // why the connection no longer serves the session
  };
  // A removal that failed: retried every 10 s, after kRemovalAttempts tries
  // every 5 minutes, until it succeeds; the pool keeps the addresses
  // reserved meanwhile, since cjdroute matches TUN packets to connections
  // by address.
  struct PendingRemoval {
    Expect expect;
    unsigned attempts = 0;
    std::chrono::steady_clock::time_point next_try{};
  };
  void allow(const TunnelSession& session, tunnels::AddressPool::Allotment a,
             std::function<void(std::string error, Json::Value params)> done);
  void bring_up_gateway(std::function<void(std::string error)> done);
  std::vector<Command> gateway_removal(const std::vector<std::string>& knobs,
                                       const std::string& device) const;

  // ---- subscriber (subscriber.cpp)
  struct Uplink {
    TunnelSession session;
    std::int64_t connection = -1;
    std::string device, address4, address6;
    std::string broken;  // why the connection no longer serves the session
  };
  // Looks at connection `n` (bounded wait for the gateway's addresses) and
  // says why the uplink must not be used: the addresses the gateway's
  // cjdroute issued are not the session's. "" when fine or not yet known.
  void check_issued(const std::string& key, unsigned tries, std::function<void(std::string)> then);
  // Takes a refused or lost uplink down: routes, connection, addresses.
  void drop_uplink(const std::string& key, const std::string& why, std::function<void()> then);
  void route_uplink(const std::string& key, Done done);
  // Addresses and cjdroute's routes of an uplink (removals).
  // Only the addresses this plugin added (the session's own /32 and /128);
  // never routes from gateway-supplied prefixes.
  static std::vector<Command> uplink_removal(const std::string& device, const Json::Value& what);

  PluginContext& context_;
  Settings settings_;
  bool started_ = false;
  CommandQueue queue_;
  std::shared_ptr<cjdns::AdminClient> client_;  // while a call runs
  std::optional<cjdns::AdminTarget> target_;    // of the last call
  std::optional<NodeIdentity> own_;
  std::string tun_;
  boost::asio::steady_timer retry_, check_timer_, removal_timer_;
  bool own_seen_ = false;  // an interface holds own_->ip6
  std::map<std::int64_t, Json::Value> records_;  // connection/<N>, as stored
  std::vector<PendingRemoval> pending_;
  LogLimit warnings_{5, std::chrono::minutes(1)};

  // What went wrong, for status(): counts by kind, the last sentence, and
  // the reason the plugin cannot work now ("" once cjdroute answers).
  std::map<std::string, std::uint64_t> errors_;
  std::uint64_t refused_ = 0;
  std::string last_error_, degraded_;

  // Gateway state.
  std::optional<tunnels::AddressPool> pool_;
  bool gateway_up_ = false;
  std::vector<std::string> sysctls_on_;
  std::map<std::string, GatewaySession> sessions_;  // by session id

  // Subscriber state, by "GATEWAY SESSION-ID".
  std::map<std::string, Uplink> uplinks_;
  std::optional<tunnels::TunnelRoutes> routes_;
};

}  // namespace mnigs::iptunnel
