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
  std::string gateway_key() const override { return own_ ? own_->key : ""; }
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
  // Removes connection `n` in cjdroute; "not_found" counts as removed.
  void remove_connection(std::int64_t n, std::function<void(std::string error)> then);
  // Reset's steps: the recorded connections, then the kernel.
  void reset_connections(std::vector<KeyValueStore::Row> rows, std::vector<Command>* kernel,
                         std::function<void(std::string error)> then);

  // ---- gateway (gateway.cpp)
  struct GatewaySession {
    TunnelSession session;
    std::int64_t connection = -1;
    std::string address4, address6;
  };
  void bring_up_gateway(std::function<void(std::string error)> done);
  std::vector<Command> gateway_removal(const std::vector<std::string>& knobs,
                                       const std::string& device) const;

  // ---- subscriber (subscriber.cpp)
  struct Uplink {
    TunnelSession session;
    std::int64_t connection = -1;
    std::string device, address4, address6;
    int prefix4 = 32, prefix6 = 128;  // what cjdroute was told: its routes
  };
  void route_uplink(const std::string& key, Done done);
  // Addresses and cjdroute's routes of an uplink (removals).
  static std::vector<Command> uplink_removal(const std::string& device, const Json::Value& what);

  PluginContext& context_;
  Settings settings_;
  bool started_ = false;
  CommandQueue queue_;
  std::shared_ptr<cjdns::AdminClient> client_;  // while a call runs
  std::optional<cjdns::AdminTarget> target_;    // of the last call
  std::optional<NodeIdentity> own_;
  std::string tun_;
  boost::asio::steady_timer retry_;

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
