// tunnel/gre: IP tunnels in GRE with a key per session (suite part `gre`)
// or in plain IP in IP (`ipip`), one plugin class for both.
//
// Gateway: open_session gives the session a tunnel address of each family
// from the pool and (GRE) a random 32-bit key; packets from the session's
// subscriber address with that key and from those addresses are routed
// and masqueraded out of the uplink (nft table inet mnigs_gre or
// mnigs_ipip). Subscriber: connect creates the session's device with its
// addresses and moves the default route into it by policy routing, as the
// websocket tunnel does.
//
// The packets are moved by the kernel's devices where the kernel has them
// (mode kernel), else by raw sockets and tun devices on the plugin's data
// thread (mode userspace, encap.hpp), with the same bytes on the wire.
//
// Control work runs on the plugin's strand; packets on the data thread.
#pragma once

#include <array>
#include <map>
#include <memory>
#include <mnigs/plugin.hpp>
#include <optional>
#include <string>
#include <vector>

#include "address_pool.hpp"
#include "command_queue.hpp"
#include "data_thread.hpp"
#include "encap.hpp"
#include "routes.hpp"
#include "settings.hpp"
#include "sysctl_knob.hpp"
#include "tunnel_routes.hpp"

namespace mnigs::gre {

using netcmd::Command;
using netcmd::CommandQueue;

class GreTunnel : public TunnelPlugin {
 public:
  GreTunnel(PluginContext& context, Encap encap);
  ~GreTunnel() override;

  void start() override;
  void stop() override;
  Json::Value status() const override;

  std::string method() const override { return section(encap_); }

  void open_session(const TunnelSession& session,
                    std::function<void(std::string error, Json::Value params)> done) override;
  void close_session(const TunnelSession& session, Done done) override;
  void connect(const TunnelSession& session, Done done) override;
  void disconnect(const TunnelSession& session, Done done) override;
  bool supports_standby() const override { return true; }
  TunnelTraffic traffic(const TunnelSession& session) const override;
  void reset(Done done) override;

 private:
  // ---- both (tunnel.cpp)
  // Settles mode auto on the first session: kernel when the kernel makes a
  // device of the type, else userspace. Inside a queue operation.
  void resolve_mode(std::function<void(std::string error)> done);
  // Probes the kernel's device type for outer IPv4 (family 0), then IPv6 (1).
  void probe(int family, std::function<void(std::string error)> done);
  // The data thread and the raw sockets (userspace), made on first use.
  std::string ensure_encapsulator();
  void stop_data_plane();
  std::string nft_table() const { return std::string("mnigs_") + section(encap_); }

  // ---- gateway (gateway.cpp)
  struct GatewaySession {
    TunnelSession session;
    Endpoint endpoint;
    std::string address4, address6;
    std::string device;  // kernel mode: the session's own device
    int mtu = 0;
  };
  void bring_up_gateway(std::function<void(std::string error)> done);
  std::string nft_script() const;
  void enable_forwarding(std::vector<std::string> knobs, std::function<void(std::string)> done);
  // The session's MTU: its mesh interface's less the encapsulation, at
  // most the gateway device's.
  void session_mtu(const GatewaySession& g, std::function<void(int mtu)> done);
  // Hands the session to the data plane (userspace) or makes its kernel
  // device; done(error, the reply's tunnel object).
  void attach_session(GatewaySession g, std::function<void(std::string, Json::Value)> done);
  std::vector<Command> gateway_removal_commands(const std::vector<std::string>& knobs) const;
  // Kernel mode: the session's device and its set elements (removals).
  std::vector<Command> kernel_removal(const GatewaySession& g) const;
  int gateway_mtu() const;
  std::optional<std::uint32_t> new_key() const;

  // ---- subscriber (subscriber.cpp)
  struct Uplink {
    TunnelSession session;
    std::string device;
    std::shared_ptr<Traffic> traffic;
  };
  std::string free_interface() const;
  bool own_interface(const std::string& name) const;
  void connect_steps(std::shared_ptr<Uplink> up, Endpoint endpoint, bool routed, Done done);
  void route_steps(std::shared_ptr<Uplink> up, Done done);
  // Forgets `up` and closes its device; then() on the strand once it is gone.
  void drop_uplink(const std::shared_ptr<Uplink>& up, std::function<void()> then);

  PluginContext& context_;
  const Encap encap_;
  Settings settings_;
  Mode mode_ = Mode::auto_;  // settled: kernel or userspace
  bool started_ = false;
  CommandQueue queue_;
  std::unique_ptr<tunnels::DataThread> plane_;
  std::shared_ptr<Encapsulator> encap_plane_;

  // Gateway state.
  std::optional<tunnels::AddressPool> pool_;
  bool gateway_up_ = false;
  bool gateway_touched_ = false;  // bring-up began: a table or knobs may exist
  std::vector<std::string> sysctls_on_;
  std::map<std::string, GatewaySession> sessions_;  // by session id

  // Subscriber state, by "GATEWAY SESSION-ID".
  std::map<std::string, std::shared_ptr<Uplink>> uplinks_;
  std::optional<tunnels::TunnelRoutes> routes_;
};

// The plugin entry points' classes: one per suite part.
template <Encap E>
class EncapPlugin final : public GreTunnel {
 public:
  static void declare(ConfigDeclarer& declarer) { declare_keys(declarer, E); }
  explicit EncapPlugin(PluginContext& context) : GreTunnel(context, E) {}
};

}  // namespace mnigs::gre
