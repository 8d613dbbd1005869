#include "discovery.hpp"

#include <algorithm>
#include <stdexcept>

namespace mnigs::babel {

void BabelDiscovery::declare(ConfigDeclarer& d) {
  d.declare(typed_key("address", ValueType::address, Json::Value("::1"),
                      "Address of babeld's local interface (babeld listens on ::1); used when "
                      "socket is empty",
                      true));
  d.declare(typed_key("port", ValueType::port, Json::Value(33123),
                      "TCP port of babeld's local interface (babeld -g/-G or local-port; "
                      "OpenWrt uses 33123)",
                      true));
  d.declare(file_only(string_key(
      "socket", "",
      "Unix socket of babeld's local interface (babeld local-path); when set, used instead of "
      "address and port",
      true)));
  d.declare(int_key("timeout", 5000, 100, 60000,
                    "Milliseconds babeld has to accept the connection, greet and finish its "
                    "dump, and to answer a keepalive",
                    true));
}

BabelDiscovery::BabelDiscovery(PluginContext& context)
    : ctx_(context), publish_timer_(context.executor()), wait_timer_(context.executor()) {}

BabelDiscovery::~BabelDiscovery() {
  *alive_ = false;
  if (monitor_) monitor_->stop();
}

void BabelDiscovery::start() {
  std::string why;
  auto settings = read_settings(ctx_.config(), &why);
  if (!settings) throw std::runtime_error(why);
  Monitor::Listener& listener = *this;
  monitor_ = std::make_shared<Monitor>(ctx_, *settings, listener);
  monitor_->start();
}

void BabelDiscovery::stop() {
  if (monitor_) monitor_->stop();
  publish_timer_.cancel();
  wait_timer_.cancel();
  answer_waiting();
  *alive_ = false;
}

void BabelDiscovery::config_changed() {
  if (!monitor_) return;
  std::string why;
  auto settings = read_settings(ctx_.config(), &why);
  if (!settings) {
    ctx_.log().error(why, "; keeping ", monitor_->settings().describe());
    return;
  }
  monitor_->reconfigure(*settings);
}

Json::Value BabelDiscovery::status() const {
  Json::Value s(Json::objectValue);
  if (!monitor_) {
    s["connected"] = false;
    s["state"] = "stopped";
    return s;
  }
  const auto& g = monitor_->greeting();
  const auto& table = monitor_->table();
  s["connected"] = monitor_->live();
  s["state"] = Monitor::phase_name(monitor_->phase());
  s["endpoint"] = monitor_->settings().describe();
  s["version"] = g.version;
  s["host"] = g.host;
  s["myId"] = g.my_id;
  s["nodes"] = static_cast<Json::UInt64>(view_.probeable());
  s["gateways"] = static_cast<Json::UInt64>(view_.gateways());
  s["routes"] = static_cast<Json::UInt64>(table.routes());
  s["neighbours"] = static_cast<Json::UInt64>(table.neighbours());
  s["links"] = static_cast<Json::UInt64>(view_.links.size());
  s["lastError"] = monitor_->last_error();
  // Not live after a failure (babeld gone, refused, broken dump): say why.
  // The first connection after start is not a failure yet.
  s["error"] = monitor_->live() || monitor_->last_error().empty() ? "" : monitor_->error();
  s["malformedLines"] = static_cast<Json::UInt64>(monitor_->malformed_lines());
  s["connections"] = static_cast<Json::UInt64>(monitor_->connections());
  return s;
}

void BabelDiscovery::discover(std::function<void(Discovery)> done) {
  if (!monitor_ || !monitor_->syncing()) return done(answer());
  // A connection attempt is under way (at start, or babeld just came back):
  // its dump is worth a short wait, rather than an empty or stale answer.
  waiting_.push_back(std::move(done));
  if (waiting_.size() > 1) return;
  wait_timer_.expires_after(std::min(kDiscoverWait, monitor_->settings().timeout));
  wait_timer_.async_wait(
      [this, alive = alive_, round = wait_round_](const boost::system::error_code& ec) {
        if (ec || !*alive || round != wait_round_) return;
        answer_waiting();
      });
}

Discovery BabelDiscovery::answer() const {
  Discovery d;
  d.candidates = view_.candidates();
  d.links = view_.links;
  if (!monitor_)
    d.error = "the babel plugin is not running";
  else
    d.error = monitor_->error();
  return d;
}

void BabelDiscovery::answer_waiting() {
  wait_timer_.cancel();
  ++wait_round_;
  auto waiting = std::move(waiting_);
  waiting_.clear();
  for (auto& done : waiting) done(answer());
}

void BabelDiscovery::synced() {
  refresh();
  answer_waiting();
}

void BabelDiscovery::updated() { refresh(); }

void BabelDiscovery::lost() {
  // The table stays as babeld last described it; answers now carry the error.
  answer_waiting();
}

void BabelDiscovery::refresh() {
  View fresh = monitor_->table().view(monitor_->greeting().my_id);
  bool same = fresh.same_members(view_);
  view_ = std::move(fresh);
  if (same) return;
  for (const auto& id : view_.unreachable_gateways())
    ctx_.log().debug("gateway ", id, " announces no /32 or /128 address; it cannot be probed");
  members_changed();
}

void BabelDiscovery::members_changed() {
  if (view_.same_members(announced_) || publish_pending_) return;
  auto now = ctx_.now();
  if (!last_publish_ || now - *last_publish_ >= kPublishInterval) return publish();
  // Babeld reports routes one line at a time; one event per interval lets a
  // scanner look once the burst has settled rather than at every line.
  publish_pending_ = true;
  publish_timer_.expires_after(kPublishInterval - (now - *last_publish_));
  publish_timer_.async_wait([this, alive = alive_](const boost::system::error_code& ec) {
    if (ec || !*alive) return;
    publish_pending_ = false;
    if (!view_.same_members(announced_)) publish();
  });
}

void BabelDiscovery::publish() {
  announced_ = view_;
  last_publish_ = ctx_.now();
  ctx_.log().debug("nodes changed: ", view_.probeable(), " node(s) with an address, ",
                   view_.gateways(), " gateway(s)");
  Json::Value data(Json::objectValue);
  data["network"] = "babel";
  ctx_.events().publish("discovery.changed", std::move(data));
}

}  // namespace mnigs::babel
