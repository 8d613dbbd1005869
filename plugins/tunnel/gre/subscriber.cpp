// The subscriber side of tunnel/gre: a device per connected session with
// the session's addresses (a tun device fed by the data plane, or the
// kernel's own), and the default route moved into the device of the one
// connected with routing "default" (tunnels::TunnelRoutes). Addresses come
// without prefix routes: two gateways may allot the same ones, and a
// standby's device must not take traffic.
#include <boost/asio/post.hpp>
#include <mnigs/log.hpp>

#include <algorithm>

#include "interface_name.hpp"
#include "kernel.hpp"
#include "tunnel.hpp"

namespace mnigs::gre {

namespace {

std::string key_of(const TunnelSession& s) { return s.gateway_address + " " + s.id; }

// The gateway's "tunnel" object, checked for what the core leaves to the
// plugin (TunnelSession::params): "key" and "mtu".
std::string params_refusal(const Json::Value& p, Encap encap) {
  if (!p["address4"].isString() && !p["address6"].isString())
    return "the gateway gave the session no tunnel address";
  if (encap == Encap::gre) {
    const Json::Value& key = p["key"];
    if (!key.isIntegral() || !key.isUInt64() || key.asUInt64() == 0 ||
        key.asUInt64() > 0xffffffffu)
      return "the gateway's reply has no GRE \"key\" from 1 to 4294967295: is it a gre gateway?";
  }
  if (p.isMember("mtu") && (!p["mtu"].isInt() || p["mtu"].asInt() < 576))
    return "the gateway's \"mtu\" is not a number from 576 up";
  return "";
}

}  // namespace

std::string GreTunnel::free_interface() const {
  return free_uplink_interface(settings_.subscriber_interface, kMaxUplinks,
                               [this](const std::string& name) {
                                 for (const auto& [key, up] : uplinks_)
                                   if (up->device == name) return true;
                                 return false;
                               });
}

bool GreTunnel::own_interface(const std::string& name) const {
  return is_uplink_interface(settings_.subscriber_interface, kMaxUplinks, name);
}

void GreTunnel::connect(const TunnelSession& session, Done done) {
  if (!started_) return done(std::string("the ") + section(encap_) + " plugin is not running");
  const Json::Value& p = session.params;
  if (auto why = params_refusal(p, encap_); !why.empty())
    return done("the gateway's tunnel parameters are refused: " + why);
  auto remote = parse_ip(session.gateway_address);
  if (!remote)
    return done("the gateway's address " + session.gateway_address +
                " is no address a tunnel can be sent to");
  const bool routed = p.get("routing", "default").asString() != "none";
  queue_.enqueue(
      [this, session, remote = *remote, routed, done](CommandQueue::Finished finished) {
        auto complete = [done, finished](std::string error) {
          done(std::move(error));
          finished();
        };
        resolve_mode([this, session, remote, routed, complete](std::string error) {
          if (!error.empty()) return complete(error);
          if (auto it = uplinks_.find(key_of(session)); it != uplinks_.end()) {
            // Connected already: a standby taking over moves the default
            // route to its device; anything else is as asked.
            if (!routed || routes_->holds(it->first)) return complete("");
            return route_steps(it->second, complete);
          }
          const std::string device = free_interface();
          if (device.empty())
            return complete("already " + std::to_string(kMaxUplinks) + " " + section(encap_) +
                            " sessions connected; disconnect one first");
          const Json::Value& p = session.params;
          Endpoint e;
          e.name = key_of(session);
          e.remote = remote;
          e.key = static_cast<std::uint32_t>(p["key"].asUInt64());
          if (p["address4"].isString()) e.inner4 = parse_ip(p["address4"].asString());
          if (p["address6"].isString()) e.inner6 = parse_ip(p["address6"].asString());
          auto up = std::make_shared<Uplink>();
          up->session = session;
          up->device = device;
          up->traffic = e.traffic;
          connect_steps(up, std::move(e), routed, complete);
        });
      },
      [done](const std::string& reason) { done(reason); });
}

void GreTunnel::connect_steps(std::shared_ptr<Uplink> up, Endpoint endpoint, bool routed,
                              Done done) {
  const Json::Value& p = up->session.params;
  const std::string& dev = up->device;
  int mtu = p.get("mtu", 0).asInt();
  if (settings_.mtu != 0 && (mtu == 0 || settings_.mtu < mtu)) mtu = settings_.mtu;
  if (mtu == 0) mtu = 1500 - overhead(encap_ == Encap::gre, endpoint.remote.v6);

  std::vector<Command> steps;
  std::optional<tunnels::TunDevice> device;
  if (mode_ == Mode::userspace) {
    if (auto why = ensure_encapsulator(); !why.empty()) return done(why);
    try {
      device.emplace(dev, tunnels::TunDevice::Kind::tun, true);
    } catch (const std::exception& e) {
      return done(std::string("cannot create the tunnel device: ") + e.what());
    }
  } else {
    steps.push_back(create_device(KernelDevice{encap_, dev, "", endpoint.remote.text(),
                                               endpoint.remote.v6, endpoint.key}));
  }
  for (auto& c : tunnels::device_setup(dev, mtu, p)) steps.push_back(std::move(c));
  steps.push_back(queue_length(dev));
  // The data plane owns the tun device from here: it is closed there.
  if (device) {
    auto e = encap_plane_;
    auto shared = std::make_shared<std::optional<tunnels::TunDevice>>(std::move(device));
    plane_->post([e, endpoint, shared] { e->add(endpoint, std::move(*shared)); });
  }
  uplinks_[key_of(up->session)] = up;
  queue_.run_steps(std::move(steps), [this, up, routed, done](std::string error) {
    if (!error.empty()) return drop_uplink(up, [done, error] { done(error); });
    Command loose = tunnels::loose_reverse_path(up->device);
    queue_.run(loose, [this, up, loose, routed, done](const CommandOutcome& o) {
      // Not fatal: only a standby on this device would go unheard, where
      // the filter is strict.
      if (!netcmd::succeeded(o))
        context_.log().warn(netcmd::failure_sentence(loose, o), "; with a strict reverse-path ",
                            "filter a standby on ", up->device, " is not heard");
      if (!routed) return done("");
      route_steps(up, [this, up, done](std::string error) {
        if (error.empty()) return done("");
        drop_uplink(up, [done, error] { done(error); });
      });
    });
  });
}

void GreTunnel::route_steps(std::shared_ptr<Uplink> up, Done done) {
  const Json::Value& p = up->session.params;
  auto device_of = [this](const std::string& key) {
    auto it = uplinks_.find(key);
    return it == uplinks_.end() ? std::string() : it->second->device;
  };
  routes_->take(key_of(up->session), up->device,
                {p["address4"].isString(), p["address6"].isString()},
                up->session.gateway_address, device_of,
                [this](const std::string& dev) { return own_interface(dev); },
                [this, up, done](std::string error) {
                  if (error.empty())
                    context_.log().info(section(encap_), " tunnel ", up->device, " to ",
                                        up->session.gateway_address,
                                        " set up; default route moved into it");
                  done(error);
                });
}

void GreTunnel::drop_uplink(const std::shared_ptr<Uplink>& up, std::function<void()> then) {
  const std::string key = key_of(up->session);
  uplinks_.erase(key);
  if (mode_ == Mode::kernel) {
    // The device takes its addresses with it.
    queue_.run(delete_device(up->device), [then](const CommandOutcome&) { then(); });
    return;
  }
  if (!encap_plane_) return then();
  // Closed on the data thread; `then` back on the strand, so that the
  // device's name is free again by then.
  auto e = encap_plane_;
  plane_->post([e, key, ex = context_.executor(), then] {
    e->remove(key);
    boost::asio::post(ex, then);
  });
}

void GreTunnel::disconnect(const TunnelSession& session, Done done) {
  queue_.enqueue(
      [this, key = key_of(session), done](CommandQueue::Finished finished) {
        auto it = uplinks_.find(key);
        if (it == uplinks_.end()) {
          done("");
          return finished();
        }
        auto up = it->second;
        // The rules and table T only while its default route is this
        // session's (not after a standby took over).
        std::vector<Command> commands = routes_->release(key);
        drop_uplink(up, [this, commands, done, finished]() mutable {
          queue_.run_all(std::move(commands), true, [done, finished](std::string error) {
            done(error);
            finished();
          });
        });
      },
      [done](const std::string& reason) { done(reason); });
}

TunnelTraffic GreTunnel::traffic(const TunnelSession& session) const {
  TunnelTraffic t;
  auto it = uplinks_.find(key_of(session));
  if (it == uplinks_.end()) return t;
  t.device = it->second->device;
  // The kernel's devices count for themselves (ip -s link); the userspace
  // data plane counts here.
  if (mode_ != Mode::userspace || !it->second->traffic) return t;
  const Traffic& c = *it->second->traffic;
  t.counted = true;
  t.bytes_out = c.tx_bytes;
  t.bytes_in = c.rx_bytes;
  t.packets_out = c.tx_packets;
  t.packets_in = c.rx_packets;
  return t;
}

}  // namespace mnigs::gre
