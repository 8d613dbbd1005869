#include "tunnel.hpp"

#include <algorithm>
#include <stdexcept>
#include <utility>

namespace mnigs::websocket {

namespace {
// reset() deletes rules at each priority until none is left, at most this
// many; stop() cannot look at outcomes and issues this many blindly.
constexpr unsigned kResetRepeat = 16;
constexpr unsigned kStopRepeat = 4;
}  // namespace

WebsocketTunnel::WebsocketTunnel(PluginContext& context)
    : context_(context), queue_(context, kCommandTimeout) {}

WebsocketTunnel::~WebsocketTunnel() { stop_data_plane(); }

void WebsocketTunnel::start() {
  std::string why;
  auto settings = parse_settings(context_.config(), &why);
  if (!settings) throw std::runtime_error(why);
  settings_ = *settings;
  pool_.emplace(settings_.pool4, settings_.pool6, "websocket.pool4", "websocket.pool6");
  routes_.emplace(queue_, settings_.table, settings_.priority);
  plane_ = std::make_unique<DataPlane>(context_.log(), "websocket");
  context_.register_upgrade(settings_.path,
                            [this](HttpUpgrade request) { on_l3_upgrade(std::move(request)); });
  if (settings_.l2)
    context_.register_upgrade(settings_.l2_path,
                              [this](HttpUpgrade request) { on_l2_upgrade(std::move(request)); });
  register_join_methods();
  started_ = true;
  if (settings_.tls) start_tls();
  context_.log().info("L3 tunnel on ", settings_.path, " (pool ", settings_.pool4,
                      settings_.pool6.empty() ? "" : " " + settings_.pool6, "), offload ",
                      settings_.offload ? "on" : "off");
}

void WebsocketTunnel::stop_data_plane() {
  if (!plane_) return;
  // The links and devices belong to the data thread: stop them there, then
  // let the thread finish what that posted before it is joined.
  auto l3 = std::move(l3_);
  auto sw = std::move(switch_);
  auto front = std::move(tls_front_);
  tls_pin_.clear();
  std::vector<std::shared_ptr<TunnelClient>> clients;
  for (auto& [name, j] : joined_) clients.push_back(j.client);
  joined_.clear();
  for (auto& [id, up] : uplinks_)
    if (up->client) clients.push_back(std::move(up->client));
  plane_->post([l3, sw, clients, front] {
    if (front) front->stop();
    if (l3) l3->stop();
    if (sw) sw->stop();
    for (auto& c : clients) c->stop();
  });
  plane_.reset();
}

void WebsocketTunnel::stop() {
  if (!started_) return;
  started_ = false;
  std::vector<Command> commands;
  if (gateway_up_) commands = gateway_removal_commands(sysctls_on_);
  if (!uplinks_.empty())
    for (auto& c : routes_->removal(kStopRepeat)) commands.push_back(std::move(c));
  queue_.stop(commands);
  stop_data_plane();
  sessions_.clear();
  gateway_up_ = false;
  uplinks_.clear();
}

void WebsocketTunnel::config_changed() {
  // The switch's flooding options are the live keys.
  std::string why;
  auto settings = parse_settings(context_.config(), &why);
  if (!settings) {
    context_.log().error(why, "; keeping the previous settings");
    return;
  }
  settings_.l2_flood_broadcast = settings->l2_flood_broadcast;
  settings_.l2_flood_multicast = settings->l2_flood_multicast;
  if (auto sw = switch_)
    plane_->post([sw, b = settings_.l2_flood_broadcast, m = settings_.l2_flood_multicast] {
      sw->set_flooding(b, m);
    });
}

Json::Value WebsocketTunnel::status() const {
  Json::Value s(Json::objectValue);
  s["method"] = method();
  s["path"] = settings_.path;
  s["offload"] = settings_.offload;
  s["pendingOperations"] = Json::UInt64(queue_.pending());
  if (plane_ && plane_->errors() > 0) {
    // Degraded: listPlugins shows it. The data plane went on.
    s["dataPlaneErrors"] = Json::UInt64(plane_->errors());
    s["error"] = "a data plane handler failed: " + plane_->last_error();
  }

  Json::Value gw(Json::objectValue);
  gw["up"] = gateway_up_;
  gw["interface"] = settings_.gateway_interface;
  gw["upgradesRefused"] = Json::UInt64(upgrades_refused_);
  if (settings_.tls) {
    // The wss port: its key's pin, and what strangers made it refuse.
    Json::Value t(Json::objectValue);
    t["port"] = settings_.tls_port;
    t["listening"] = !tls_pin_.empty();
    t["key"] = tls_pin_;
    if (!tls_error_.empty()) {
      t["error"] = tls_error_;
      s["error"] = "wss does not listen: " + tls_error_;
    }
    if (tls_front_ && !tls_pin_.empty()) {
      const auto& c = tls_front_->counters();
      t["accepted"] = Json::UInt64(c.accepted);
      t["handshakesFailed"] = Json::UInt64(c.handshakes_failed);
      t["refusedBusy"] = Json::UInt64(c.busy);
      t["badRequests"] = Json::UInt64(c.bad_requests);
      t["timedOut"] = Json::UInt64(c.timed_out);
    }
    gw["tls"] = t;
  }
  Json::Value list(Json::arrayValue);
  std::vector<L3Gateway::SessionStatus> live;
  if (l3_) live = l3_->sessions();
  for (const auto& [id, g] : sessions_) {
    Json::Value e(Json::objectValue);
    e["id"] = id;
    e["subscriber"] = g.session.subscriber_address;
    e["address4"] = g.address4;
    e["address6"] = g.address6;
    e["connected"] = false;
    for (const auto& l : live)
      if (l.id == id) {
        e["connected"] = l.connected;
        e["rxBytes"] = Json::UInt64(l.rx_bytes);
        e["txBytes"] = Json::UInt64(l.tx_bytes);
        e["dropped"] = Json::UInt64(l.dropped);
        e["queuedBytes"] = Json::UInt64(l.queued);
        e["queuedPeak"] = Json::UInt64(l.queued_peak);
      }
    list.append(e);
  }
  gw["sessions"] = list;
  if (l3_) {
    const auto& c = l3_->counters();
    gw["droppedSpoofed"] = Json::UInt64(c.spoofed);
    gw["droppedNoRoute"] = Json::UInt64(c.no_route);
    gw["droppedMalformed"] = Json::UInt64(c.malformed);
    gw["droppedBadHeader"] = Json::UInt64(l3_->tun_counters().bad_header);
    gw["closedSlowReaders"] = Json::UInt64(c.closed_slow);
  }
  s["gateway"] = gw;

  Json::Value sub(Json::objectValue);
  Json::Value uplinks(Json::arrayValue);
  for (const auto& [key, up] : uplinks_) {
    Json::Value u(Json::objectValue);
    u["session"] = up->session.id;
    u["gateway"] = up->session.gateway_address;
    u["interface"] = up->device;
    u["routed"] = routes_ && routes_->holds(key);
    // wss to the pinned key, or plain ws (connect() refused anything else).
    const WssChoice wss = choose_wss(up->session.params, settings_.require_tls);
    u["tls"] = wss.port != 0;
    if (wss.port != 0) {
      u["key"] = wss.pin;
      u["keySource"] = up->session.params.get("gatewayKeySource", "nodeInfo").asString();
    }
    u["connected"] = false;
    if (up->client) {
      auto st = up->client->status();
      u["connected"] = st.connected;
      u["connects"] = Json::UInt64(st.connects);
      u["lastError"] = st.last_error;
      if (!st.tls.empty()) u["cipher"] = st.tls;
      u["rxBytes"] = Json::UInt64(up->client->link_counters().rx_bytes);
      u["txBytes"] = Json::UInt64(up->client->link_counters().tx_bytes);
      u["droppedNotConnected"] = Json::UInt64(up->client->counters().no_route);
    }
    uplinks.append(u);
  }
  sub["sessions"] = uplinks;
  s["subscriber"] = sub;

  Json::Value l2(Json::objectValue);
  l2["enabled"] = settings_.l2;
  l2["path"] = settings_.l2_path;
  l2["running"] = switch_ != nullptr;
  if (switch_) {
    auto st = switch_->status();
    Json::Value peers(Json::arrayValue);
    for (const auto& p : st.peers) {
      Json::Value e(Json::objectValue);
      e["id"] = Json::UInt64(p.id);
      e["remote"] = p.remote;
      e["mac"] = p.mac ? to_string(*p.mac) : "";
      e["bridge"] = p.bridge;
      e["learned"] = Json::UInt64(p.learned);
      e["frames"] = Json::UInt64(p.frames);
      e["dropped"] = Json::UInt64(p.dropped);
      e["session"] = p.session;
      e["queuedBytes"] = Json::UInt64(p.queued);
      e["queuedPeak"] = Json::UInt64(p.queued_peak);
      e["droppedQueueFull"] = Json::UInt64(p.dropped_queue_full);
      peers.append(e);
    }
    l2["peers"] = peers;
    l2["maxPeers"] = Json::UInt64(switch_->max_peers());
    l2["closedSlowReaders"] = Json::UInt64(st.closed_slow);
    Json::Value verdicts(Json::objectValue);
    for (std::size_t i = 0; i < verdict_count; ++i)
      verdicts[to_string(static_cast<Verdict>(i))] = Json::UInt64(st.verdicts[i]);
    l2["frames"] = verdicts;
  }
  s["switch"] = l2;

  Json::Value joined(Json::arrayValue);
  for (const auto& [name, j] : joined_) {
    Json::Value e(Json::objectValue);
    auto st = j.client->status();
    e["interface"] = name;
    e["url"] = j.url;
    e["bridge"] = j.bridge;
    e["connected"] = st.connected;
    e["connects"] = Json::UInt64(st.connects);
    e["lastError"] = st.last_error;
    joined.append(e);
  }
  s["joined"] = joined;
  return s;
}

void WebsocketTunnel::run_steps(std::vector<Command> commands,
                                std::function<void(std::string error)> then) {
  queue_.run_steps(std::move(commands), std::move(then));
}

void WebsocketTunnel::reset(Done done) {
  if (!started_) return done("cannot reset: the websocket plugin is not running");
  queue_.enqueue(
      [this, done](CommandQueue::Finished finished) {
        recorded_knobs(
            queue_, [this, done, finished](std::vector<std::string> recorded) {
              std::vector<std::string> knobs = sysctls_on_;
              for (const auto& name : recorded)
                if (std::find(knobs.begin(), knobs.end(), name) == knobs.end())
                  knobs.push_back(name);
              auto commands = gateway_removal_commands(knobs);
              for (auto& c : routes_->removal(kResetRepeat)) commands.push_back(std::move(c));
              // Sessions are resumed after a reset: drop the data plane's view.
              auto l3 = std::move(l3_);
              std::vector<std::shared_ptr<TunnelClient>> clients;
              for (auto& [id, up] : uplinks_)
                if (up->client) clients.push_back(std::move(up->client));
              plane_->post([l3, clients] {
                if (l3) l3->stop();
                for (auto& c : clients) c->stop();
              });
              sessions_.clear();
              pool_.emplace(settings_.pool4, settings_.pool6, "websocket.pool4", "websocket.pool6");
              gateway_up_ = false;
              uplinks_.clear();
              queue_.run_all(std::move(commands), true, [this, done, finished](std::string error) {
                sysctls_on_.clear();
                forget_knobs(context_.store());
                if (!error.empty()) context_.log().warn("reset incomplete: ", error);
                done(error.empty() ? "" : "reset of the websocket plugin incomplete: " + error);
                finished();
                // The switch (and its port, whose NAT lives in the table a
                // reset removes) starts after the daemon's first reset.
                if (settings_.l2 && !switch_) {
                  try {
                    start_switch();
                  } catch (const std::exception& e) {
                    context_.log().error("the layer-2 switch does not run: ", e.what());
                  }
                }
              });
            });
      },
      [done](const std::string& reason) { done(reason); });
}

}  // namespace mnigs::websocket
