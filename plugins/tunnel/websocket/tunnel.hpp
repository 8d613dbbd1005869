// tunnel/websocket: a full IP tunnel over one WebSocket connection, and a
// vpn-ws compatible layer-2 switch, both served on the daemon's RPC port.
//
// Gateway: open_session gives the session a tunnel address of each family
// from the pool and a token; the subscriber then opens `websocket.path`
// with both; its packets go through the tun device the sessions share
// (l3.hpp) and are masqueraded out of the uplink (nft table
// inet mnigs_websocket).
// Subscriber: connect creates the tun device, gives it the session's
// addresses, moves the default route into it by policy routing (as the
// forwarding plugin does, with its own table and rule priorities) and keeps
// the WebSocket up, reconnecting with backoff.
//
// Control work (sessions, commands, upgrades) runs on the plugin's strand;
// packets move on the data plane's own thread (dataplane.hpp).
#pragma once

#include <array>
#include <map>
#include <memory>
#include <mnigs/plugin.hpp>
#include <optional>
#include <string>

#include "command_queue.hpp"
#include "dataplane.hpp"
#include "l2.hpp"
#include "l3.hpp"
#include "log_limit.hpp"
#include "tls_front.hpp"
#include "address_pool.hpp"
#include "routes.hpp"
#include "settings.hpp"
#include "sysctl_knob.hpp"
#include "tls.hpp"
#include "tunnel_routes.hpp"

namespace mnigs::websocket {

using netcmd::Command;
using netcmd::CommandQueue;
using netcmd::forget_knobs;
using netcmd::recorded_knobs;
using netcmd::turn_on_knob;
using netcmd::write_knob;
using tunnels::AddressPool;

inline constexpr std::chrono::milliseconds kCommandTimeout{10000};

inline Command cmd(std::vector<std::string> argv, std::string input = "", bool removal = false) {
  Command c;
  c.argv = std::move(argv);
  c.input = std::move(input);
  c.removal = removal;
  return c;
}
// The nft table the gateway side owns.
inline constexpr const char* kNftTable = "mnigs_websocket";

class WebsocketTunnel final : public TunnelPlugin {
 public:
  static void declare(ConfigDeclarer& declarer) { declare_keys(declarer); }

  explicit WebsocketTunnel(PluginContext& context);
  ~WebsocketTunnel() override;

  void start() override;
  void stop() override;
  Json::Value status() const override;
  void config_changed() override;

  std::string method() const override { return "websocket"; }

  void open_session(const TunnelSession& session,
                    std::function<void(std::string error, Json::Value params)> done) override;
  void close_session(const TunnelSession& session, Done done) override;
  void connect(const TunnelSession& session, Done done) override;
  void disconnect(const TunnelSession& session, Done done) override;
  // Several sessions at once, each on its own device (subscriber.cpp).
  bool supports_standby() const override { return true; }
  // The pin of the wss port's key, once it listens (websocket.tls).
  std::string gateway_key() const override { return tls_pin_; }
  TunnelTraffic traffic(const TunnelSession& session) const override;
  void reset(Done done) override;

 private:
  // ---- gateway (gateway.cpp)
  struct GatewaySession {
    TunnelSession session;
    std::string address4, address6, token;
    // Connected over wss once: no plain ws link is taken for it any more
    // (the token crossed the mesh in the clear; a relay holding it must not
    // take the session over on the RPC port).
    bool tls = false;
  };
  void bring_up_gateway(std::function<void(std::string error)> done);
  std::vector<Command> gateway_setup_commands() const;
  std::string nft_script() const;
  void enable_forwarding(const std::string& sysctl, std::function<void(std::string)> done);
  void enable_all_forwarding(std::vector<std::string> sysctls, std::function<void(std::string)> done);
  // An upgrade on the RPC port, or (with `tls`) on the wss port.
  void on_l3_upgrade(HttpUpgrade request, std::shared_ptr<tls::Session> tls = {});
  void on_l2_upgrade(HttpUpgrade request, std::shared_ptr<tls::Session> tls = {});
  // ---- the wss port (gateway.cpp)
  // Loads the TLS identity from the store (made and stored the first
  // time), then listens on websocket.tlsPort.
  void start_tls();
  // Listens with `identity` (on the data plane; a failure to listen shows in
  // status): "", or why its key and certificate do not load.
  std::string listen_tls(const tls::Identity& identity);
  // A request that came to the wss port: to the L3 endpoint or the switch
  // by its path.
  void on_tls_request(HttpUpgrade request, std::shared_ptr<tls::Session> tls);
  // Whether a caller may join the switch under websocket.l2Auth; "" when
  // it may (with `session` set to the session it joins for, under
  // l2Auth: session), else why not.
  std::string l2_refusal(const HttpUpgrade& request, std::string* session) const;
  void start_switch();
  std::vector<Command> gateway_removal_commands(const std::vector<std::string>& sysctls) const;

  // ---- subscriber (subscriber.cpp)
  // One connected session: its own tun device and link to its gateway.
  struct Uplink {
    TunnelSession session;
    std::string device;
    std::shared_ptr<TunnelClient> client;
  };
  // The first of the kMaxUplinks device names no session uses; "" when all do.
  std::string free_interface() const;
  // Whether `name` is one of the subscriber's device names.
  bool own_interface(const std::string& name) const;
  // The device with the session's addresses, its link started, and the
  // routes moved into it when `routed`.
  void connect_steps(std::shared_ptr<Uplink> up, bool routed, Done done);
  // Table T's default route into up's device (routes_.take).
  void route_steps(std::shared_ptr<Uplink> up, Done done);
  // Stops the link and closes its device on the data plane; then() on the
  // strand once the device is gone.
  void close_device(std::shared_ptr<TunnelClient> client, std::function<void()> then);
  // Forgets `up` and closes its device; then() as close_device's.
  void drop_uplink(const std::shared_ptr<Uplink>& up, std::function<void()> then);

  // ---- joining other switches as a vpn-ws client (join.cpp)
  struct Joined {
    std::string url, interface;
    bool bridge = false;
    std::shared_ptr<TunnelClient> client;
  };
  void register_join_methods();
  void join(const Json::Value& params, Responder reply);
  void leave(const Json::Value& params, Responder reply);

  // ---- both (tunnel.cpp)
  // Runs `commands` in order inside the running queue operation, stopping
  // at the first that fails; then(error) with its failure sentence or "".
  void run_steps(std::vector<Command> commands, std::function<void(std::string error)> then);
  void stop_data_plane();

  PluginContext& context_;
  Settings settings_;
  bool started_ = false;
  CommandQueue queue_;
  std::unique_ptr<DataPlane> plane_;

  // Gateway state.
  std::optional<AddressPool> pool_;
  std::shared_ptr<L3Gateway> l3_;
  bool gateway_up_ = false;
  std::vector<std::string> sysctls_on_;             // forwarding knobs this plugin turned on
  std::map<std::string, GatewaySession> sessions_;  // by session id
  std::uint64_t upgrades_refused_ = 0;
  // The log lines about refused upgrades: anyone who reaches the port can
  // cause one (on the wss port, after a handshake), so 5 per 10 s at most;
  // upgrades_refused_ counts them all.
  LogLimit refusal_log_{5, std::chrono::seconds(10)};
  void log_refusal(const char* what, const std::string& from, const std::string& why);
  std::shared_ptr<L2Switch> switch_;
  std::shared_ptr<TlsFront> tls_front_;  // the wss port, while it listens
  std::string tls_pin_;                  // its key's pin, while it listens
  std::string tls_error_;                // why it does not listen, for status
  std::uint64_t tls_generation_ = 0;     // start_tls calls, to drop stale callbacks
  std::optional<Mac> l2_port_mac_;        // the switch's own port's MAC, reserved
  std::map<std::string, Joined> joined_;  // by interface

  // Subscriber state.
  // By "GATEWAY SESSION-ID": the id is the gateway's to choose.
  std::map<std::string, std::shared_ptr<Uplink>> uplinks_;
  // Which session's device table T's default route names, per family.
  std::optional<tunnels::TunnelRoutes> routes_;
};

}  // namespace mnigs::websocket
