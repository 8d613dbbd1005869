// The subscriber side of the websocket plugin: the tun device with the
// session's addresses, the default route moved into it, and the link to the
// gateway kept up by TunnelClient.
//
// Routing, per family the session has an address of, with
// subscriber.routing "default":
//   priority P    from all lookup main suppress_prefixlength 0
//   priority P+1  from all lookup T
//   table T       default dev SUBSCRIBER_INTERFACE
// so the mesh (every route of main more specific than /0), and with it the
// WebSocket's own connection to the gateway, stays outside the tunnel.
#include <boost/asio/ip/address.hpp>

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

}  // namespace

std::vector<Command> WebsocketTunnel::subscriber_removal_commands(unsigned repeat) const {
  std::vector<Command> c;
  for (auto f : {Family::v4, Family::v6}) {
    c.push_back(netcmd::delete_rules_at(f, settings_.priority, repeat));
    c.push_back(netcmd::delete_rules_at(f, settings_.priority + 1, repeat));
    c.push_back(netcmd::flush_table(f, settings_.table));
  }
  return c;
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
  if (uplink_ && uplink_->session.id != session.id)
    return done("already connected through the websocket tunnel (session " + uplink_->session.id +
                "); disconnect first");
  auto up = std::make_shared<Uplink>();
  up->session = session;
  up->routed = p.get("routing", "default").asString() != "none";
  queue_.enqueue(
      [this, up, p, done](CommandQueue::Finished finished) {
        connect_steps(up, p, [done, finished](std::string error) {
          done(std::move(error));
          finished();
        });
      },
      [done](const std::string& reason) { done(reason); });
}

void WebsocketTunnel::connect_steps(std::shared_ptr<Uplink> up, Json::Value p, Done done) {
  const std::string dev = settings_.subscriber_interface;
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
             dev}));
  if (p["address6"].isString())
    steps.push_back(
        cmd({"ip", "-6", "addr", "replace",
             p["address6"].asString() + "/" + std::to_string(p.get("prefix6", 64).asInt()), "dev",
             dev, "nodad"}));
  if (up->routed) {
    for (auto f : {Family::v4, Family::v6}) {
      if (!p[f == Family::v4 ? "address4" : "address6"].isString()) continue;
      up->family[netcmd::index_of(f)] = true;
      steps.push_back(netcmd::replace_default_dev(f, dev, settings_.table));
      // Rules left by an earlier run would stack up; take them away first.
      steps.push_back(netcmd::delete_rules_at(f, settings_.priority, 1));
      steps.push_back(netcmd::delete_rules_at(f, settings_.priority + 1, 1));
      steps.push_back(netcmd::add_suppress_rule(f, settings_.priority));
      steps.push_back(netcmd::add_table_rule(f, settings_.priority + 1, settings_.table));
    }
  }
  // The gateway must stay reachable through the mesh, not through the
  // tunnel's own default route: checked once the routes are in place.
  auto gw_family = family_of(up->session.gateway_address);
  run_steps(std::move(steps), [this, up, client, gw_family, done](std::string error) {
    auto undo_and_fail = [this, client, done](const std::string& why) {
      plane_->post([client] { client->stop(); });
      queue_.run_all(subscriber_removal_commands(1), true, [done, why](std::string) { done(why); });
    };
    if (!error.empty()) return undo_and_fail(error);
    if (!up->routed || !gw_family) {
      client_ = client;
      uplink_ = up;
      plane_->post([client] { client->start(); });
      return done("");
    }
    netcmd::Address gw{*gw_family, up->session.gateway_address};
    Command get = netcmd::route_get(gw);
    queue_.run(get, [this, up, client, gw, get, undo_and_fail, done](const CommandOutcome& o) {
      std::string why;
      if (!netcmd::succeeded(o)) return undo_and_fail(netcmd::failure_sentence(get, o));
      auto hop = netcmd::parse_route_get(o.out, gw, settings_.table, &why);
      if (!hop) return undo_and_fail(why);
      if (hop->dev == settings_.subscriber_interface)
        return undo_and_fail("the gateway " + gw.text +
                             " is reachable only through the tunnel itself: it needs a mesh route");
      client_ = client;
      uplink_ = up;
      plane_->post([client] { client->start(); });
      context_.log().info("tunnel ", settings_.subscriber_interface, " to ", gw.text,
                          " set up; default route moved into it");
      done("");
    });
  });
}

void WebsocketTunnel::disconnect(const TunnelSession& session, Done done) {
  if (!uplink_ || uplink_->session.id != session.id) return done("");
  auto client = std::move(client_);
  uplink_.reset();
  if (client) plane_->post([client] { client->stop(); });
  queue_.enqueue(
      [this, done](CommandQueue::Finished finished) {
        queue_.run_all(subscriber_removal_commands(1), true, [done, finished](std::string error) {
          done(error);
          finished();
        });
      },
      [done](const std::string& reason) { done(reason); });
}

TunnelTraffic WebsocketTunnel::traffic(const TunnelSession& session) const {
  TunnelTraffic t;
  if (!uplink_ || uplink_->session.id != session.id || !client_) return t;
  // Binary messages are the packets; pings and pongs are not counted there.
  const LinkCounters& c = client_->link_counters();
  t.device = settings_.subscriber_interface;
  t.counted = true;
  t.bytes_out = c.tx_bytes;
  t.bytes_in = c.rx_bytes;
  t.packets_out = c.tx_messages;
  t.packets_in = c.rx_messages;
  return t;
}

}  // namespace mnigs::websocket
