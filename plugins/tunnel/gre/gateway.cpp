// The gateway side of tunnel/gre: sessions' addresses and keys, the
// shared tun device (userspace) or a kernel device per session (kernel),
// and the nft table that keeps sessions to their addresses and masquerades
// them out of the uplink.
#include <sys/random.h>

#include <mnigs/log.hpp>

#include <algorithm>
#include <cerrno>
#include <set>

#include "kernel.hpp"
#include "masquerade.hpp"
#include "tunnel.hpp"

namespace mnigs::gre {

namespace {

Command cmd(std::vector<std::string> argv, std::string input = "", bool removal = false) {
  Command c;
  c.argv = std::move(argv);
  c.input = std::move(input);
  c.removal = removal;
  return c;
}

}  // namespace

int GreTunnel::gateway_mtu() const {
  if (settings_.mtu != 0) return settings_.mtu;
  // The larger overhead (IPv6 outside): one device serves both families.
  return 1500 - overhead(encap_ == Encap::gre, true);
}

std::optional<std::uint32_t> GreTunnel::new_key() const {
  for (int attempt = 0; attempt < 16; ++attempt) {
    std::uint32_t key = 0;
    ssize_t n;
    do n = ::getrandom(&key, sizeof key, 0);
    while (n < 0 && errno == EINTR);
    if (n != sizeof key) return std::nullopt;
    if (key == 0) continue;
    bool used = false;
    for (const auto& [id, g] : sessions_) used = used || g.endpoint.key == key;
    if (!used) return key;
  }
  return std::nullopt;
}

std::string GreTunnel::nft_script() const {
  const std::string table = nft_table();
  // The gateway side's devices: the shared tun device (userspace), or each
  // session's, gatewayInterface with a number (kernel).
  const std::string devices = "\"" + settings_.gateway_interface +
                              (mode_ == Mode::kernel ? "*" : "") + "\"";
  const std::string out = tunnels::uplink_match(settings_.uplink, devices);
  std::string s;
  // Written whole: add (so delete cannot fail), delete, define.
  s += "add table inet " + table + "\n";
  s += "delete table inet " + table + "\n";
  s += "table inet " + table + " {\n";
  // Kernel mode: each session's device takes only its session's addresses
  // (the userspace data plane checks that itself).
  s += "  set sources4 { type ifname . ipv4_addr; }\n";
  s += "  set sources6 { type ifname . ipv6_addr; }\n";
  s += "  chain forward {\n    type filter hook forward priority filter; policy accept;\n";
  // Nothing encapsulated leaves a session: a subscriber could otherwise
  // hand another subscriber packets that seem to come from this gateway.
  s += "    iifname " + devices + " meta l4proto { 4, 41, 47 } drop\n";
  if (!settings_.pool4.empty())
    s += "    iifname " + devices + " meta nfproto ipv4 ip saddr != " + settings_.pool4 + " drop\n";
  if (!settings_.pool6.empty())
    s += "    iifname " + devices + " meta nfproto ipv6 ip6 saddr != " + settings_.pool6 +
         " drop\n";
  if (mode_ == Mode::kernel) {
    s += "    iifname " + devices + " meta nfproto ipv4 iifname . ip saddr != @sources4 drop\n";
    s += "    iifname " + devices + " meta nfproto ipv6 iifname . ip6 saddr != @sources6 drop\n";
  }
  s += "  }\n";
  s += tunnels::masquerade_chain(settings_.pool4, settings_.pool6, out);
  s += "}\n";
  return s;
}

std::vector<Command> GreTunnel::gateway_removal_commands(
    const std::vector<std::string>& knobs) const {
  std::vector<Command> c;
  c.push_back(cmd({"nft", "delete", "table", "inet", nft_table()}, "", true));
  for (const auto& knob : knobs) c.push_back(netcmd::write_knob(knob, false));
  return c;
}

void GreTunnel::enable_forwarding(std::vector<std::string> knobs,
                                  std::function<void(std::string)> done) {
  netcmd::turn_on_knobs(
      queue_, std::move(knobs), [this](const std::string& knob) { sysctls_on_.push_back(knob); },
      std::move(done));
}

void GreTunnel::bring_up_gateway(std::function<void(std::string)> done) {
  if (gateway_up_) return done("");
  std::vector<Command> steps;
  std::optional<tunnels::TunDevice> device;
  if (mode_ == Mode::userspace) {
    if (auto why = ensure_encapsulator(); !why.empty()) return done(why);
    try {
      device.emplace(settings_.gateway_interface, tunnels::TunDevice::Kind::tun, true);
    } catch (const std::exception& e) {
      return done(e.what());
    }
    const std::string& dev = settings_.gateway_interface;
    // No link-local address: nothing but the sessions' packets goes out.
    steps.push_back(cmd({"ip", "link", "set", "dev", dev, "addrgenmode", "none"}));
    steps.back().best_effort = true;  // a kernel without IPv6 refuses it
    steps.push_back(
        cmd({"ip", "link", "set", "dev", dev, "mtu", std::to_string(gateway_mtu()), "up"}));
    steps.push_back(queue_length(dev));
    if (pool_->has4())
      steps.push_back(
          cmd({"ip", "-4", "addr", "replace",
               pool_->gateway4() + "/" + std::to_string(pool_->prefix_length4()), "dev", dev}));
    if (pool_->has6())
      steps.push_back(
          cmd({"ip", "-6", "addr", "replace",
               pool_->gateway6() + "/" + std::to_string(pool_->prefix_length6()), "dev", dev,
               "nodad"}));
  }
  steps.push_back(cmd({"nft", "-f", "-"}, nft_script()));
  auto shared = std::make_shared<std::optional<tunnels::TunDevice>>(std::move(device));
  // From here on the table and the knobs may exist: stop and reset remove
  // them, whether or not the gateway comes up.
  gateway_touched_ = true;
  queue_.run_steps(std::move(steps), [this, shared, done](std::string error) {
    if (!error.empty()) return done(error);
    std::vector<std::string> knobs;
    if (pool_->has4()) knobs.push_back("net.ipv4.ip_forward");
    if (pool_->has6()) knobs.push_back("net.ipv6.conf.all.forwarding");
    enable_forwarding(std::move(knobs), [this, shared, done](std::string error) {
      if (!error.empty()) return done(error);
      if (shared->has_value()) {
        auto e = encap_plane_;
        plane_->post([e, shared] { e->set_gateway_device(std::move(**shared)); });
      }
      gateway_up_ = true;
      context_.log().info(section(encap_), " gateway is up (mode ", to_string(mode_), ")");
      done("");
    });
  });
}

void GreTunnel::session_mtu(const GatewaySession& g, std::function<void(int)> done) {
  const int cap = gateway_mtu();
  std::string why;
  auto address = netcmd::parse_address(g.session.subscriber_address, &why);
  if (!address) return done(cap);
  Command get = netcmd::route_get(*address);
  const bool has6 = !g.address6.empty();
  queue_.run(get, [this, address = *address, cap, has6, done](const CommandOutcome& o) {
    std::string why;
    std::optional<netcmd::NextHop> hop;
    if (netcmd::succeeded(o)) hop = netcmd::parse_route_get(o.out, address, 0, &why);
    auto mesh = hop ? tunnels::interface_mtu(hop->dev) : std::nullopt;
    if (!mesh) return done(cap);
    const int fits = *mesh - overhead(encap_ == Encap::gre, address.family == netcmd::Family::v6);
    // IPv6 inside needs 1280 (below it the kernel takes IPv6 off the
    // device); on a thinner mesh (cjdns: 1304) the outer packets fragment.
    done(std::clamp(fits, has6 ? 1280 : 576, cap));
  });
}

void GreTunnel::open_session(const TunnelSession& session,
                             std::function<void(std::string, Json::Value)> done) {
  if (!started_) return done(std::string("the ") + section(encap_) + " plugin is not running", {});
  queue_.enqueue(
      [this, session, done](CommandQueue::Finished finished) {
        auto fail = [done, finished](const std::string& error) {
          done(error, Json::Value());
          finished();
        };
        resolve_mode([this, session, done, finished, fail](std::string error) {
          if (!error.empty()) return fail(error);
          auto remote = parse_ip(session.subscriber_address);
          auto local = parse_ip(session.gateway_address);
          if (!remote || !local || remote->v6 != local->v6)
            return fail(std::string("a ") + section(encap_) +
                        " tunnel needs the subscriber's and this gateway's mesh addresses, of "
                        "one family and without a zone (got " +
                        session.subscriber_address + " and " + session.gateway_address + ")");
          GatewaySession g;
          g.session = session;
          const Json::Value& p = session.params;
          std::string why;
          auto addresses = pool_->allot(p, &why);
          if (!addresses) return fail("session " + session.id + ": " + why);
          g.address4 = addresses->address4;
          g.address6 = addresses->address6;
          if (p.isMember("key")) {
            // Resumed after a restart: the same key.
            g.endpoint.key = static_cast<std::uint32_t>(p["key"].asUInt());
          } else if (encap_ == Encap::gre) {
            auto key = new_key();
            if (!key) {
              pool_->release(*addresses);
              return fail("cannot make a GRE key (getrandom failed)");
            }
            g.endpoint.key = *key;
          }
          g.endpoint.name = session.id;
          g.endpoint.gateway = true;
          g.endpoint.remote = *remote;
          g.endpoint.local = *local;
          if (!g.address4.empty()) g.endpoint.inner4 = parse_ip(g.address4);
          if (!g.address6.empty()) g.endpoint.inner6 = parse_ip(g.address6);
          auto release = [this, g] { pool_->release({g.address4, g.address6}); };
          bring_up_gateway([this, g, release, done, finished, fail](std::string error) mutable {
            if (!error.empty()) {
              release();
              return fail("cannot set up the tunnel: " + error);
            }
            session_mtu(g, [this, g, release, done, finished, fail](int mtu) mutable {
              g.mtu = mtu;
              attach_session(std::move(g), [this, release, done, finished, fail](
                                               std::string error, Json::Value params) {
                if (!error.empty()) {
                  release();
                  return fail("cannot set up the tunnel: " + error);
                }
                done("", params);
                finished();
              });
            });
          });
        });
      },
      [done](const std::string& reason) { done(reason, Json::Value()); });
}

void GreTunnel::attach_session(GatewaySession g,
                               std::function<void(std::string, Json::Value)> done) {
  Json::Value params(Json::objectValue);
  if (encap_ == Encap::gre) params["key"] = Json::UInt64(g.endpoint.key);
  params["mtu"] = g.mtu;
  pool_->describe({g.address4, g.address6}, params);
  auto log = [this](const GatewaySession& g) {
    context_.log().info("session ", g.session.id, " of ", g.session.subscriber_address, ": ",
                        section(encap_), encap_ == Encap::gre
                                             ? " key " + std::to_string(g.endpoint.key)
                                             : std::string(),
                        ", tunnel addresses ", g.address4, " ", g.address6);
  };
  if (mode_ == Mode::userspace) {
    auto e = encap_plane_;
    plane_->post([e, endpoint = g.endpoint] { e->add(endpoint, std::nullopt); });
    log(g);
    sessions_[g.session.id] = std::move(g);
    return done("", params);
  }
  // Kernel IP in IP devices are told apart by their outer addresses alone.
  if (encap_ == Encap::ipip)
    for (const auto& [id, other] : sessions_)
      if (other.endpoint.remote == g.endpoint.remote)
        return done("the kernel's IP-in-IP devices take one session per subscriber address, and " +
                        g.session.subscriber_address + " has session " + id +
                        " already; use gre, or ipip.mode userspace",
                    Json::Value());
  // Kernel: a device of the session's own, the lowest free number.
  std::set<std::string> taken;
  for (const auto& [id, other] : sessions_) taken.insert(other.device);
  unsigned n = 1;
  while (taken.count(gateway_device(settings_, n))) ++n;
  g.device = gateway_device(settings_, n);
  KernelDevice d{encap_, g.device, g.endpoint.local->text(), g.endpoint.remote.text(),
                 g.endpoint.remote.v6, g.endpoint.key};
  std::vector<Command> steps{
      create_device(d), cmd({"ip", "link", "set", "dev", g.device, "addrgenmode", "none"}),
      cmd({"ip", "link", "set", "dev", g.device, "mtu", std::to_string(g.mtu), "up"})};
  steps[1].best_effort = true;  // a kernel without IPv6 refuses it
  const std::string table = nft_table();
  if (!g.address4.empty()) {
    steps.push_back(cmd({"ip", "-4", "addr", "add", pool_->gateway4(), "peer",
                         g.address4 + "/32", "dev", g.device}));
    steps.push_back(cmd({"nft", "add", "element", "inet", table, "sources4",
                         "{ \"" + g.device + "\" . " + g.address4 + " }"}));
  }
  if (!g.address6.empty()) {
    steps.push_back(cmd({"ip", "-6", "addr", "add", pool_->gateway6(), "peer",
                         g.address6 + "/128", "dev", g.device, "nodad"}));
    steps.push_back(cmd({"nft", "add", "element", "inet", table, "sources6",
                         "{ \"" + g.device + "\" . " + g.address6 + " }"}));
  }
  queue_.run_steps(std::move(steps), [this, g, params, log, done](std::string error) {
    if (!error.empty()) {
      // The device takes its addresses with it; the set elements go too,
      // before the next session's device gets this one's name.
      queue_.run_all(kernel_removal(g), true, [done, error](std::string) {
        done(error, Json::Value());
      });
      return;
    }
    log(g);
    sessions_[g.session.id] = g;
    done("", params);
  });
}

std::vector<Command> GreTunnel::kernel_removal(const GatewaySession& g) const {
  std::vector<Command> steps;
  if (g.device.empty()) return steps;
  const std::string table = nft_table();
  steps.push_back(delete_device(g.device));
  if (!g.address4.empty())
    steps.push_back(cmd({"nft", "delete", "element", "inet", table, "sources4",
                         "{ \"" + g.device + "\" . " + g.address4 + " }"},
                        "", true));
  if (!g.address6.empty())
    steps.push_back(cmd({"nft", "delete", "element", "inet", table, "sources6",
                         "{ \"" + g.device + "\" . " + g.address6 + " }"},
                        "", true));
  return steps;
}

void GreTunnel::close_session(const TunnelSession& session, Done done) {
  queue_.enqueue(
      [this, session, done](CommandQueue::Finished finished) {
        auto it = sessions_.find(session.id);
        if (it == sessions_.end()) {
          done("");
          return finished();
        }
        GatewaySession g = std::move(it->second);
        sessions_.erase(it);
        pool_->release({g.address4, g.address6});
        if (encap_plane_) {
          auto e = encap_plane_;
          plane_->post([e, name = g.endpoint.name] { e->remove(name); });
        }
        queue_.run_all(kernel_removal(g), true, [done, finished](std::string error) {
          done(error);
          finished();
        });
      },
      [done](const std::string& reason) { done(reason); });
}

}  // namespace mnigs::gre
