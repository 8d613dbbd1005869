// tunnel/openvpn: Debian's openvpn, run and steered by mnigsd.
//
// Gateway: one openvpn server per protocol (openvpn.protocols), started
// with the first session, each with a management socket on which mnigsd
// admits clients (--management-client-auth). The gateway's key and a
// self-signed certificate are made on first use and kept in the plugin
// store; that certificate is also the CA of the servers. open_session
// certifies the subscriber's public key ("subscriberKey", SPKI in base64)
// for the session (common name = session id) and allots its addresses from
// the pool; a client is admitted only with that certificate, from the
// session's subscriber address, while the session lives; close_session
// kills it (client-kill). openvpn reads --peer-fingerprint once at start,
// so pinning each subscriber's own certificate would restart the server
// (and drop every client) per session: certifying its key is the same pin
// without that.
//
// Subscriber: a key of its own, kept in the plugin store; one openvpn
// client per session, pinned to the gateway's certificate by
// --peer-fingerprint (the key the core found in the gateway's signed offer
// or its nodeInfo). mnigsd gives the device its addresses and moves the
// default route into it, as for its other tunnels.
//
// reset() ends every openvpn process of ours (pid files in runDir) and
// removes what the plugin added to the kernel; the sessions come back up
// through open_session and connect.
//
// Control work runs on the plugin's strand.
#pragma once

#include <boost/asio/steady_timer.hpp>

#include <map>
#include <memory>
#include <mnigs/plugin.hpp>
#include <optional>
#include <string>
#include <vector>

#include "address_pool.hpp"
#include "admission.hpp"
#include "command_queue.hpp"
#include "management_client.hpp"
#include "settings.hpp"
#include "tunnel_routes.hpp"
#include "x509.hpp"

namespace mnigs::openvpn {

// openvpn's management commands are openvpn::Command (commands.hpp).
using netcmd::CommandQueue;

class OpenvpnTunnel final : public TunnelPlugin {
 public:
  static void declare(ConfigDeclarer& declarer) { declare_keys(declarer); }
  explicit OpenvpnTunnel(PluginContext& context);
  ~OpenvpnTunnel() override;

  void start() override;
  void stop() override;
  Json::Value status() const override;
  std::string method() const override { return "openvpn"; }

  void open_session(const TunnelSession& session,
                    std::function<void(std::string error, Json::Value params)> done) override;
  void close_session(const TunnelSession& session, Done done) override;
  std::string gateway_key() const override { return gateway_key_; }

  void subscriber_key(std::function<void(std::string error, std::string key)> done) override;
  void connect(const TunnelSession& session, Done done) override;
  void disconnect(const TunnelSession& session, Done done) override;
  TunnelTraffic traffic(const TunnelSession& session) const override;
  void reset(Done done) override;

 private:
  // ---- both (tunnel.cpp)
  // The key and certificate kept under `name` in the plugin store, made
  // (and stored) when there are none; `ca` for the gateway's.
  void load_identity(const std::string& name, bool ca,
                     std::function<void(std::string error, std::optional<x509::LoadedIdentity>)>
                         done);
  // Runs `then("")` once the gateway's (or the subscriber's) identity is
  // loaded, else then(why not). One load at a time; later callers wait for
  // it, so two first uses never make two keys.
  void with_identity(bool gateway, std::function<void(std::string error)> then);
  // Starts openvpn on `config_file` (written before) as a daemon; done(error).
  void launch(const std::string& name, std::function<void(std::string error)> done);
  std::string path(const std::string& name, const char* suffix) const;
  // Ends every openvpn process of ours and removes runDir's files.
  void end_processes(std::function<void()> done);

  // ---- gateway (gateway.cpp)
  struct GatewaySession {
    TunnelSession session;
    tunnels::AddressPool::Allotment allotment;
    Admitted admitted;
    std::string cert_pem;
    // The client holding it: its server and client id.
    std::optional<Protocol> protocol;
    std::uint64_t cid = 0;
  };
  struct Server {
    Protocol protocol = Protocol::udp;
    std::shared_ptr<ManagementClient> management;
    bool up = false;
    std::map<std::uint64_t, std::string> clients;  // cid -> session id
    // When it last started, and the next restart's delay: a server that dies
    // soon after starting waits longer each time.
    std::chrono::steady_clock::time_point started_at;
    std::chrono::seconds backoff{2};
  };
  void bring_up_gateway(std::function<void(std::string error)> done);
  void start_servers(std::vector<Protocol> left, std::function<void(std::string error)> done);
  void start_server(Protocol p, std::function<void(std::string error)> done);
  // After a server's management connection ended: kill what is left of it
  // and start it again after `delay`, with a longer delay after each failure.
  void restart_server(Protocol p, std::chrono::seconds delay);
  // Forgets a server: closes its management connection, ends its process
  // (named by its pid file) and removes its socket; then().
  void end_server(Protocol p, std::function<void()> then);
  void on_server_event(Protocol p, const Message& m);
  void answer_client(Protocol p, const ClientAuth& auth);
  std::string nft_script() const;
  std::map<std::string, Admitted> admitted() const;
  std::vector<netcmd::Command> gateway_removal() const;

  // ---- subscriber (subscriber.cpp)
  struct Uplink {
    TunnelSession session;
    std::string name;    // its files' stem in runDir
    std::string device;  // its tun device
    Protocol protocol = Protocol::udp;
    std::shared_ptr<ManagementClient> management;
    std::string state;   // openvpn's last state, e.g. CONNECTED
    bool configured = false;  // addresses set on the device
    Done pending;             // connect() waiting for CONNECTED
    std::shared_ptr<boost::asio::steady_timer> deadline;
    std::shared_ptr<boost::asio::steady_timer> retry;  // revive()
    bool dropped = false;  // drop_uplink ran: whatever completes later is ended
    // When it last reached CONNECTED, and the next revive's delay: a client
    // that dies soon after connecting waits longer each time.
    std::chrono::steady_clock::time_point connected_at;
    std::chrono::seconds backoff{1};
  };
  std::string free_interface() const;
  bool own_interface(const std::string& name) const;
  void start_client(std::shared_ptr<Uplink> up, Done done);
  void on_client_event(const std::shared_ptr<Uplink>& up, const Message& m);
  // As an operation of the queue once the client is CONNECTED: the
  // device's addresses and, when `routed`, the default route.
  // A failure drops the uplink with `drop_on_failure` (a new connect), else
  // leaves it to the caller (a revive, which tries again).
  void set_up(std::shared_ptr<Uplink> up, bool routed, bool drop_on_failure, Done done);
  void configure_device(std::shared_ptr<Uplink> up, Done done);
  void route_steps(std::shared_ptr<Uplink> up, Done done);
  void drop_uplink(const std::shared_ptr<Uplink>& up, std::function<void()> then);
  // A connected session's client ended by itself (killed, denied, crashed):
  // it is started again after `delay`, longer after each failure, with its
  // device and routes, for as long as the session is connected here.
  void revive(std::shared_ptr<Uplink> up, std::chrono::seconds delay);
  // Forgets every uplink, cancels what each waits for and tells a waiting
  // connect why (stop, reset).
  void abandon_uplinks();
  // Ends the uplink's openvpn process (named by its pid file), then().
  void end_client(const std::shared_ptr<Uplink>& up, std::function<void()> then);

  PluginContext& context_;
  Settings settings_;
  bool started_ = false;
  CommandQueue queue_;

  // Gateway state.
  std::optional<x509::LoadedIdentity> gateway_identity_;
  struct IdentityLoad {
    bool loading = false;
    std::vector<std::function<void(std::string)>> waiters;
  };
  IdentityLoad gateway_load_, subscriber_load_;
  std::string gateway_key_;  // "sha256:<hex>" of its certificate, once known
  std::optional<tunnels::AddressPool> pool_;
  bool gateway_up_ = false;
  bool gateway_touched_ = false;
  std::vector<std::string> sysctls_on_;
  std::map<Protocol, Server> servers_;
  std::map<Protocol, std::string> server_errors_;  // the last failure of a restart
  std::uint64_t generation_ = 0;  // stop and reset: restarts planned before do nothing
  std::map<std::string, GatewaySession> sessions_;  // by session id
  std::uint64_t refused_ = 0, admitted_count_ = 0, killed_ = 0;

  // Subscriber state, by "GATEWAY SESSION-ID".
  std::optional<x509::LoadedIdentity> subscriber_identity_;
  std::map<std::string, std::shared_ptr<Uplink>> uplinks_;
  std::uint64_t client_serial_ = 0;  // each client's files have a stem of their own
  std::optional<tunnels::TunnelRoutes> routes_;
};

}  // namespace mnigs::openvpn
