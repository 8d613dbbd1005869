// The subscriber side of tunnel/openvpn: its key, an openvpn client per
// connected session pinned to the gateway's certificate, the device's
// addresses set by mnigsd (openvpn is told not to: --ifconfig-noexec), and
// the default route moved into the device of the session connected with
// routing "default" (tunnels::TunnelRoutes).
#include <mnigs/log.hpp>

#include <fstream>
#include <variant>

#include "interface_name.hpp"
#include "ovpn_config.hpp"
#include "process.hpp"
#include "tunnel.hpp"
#include "util/net.hpp"

namespace mnigs::openvpn {

namespace {

// How long a client may take to reach CONNECTED.
constexpr std::chrono::seconds kConnectTimeout{30};
// A gateway's certificate for us is a few hundred bytes.
constexpr std::size_t kMaxCertificate = 8192;

std::string key_of(const TunnelSession& s) { return s.gateway_address + " " + s.id; }

std::uint64_t counter(const std::string& device, const char* name) {
  std::ifstream in("/sys/class/net/" + device + "/statistics/" + name);
  std::uint64_t v = 0;
  in >> v;
  return in ? v : 0;
}

}  // namespace

std::string OpenvpnTunnel::free_interface() const {
  return free_uplink_interface(settings_.subscriber_interface, kMaxUplinks,
                               [this](const std::string& name) {
                                 for (const auto& [key, up] : uplinks_)
                                   if (up->device == name) return true;
                                 return false;
                               });
}

bool OpenvpnTunnel::own_interface(const std::string& name) const {
  return is_uplink_interface(settings_.subscriber_interface, kMaxUplinks, name);
}

void OpenvpnTunnel::subscriber_key(std::function<void(std::string, std::string)> done) {
  if (!started_) return done("the openvpn plugin is not running", "");
  with_identity(false, [this, done](std::string error) {
    if (!error.empty()) return done(error, "");
    auto spki = x509::spki_base64(subscriber_identity_->key.get());
    if (!spki) return done("cannot write this node's openvpn key", "");
    done("", *spki);
  });
}

void OpenvpnTunnel::connect(const TunnelSession& session, Done done) {
  if (!started_) return done("the openvpn plugin is not running");
  const Json::Value& p = session.params;
  const bool routed = p.get("routing", "default").asString() != "none";
  queue_.enqueue(
      [this, session, routed, done](CommandQueue::Finished finished) {
        auto complete = [done, finished](std::string error) {
          done(std::move(error));
          finished();
        };
        if (auto it = uplinks_.find(key_of(session)); it != uplinks_.end()) {
          if (!routed || routes_->holds(it->first)) return complete("");
          return route_steps(it->second, complete);
        }
        // The key first (a resumed session after a restart has not asked).
        subscriber_key([this, session, routed, complete, done, finished](std::string error,
                                                                         std::string) {
          if (!error.empty()) return complete("this node has no openvpn key: " + error);
          const Json::Value& p = session.params;
          const std::string refused = "the gateway's tunnel parameters are refused: ";
          if (!p["address4"].isString() && !p["address6"].isString())
            return complete(refused + "no tunnel address");
          if (!p["cert"].isString() || p["cert"].asString().size() > kMaxCertificate)
            return complete(refused + "no \"cert\" of at most 8 KiB: is it an openvpn gateway?");
          std::string why;
          auto cert = x509::load_cert(p["cert"].asString(), &why);
          if (!cert) return complete(refused + "\"cert\": " + why);
          if (x509::spki_pin(cert.get()) != x509::spki_pin(subscriber_identity_->key.get()))
            return complete(refused + "\"cert\" certifies another key than this node's");
          const auto fingerprint = x509::fingerprint_of_pin(p["gatewayKey"].asString());
          if (!fingerprint)
            return complete(
                "the gateway's openvpn key is not known (neither its signed DHT offer nor its "
                "nodeInfo names one): openvpn will not connect to an unpinned server");
          // The protocol: ours when the gateway runs it, else its first.
          std::optional<Protocol> protocol;
          const Json::Value& protocols = p["protocols"];
          if (protocols.isArray() && protocols.size() <= 2)
            for (const auto& name : protocols) {
              auto q = name.isString() ? protocol_of(name.asString()) : std::nullopt;
              if (q && (!protocol || *q == settings_.protocol)) protocol = q;
            }
          const Json::Value& port = p["port"];
          if (!protocol || !port.isInt() || port.asInt() < 1 || port.asInt() > 65535)
            return complete(refused + "no usable \"protocols\" and \"port\"");
          auto remote = parse_address(session.gateway_address);
          if (!remote || (remote->is_v6() && remote->to_v6().scope_id() != 0))
            return complete("the gateway's address " + session.gateway_address +
                            " is no address openvpn can connect to");
          const std::string device = free_interface();
          if (device.empty())
            return complete("already " + std::to_string(kMaxUplinks) +
                            " openvpn sessions connected; disconnect one first");
          if (auto problem = make_private_dir(settings_.run_dir); !problem.empty())
            return complete(problem);
          auto up = std::make_shared<Uplink>();
          up->session = session;
          up->device = device;
          // A stem of its own: a client that outlived its uplink never
          // shares files with the next one on the same device.
          up->name = "client-" + device + "-" + std::to_string(++client_serial_);
          up->protocol = *protocol;
          ClientFiles f;
          f.protocol = *protocol;
          f.device = device;
          f.remote = unmap(*remote).to_string();
          f.port = port.asInt();
          f.fingerprint = *fingerprint;
          f.management = path(up->name, ".sock");
          f.pid_file = path(up->name, ".pid");
          f.log_file = path(up->name, ".log");
          // Written back by OpenSSL, not copied: nothing of the gateway's
          // text reaches the config file.
          f.cert_pem = x509::cert_pem(cert.get()).value_or("");
          f.key_pem = x509::key_pem(subscriber_identity_->key.get()).value_or("");
          ::unlink(f.management.c_str());
          const std::string config = client_config(settings_, f);
          if (auto problem = write_private_file(path(up->name, ".conf"), config); !problem.empty())
            return complete(problem);
          uplinks_[key_of(session)] = up;
          // openvpn may take up to kConnectTimeout to connect: the queue
          // serves other operations meanwhile, and the device and routes
          // are an operation of their own once it has.
          finished();
          start_client(up, [this, up, routed, done](std::string error) {
            if (!error.empty()) return drop_uplink(up, [done, error] { done(error); });
            set_up(up, routed, true, done);
          });
        });
      },
      [done](const std::string& reason) { done(reason); });
}

void OpenvpnTunnel::set_up(std::shared_ptr<Uplink> up, bool routed, bool drop_on_failure,
                           Done done) {
  queue_.enqueue(
      [this, up, routed, drop_on_failure, done](CommandQueue::Finished finished) {
        auto complete = [done, finished](std::string error) {
          done(std::move(error));
          finished();
        };
        if (up->dropped) return complete("the session was disconnected while openvpn connected");
        auto fail = [this, up, drop_on_failure, complete](std::string error) {
          if (!drop_on_failure) return complete(error);
          drop_uplink(up, [complete, error] { complete(error); });
        };
        configure_device(up, [this, up, routed, complete, fail](std::string error) {
          if (!error.empty()) return fail(error);
          if (!routed) return complete("");
          route_steps(up, [complete, fail](std::string error) {
            if (!error.empty()) return fail(error);
            complete("");
          });
        });
      },
      [done](const std::string& reason) { done(reason); });
}

void OpenvpnTunnel::start_client(std::shared_ptr<Uplink> up, Done done) {
  launch(up->name, [this, up, done](std::string error) {
    if (!error.empty()) return done("openvpn: " + error);
    // Disconnected while openvpn started: what it started goes at once.
    if (up->dropped)
      return end_client(up, [done] { done("the session was disconnected while openvpn started"); });
    auto m = ManagementClient::create(context_.executor(), path(up->name, ".sock"));
    up->management = m;
    up->pending = done;
    up->deadline = std::make_shared<boost::asio::steady_timer>(context_.executor());
    up->deadline->expires_after(kConnectTimeout);
    up->deadline->async_wait([this, up](const boost::system::error_code& ec) {
      // Cancelled by drop_uplink, stop and reset before `this` may go.
      if (ec || !up->pending) return;
      auto pending = std::move(up->pending);
      up->pending = nullptr;
      std::string why = "openvpn did not connect to " + up->session.gateway_address + " within " +
                        std::to_string(kConnectTimeout.count()) + " s (its state: " +
                        (up->state.empty() ? "none" : up->state) + ")";
      const std::string log = tail(path(up->name, ".log"), 3);
      if (!log.empty()) why += "; its log: " + log;
      pending(why);
    });
    m->on_notification([this, up](const Message& msg) { on_client_event(up, msg); });
    m->on_end([this, up, m](const boost::system::error_code& ec) {
      if (up->management != m) return;
      up->state = "EXITED";
      const std::string log = tail(path(up->name, ".log"), 3);
      if (up->pending) {
        auto pending = std::move(up->pending);
        up->pending = nullptr;
        up->deadline->cancel();
        return pending("openvpn ended before it connected" + (log.empty() ? "" : ": " + log));
      }
      // Connected for a while: back at once; else a little later each time
      // (a gateway that ends it right after it connects).
      const bool lasted = std::chrono::steady_clock::now() - up->connected_at >
                          std::chrono::seconds(60);
      up->backoff = lasted ? std::chrono::seconds(1)
                           : std::min(up->backoff * 2, std::chrono::seconds(300));
      context_.log().warn("the openvpn client of session ", up->session.id, " ended (",
                          ec.message(), log.empty() ? "" : "; its log: " + log,
                          "); starting it again in ", up->backoff.count(), " s");
      revive(up, up->backoff);
    });
    m->connect([this, up, m](const boost::system::error_code& ec) {
      if (up->management != m) return;
      if (ec) {
        if (!up->pending) return;
        auto pending = std::move(up->pending);
        up->pending = nullptr;
        up->deadline->cancel();
        return pending("cannot reach openvpn's management socket: " + ec.message());
      }
      // The state so far, then each change.
      m->send(state_on(), [](const boost::system::error_code&, Reply) {});
      m->send(state_history(), [this, up](const boost::system::error_code& ec, Reply r) {
        if (ec) return;
        for (const auto& line : r.lines)
          if (auto s = parse_state(line)) on_client_event(up, *s);
      });
    });
  });
}

void OpenvpnTunnel::on_client_event(const std::shared_ptr<Uplink>& up, const Message& msg) {
  const State* s = std::get_if<State>(&msg);
  if (!s) return;
  if (s->name != up->state)
    context_.log().debug("openvpn client of session ", up->session.id, ": ", s->name, " ",
                         s->description);
  up->state = s->name;
  if (s->name == "CONNECTED") up->connected_at = std::chrono::steady_clock::now();
  if (s->name == "CONNECTED" && up->pending) {
    auto pending = std::move(up->pending);
    up->pending = nullptr;
    up->deadline->cancel();
    pending("");
  }
}

void OpenvpnTunnel::configure_device(std::shared_ptr<Uplink> up, Done done) {
  // openvpn's own MTU is 1500 inside; it segments what the mesh cannot carry.
  const int mtu = 1500;
  auto steps = tunnels::device_setup(up->device, mtu, up->session.params);
  queue_.run_steps(std::move(steps), [up, done](std::string error) {
    if (error.empty()) up->configured = true;
    done(error);
  });
}

void OpenvpnTunnel::route_steps(std::shared_ptr<Uplink> up, Done done) {
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
                    context_.log().info("openvpn tunnel ", up->device, " to ",
                                        up->session.gateway_address,
                                        " set up; default route moved into it");
                  done(error);
                });
}

void OpenvpnTunnel::revive(std::shared_ptr<Uplink> up, std::chrono::seconds delay) {
  if (up->management) up->management->close();
  up->management.reset();
  up->configured = false;
  up->retry = std::make_shared<boost::asio::steady_timer>(context_.executor());
  up->retry->expires_after(delay);
  up->retry->async_wait([this, up, delay](const boost::system::error_code& ec) {
    // Cancelled by drop_uplink, stop and reset before `this` may go.
    if (ec || !started_ || up->dropped) return;
    auto again = [this, up, delay](const std::string& error) {
      context_.log().warn("the openvpn client of session ", up->session.id,
                          " did not come back: ", error);
      // What it started goes first; tried again while the session is
      // connected, at most every 5 minutes.
      end_client(up, [this, up, delay] {
        if (!up->dropped) revive(up, std::min(delay * 2, std::chrono::seconds(300)));
      });
    };
    // Its config is still in runDir; the device went with the process, and
    // the default route with the device.
    start_client(up, [this, up, again](std::string error) {
      if (!error.empty()) return again(error);
      set_up(up, routes_->holds(key_of(up->session)), false, [this, up, again](std::string e) {
        if (!e.empty()) return again(e);
        context_.log().info("the openvpn client of session ", up->session.id, " is back");
      });
    });
  });
}

void OpenvpnTunnel::end_client(const std::shared_ptr<Uplink>& up, std::function<void()> then) {
  if (up->management) up->management->close();
  up->management.reset();
  if (auto pid = our_openvpn(path(up->name, ".pid"), settings_.run_dir))
    return end_process(context_.executor(), *pid, std::chrono::seconds(3),
                       queue_.guard<>(std::move(then)));
  then();
}

void OpenvpnTunnel::abandon_uplinks() {
  auto uplinks = std::move(uplinks_);
  uplinks_.clear();
  std::vector<Done> waiting;
  for (auto& [key, up] : uplinks) {
    up->dropped = true;
    if (up->management) up->management->close();
    if (up->deadline) up->deadline->cancel();
    if (up->retry) up->retry->cancel();
    if (up->pending) waiting.push_back(std::move(up->pending));
    up->pending = nullptr;
  }
  // Their processes go with reset's (or stop's) end of every openvpn of ours.
  for (auto& w : waiting) w("the openvpn plugin was stopped or reset");
}

void OpenvpnTunnel::drop_uplink(const std::shared_ptr<Uplink>& up, std::function<void()> then) {
  if (up->dropped) return then();
  up->dropped = true;
  if (auto it = uplinks_.find(key_of(up->session)); it != uplinks_.end() && it->second == up)
    uplinks_.erase(it);
  if (up->management) up->management->close();
  up->management.reset();
  if (up->deadline) up->deadline->cancel();
  if (up->retry) up->retry->cancel();
  // A connect still waiting for openvpn learns why it will not complete.
  if (auto pending = std::move(up->pending)) {
    up->pending = nullptr;
    pending("the session was disconnected while openvpn connected");
  }
  auto remove_files = [this, up, then] {
    for (const char* suffix : {".conf", ".pid", ".sock", ".log"})
      ::unlink(path(up->name, suffix).c_str());
    then();
  };
  // The device goes with the process.
  if (auto pid = our_openvpn(path(up->name, ".pid"), settings_.run_dir))
    return end_process(context_.executor(), *pid, std::chrono::seconds(3),
                       queue_.guard<>(remove_files));
  remove_files();
}

void OpenvpnTunnel::disconnect(const TunnelSession& session, Done done) {
  queue_.enqueue(
      [this, key = key_of(session), done](CommandQueue::Finished finished) {
        auto it = uplinks_.find(key);
        if (it == uplinks_.end()) {
          done("");
          return finished();
        }
        auto up = it->second;
        std::vector<netcmd::Command> commands = routes_->release(key);
        drop_uplink(up, [this, commands, done, finished]() mutable {
          queue_.run_all(std::move(commands), true, [done, finished](std::string error) {
            done(error);
            finished();
          });
        });
      },
      [done](const std::string& reason) { done(reason); });
}

TunnelTraffic OpenvpnTunnel::traffic(const TunnelSession& session) const {
  TunnelTraffic t;
  auto it = uplinks_.find(key_of(session));
  if (it == uplinks_.end()) return t;
  t.device = it->second->device;
  // The device's own counters: what went into the tunnel and came out.
  t.counted = true;
  t.bytes_out = counter(t.device, "tx_bytes");
  t.bytes_in = counter(t.device, "rx_bytes");
  t.packets_out = counter(t.device, "tx_packets");
  t.packets_in = counter(t.device, "rx_packets");
  return t;
}

}  // namespace mnigs::openvpn
