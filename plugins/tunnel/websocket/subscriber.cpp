// The subscriber side of the websocket plugin: a tun device per connected
// session with the session's addresses, the default route moved into the
// device of the one connected with routing "default", and each link to its
// gateway kept up by a TunnelClient.
//
// The addresses come without prefix routes (noprefixroute): two gateways
// may allot the same ones from the same default pool, and a standby's
// device must not take traffic. Routing, per family the routed session has
// an address of, with subscriber.routing "default":
//   priority P    from all lookup main suppress_prefixlength 0
//   priority P+1  from all lookup T
//   table T       default dev DEVICE
// so the mesh (every route of main more specific than /0), and with it the
// WebSockets' own connections to the gateways, stays outside the tunnels.
// A session connected with routing "none" (a standby) is reached only by
// sockets bound to its device, which is what the daemon's probes are; the
// kernel takes a bound socket's destination to be on the device's link.
// Connecting a standby again with "default" replaces T's default route:
// one routing change per family. Each device gets the loose reverse-path
// filter (rp_filter 2): a standby's answers arrive on a device the default
// route does not use.
//
// Sessions are told apart by gateway and id: the id is the gateway's to
// choose, and two gateways may choose the same.
#include <boost/asio/post.hpp>

#include <algorithm>

#include "tunnel.hpp"

namespace mnigs::websocket {

using netcmd::Family;

namespace {

const char* address_key(Family f) { return f == Family::v4 ? "address4" : "address6"; }

std::string key_of(const TunnelSession& s) { return s.gateway_address + " " + s.id; }

}  // namespace

std::string WebsocketTunnel::free_interface() const {
  return free_uplink_interface(settings_.subscriber_interface, kMaxUplinks,
                               [this](const std::string& name) {
                                 for (const auto& [key, up] : uplinks_)
                                   if (up->device == name) return true;
                                 return false;
                               });
}

bool WebsocketTunnel::own_interface(const std::string& name) const {
  return is_uplink_interface(settings_.subscriber_interface, kMaxUplinks, name);
}

void WebsocketTunnel::connect(const TunnelSession& session, Done done) {
  if (!started_) return done("the websocket plugin is not running");
  const Json::Value& p = session.params;
  for (const char* key : {"path", "token"})
    if (!p[key].isString() || p[key].asString().empty())
      return done(std::string("the gateway's reply has no tunnel \"") + key +
                  "\": is it a websocket gateway?");
  // The core checked them already (TunnelSession::params); they go into the
  // upgrade request's line and headers, so this end checks again.
  if (auto why = request_refusal(p["path"].asString(),
                                 {{"Authorization", "Bearer " + p["token"].asString()},
                                  {"X-Mnigs-Session", session.id}});
      !why.empty())
    return done("the gateway's tunnel parameters are refused: " + why);
  if (!p["address4"].isString() && !p["address6"].isString())
    return done("the gateway gave the session no tunnel address");
  if (auto wss = choose_wss(p, settings_.require_tls); !wss.refusal.empty())
    return done(wss.refusal);
  const bool routed = p.get("routing", "default").asString() != "none";
  queue_.enqueue(
      [this, session, routed, done](CommandQueue::Finished finished) {
        auto complete = [done, finished](std::string error) {
          done(std::move(error));
          finished();
        };
        if (auto it = uplinks_.find(key_of(session)); it != uplinks_.end()) {
          // Connected already: a standby taking over moves the default
          // route to its device; anything else is as asked.
          if (!routed || routes_->holds(it->first)) return complete("");
          return route_steps(it->second, complete);
        }
        const std::string device = free_interface();
        if (device.empty())
          return complete("already " + std::to_string(kMaxUplinks) +
                          " websocket sessions connected; disconnect one first");
        auto up = std::make_shared<Uplink>();
        up->session = session;
        up->device = device;
        connect_steps(up, routed, complete);
      },
      [done](const std::string& reason) { done(reason); });
}

void WebsocketTunnel::connect_steps(std::shared_ptr<Uplink> up, bool routed, Done done) {
  const Json::Value& p = up->session.params;
  const std::string& dev = up->device;
  std::shared_ptr<TunnelClient> client;
  try {
    TunDevice device(dev, TunDevice::Kind::tun, settings_.offload);
    Link::Options options;
    options.role = Link::Role::client;
    options.max_queue = settings_.max_queue;
    options.liveness.ping_after = settings_.keepalive;
    options.liveness.dead_after = settings_.timeout;
    TunnelClient::Target target;
    target.address = up->session.gateway_address;
    target.port = static_cast<std::uint16_t>(p.get("gatewayPort", 65533).asInt());
    if (auto wss = choose_wss(p, settings_.require_tls); wss.port != 0) {
      target.tls_pin = wss.pin;
      target.port = static_cast<std::uint16_t>(wss.port);
    }
    target.path = p["path"].asString();
    target.headers = {{"X-Mnigs-Session", up->session.id},
                      {"Authorization", "Bearer " + p["token"].asString()}};
    client = std::make_shared<TunnelClient>(plane_->io(), std::move(device), options, target,
                                            context_.log());
  } catch (const std::exception& e) {
    return done(std::string("cannot create the tunnel device: ") + e.what());
  }
  const int mtu = p.get("mtu", settings_.mtu).asInt();
  std::vector<Command> steps = tunnels::device_setup(dev, mtu, p);
  run_steps(std::move(steps), [this, up, client, routed, done](std::string error) {
    if (!error.empty()) {
      // Closing the device takes its addresses with it.
      return close_device(client, [done, error] { done(error); });
    }
    up->client = client;
    uplinks_[key_of(up->session)] = up;
    plane_->post([client] { client->start(); });
    Command loose = tunnels::loose_reverse_path(up->device);
    queue_.run(loose, [this, up, loose, routed, done](const CommandOutcome& o) {
      // Not fatal (a container may not let it be written): only a standby
      // of this device would go unheard, where the filter is strict.
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

void WebsocketTunnel::route_steps(std::shared_ptr<Uplink> up, Done done) {
  const Json::Value& p = up->session.params;
  auto device_of = [this](const std::string& key) {
    auto it = uplinks_.find(key);
    return it == uplinks_.end() ? std::string() : it->second->device;
  };
  routes_->take(key_of(up->session), up->device,
                {p[address_key(Family::v4)].isString(), p[address_key(Family::v6)].isString()},
                up->session.gateway_address, device_of,
                [this](const std::string& dev) { return own_interface(dev); },
                [this, up, done](std::string error) {
                  if (error.empty())
                    context_.log().info("tunnel ", up->device, " to ",
                                        up->session.gateway_address,
                                        " set up; default route moved into it");
                  done(error);
                });
}

void WebsocketTunnel::close_device(std::shared_ptr<TunnelClient> client,
                                   std::function<void()> then) {
  // Closed on the data plane's thread; `then` back on the strand, so that
  // the device's name is free again by then.
  plane_->post([client, ex = context_.executor(), then] {
    client->stop();
    boost::asio::post(ex, then);
  });
}

void WebsocketTunnel::drop_uplink(const std::shared_ptr<Uplink>& up, std::function<void()> then) {
  uplinks_.erase(key_of(up->session));
  if (auto client = std::move(up->client)) return close_device(client, std::move(then));
  then();
}

void WebsocketTunnel::disconnect(const TunnelSession& session, Done done) {
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
        // The device's addresses go with it.
        drop_uplink(up, [this, commands, done, finished]() mutable {
          queue_.run_all(std::move(commands), true, [done, finished](std::string error) {
            done(error);
            finished();
          });
        });
      },
      [done](const std::string& reason) { done(reason); });
}

TunnelTraffic WebsocketTunnel::traffic(const TunnelSession& session) const {
  TunnelTraffic t;
  auto it = uplinks_.find(key_of(session));
  if (it == uplinks_.end() || !it->second->client) return t;
  // Binary messages are the packets; pings and pongs are not counted there.
  const LinkCounters& c = it->second->client->link_counters();
  t.device = it->second->device;
  t.counted = true;
  t.bytes_out = c.tx_bytes;
  t.bytes_in = c.rx_bytes;
  t.packets_out = c.tx_messages;
  t.packets_in = c.rx_messages;
  return t;
}

}  // namespace mnigs::websocket
