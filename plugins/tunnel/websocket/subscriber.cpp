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
#include <boost/asio/ip/address.hpp>

#include <boost/asio/post.hpp>

#include <algorithm>
#include <array>

#include "tunnel.hpp"

namespace mnigs::websocket {

using netcmd::Family;

namespace {

std::optional<Family> family_of(const std::string& text) {
  boost::system::error_code ec;
  auto a = boost::asio::ip::make_address(text, ec);
  if (ec) return std::nullopt;
  return a.is_v4() ? Family::v4 : Family::v6;
}

const char* address_key(Family f) { return f == Family::v4 ? "address4" : "address6"; }

std::string key_of(const TunnelSession& s) { return s.gateway_address + " " + s.id; }

}  // namespace

bool WebsocketTunnel::routes(const std::string& key) const {
  return std::find(routed_.begin(), routed_.end(), key) != routed_.end();
}

std::vector<Command> WebsocketTunnel::subscriber_removal_commands(unsigned repeat) const {
  std::vector<Command> c;
  for (auto f : {Family::v4, Family::v6}) {
    c.push_back(netcmd::delete_rules_at(f, settings_.priority, repeat));
    c.push_back(netcmd::delete_rules_at(f, settings_.priority + 1, repeat));
    c.push_back(netcmd::flush_table(f, settings_.table));
  }
  return c;
}

std::string WebsocketTunnel::free_interface() const {
  for (unsigned n = 0; n < kMaxUplinks; ++n) {
    const std::string name = uplink_interface(settings_.subscriber_interface, n);
    bool used = false;
    for (const auto& [id, up] : uplinks_) used = used || up->device == name;
    if (!used) return name;
  }
  return "";
}

bool WebsocketTunnel::own_interface(const std::string& name) const {
  for (unsigned n = 0; n < kMaxUplinks; ++n)
    if (uplink_interface(settings_.subscriber_interface, n) == name) return true;
  return false;
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
          if (!routed || routes(it->first)) return complete("");
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
    target.path = p["path"].asString();
    target.headers = {{"X-Mnigs-Session", up->session.id},
                      {"Authorization", "Bearer " + p["token"].asString()}};
    client = std::make_shared<TunnelClient>(plane_->io(), std::move(device), options, target,
                                            context_.log());
  } catch (const std::exception& e) {
    return done(std::string("cannot create the tunnel device: ") + e.what());
  }
  const int mtu = p.get("mtu", settings_.mtu).asInt();
  std::vector<Command> steps;
  steps.push_back(cmd({"ip", "link", "set", "dev", dev, "mtu", std::to_string(mtu), "up"}));
  if (p["address4"].isString())
    steps.push_back(
        cmd({"ip", "-4", "addr", "replace",
             p["address4"].asString() + "/" + std::to_string(p.get("prefix4", 24).asInt()), "dev",
             dev, "noprefixroute"}));
  if (p["address6"].isString())
    steps.push_back(
        cmd({"ip", "-6", "addr", "replace",
             p["address6"].asString() + "/" + std::to_string(p.get("prefix6", 64).asInt()), "dev",
             dev, "nodad", "noprefixroute"}));
  run_steps(std::move(steps), [this, up, client, routed, done](std::string error) {
    if (!error.empty()) {
      // Closing the device takes its addresses with it.
      return close_device(client, [done, error] { done(error); });
    }
    up->client = client;
    uplinks_[key_of(up->session)] = up;
    plane_->post([client] { client->start(); });
    // Interface names may hold dots, which sysctl(8) reads as separators.
    std::string knob = up->device;
    std::replace(knob.begin(), knob.end(), '.', '/');
    Command loose = cmd({"sysctl", "-w", "net.ipv4.conf." + knob + ".rp_filter=2"});
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
  std::vector<Command> steps;
  // What table T held before, per family: put back if this fails.
  auto before = std::make_shared<std::array<std::string, 2>>(routed_);
  for (auto f : {Family::v4, Family::v6}) {
    if (!p[address_key(f)].isString()) continue;
    steps.push_back(netcmd::replace_default_dev(f, up->device, settings_.table));
    if (!routed_[netcmd::index_of(f)].empty()) continue;  // the rules are there
    // Rules left by an earlier run would stack up; take them away first.
    steps.push_back(netcmd::delete_rules_at(f, settings_.priority, 1));
    steps.push_back(netcmd::delete_rules_at(f, settings_.priority + 1, 1));
    steps.push_back(netcmd::add_suppress_rule(f, settings_.priority));
    steps.push_back(netcmd::add_table_rule(f, settings_.priority + 1, settings_.table));
  }
  auto fail = [this, up, before, done](const std::string& why) {
    queue_.run_all(restore_commands(*before, up->session.params), true,
                   [this, before, done, why](std::string) {
                     routed_ = *before;
                     done(why);
                   });
  };
  run_steps(std::move(steps), [this, up, fail, done](std::string error) {
    if (!error.empty()) return fail(error);
    for (auto f : {Family::v4, Family::v6})
      if (up->session.params[address_key(f)].isString())
        routed_[netcmd::index_of(f)] = key_of(up->session);
    // The gateway must stay reachable through the mesh, not through a
    // tunnel's default route: checked once the routes are in place.
    auto gw_family = family_of(up->session.gateway_address);
    if (!gw_family) return done("");
    netcmd::Address gw{*gw_family, up->session.gateway_address};
    Command get = netcmd::route_get(gw);
    queue_.run(get, [this, up, gw, get, fail, done](const CommandOutcome& o) {
      std::string why;
      if (!netcmd::succeeded(o)) return fail(netcmd::failure_sentence(get, o));
      auto hop = netcmd::parse_route_get(o.out, gw, settings_.table, &why);
      if (!hop) return fail(why);
      if (own_interface(hop->dev))
        return fail("the gateway " + gw.text +
                    " is reachable only through a tunnel: it needs a mesh route");
      context_.log().info("tunnel ", up->device, " to ", gw.text,
                          " set up; default route moved into it");
      done("");
    });
  });
}

std::vector<Command> WebsocketTunnel::restore_commands(const std::array<std::string, 2>& before,
                                                       const Json::Value& params) const {
  std::vector<Command> c;
  for (auto f : {Family::v4, Family::v6}) {
    if (!params[address_key(f)].isString()) continue;
    auto prev = uplinks_.find(before[netcmd::index_of(f)]);
    if (prev != uplinks_.end()) {
      c.push_back(netcmd::replace_default_dev(f, prev->second->device, settings_.table));
      continue;
    }
    c.push_back(netcmd::delete_rules_at(f, settings_.priority, 1));
    c.push_back(netcmd::delete_rules_at(f, settings_.priority + 1, 1));
    c.push_back(netcmd::flush_table(f, settings_.table));
  }
  for (auto& command : c) command.removal = true;
  return c;
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
        std::vector<Command> commands;
        for (auto f : {Family::v4, Family::v6}) {
          auto& owner = routed_[netcmd::index_of(f)];
          if (owner != key) continue;
          owner.clear();
          commands.push_back(netcmd::delete_rules_at(f, settings_.priority, 1));
          commands.push_back(netcmd::delete_rules_at(f, settings_.priority + 1, 1));
          commands.push_back(netcmd::flush_table(f, settings_.table));
        }
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
