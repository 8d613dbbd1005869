#include "discovery.hpp"

#include <stdexcept>

#include "interface_name.hpp"

namespace mnigs::batman {

namespace {
constexpr std::size_t max_notes_logged = 5;  // per refresh; a broken table would flood the log
}

void BatmanDiscovery::declare(ConfigDeclarer& d) {
  d.declare(string_key("interface", "bat0", "The batman-adv mesh interface", true));
  d.declare(string_key("addressInterface", "",
                       "Interface carrying the mesh's IP addresses when it is not the mesh "
                       "interface (a bridge with bat0 in it); empty: the mesh interface",
                       true));
  d.declare(int_key("timeout", 2000, 100, 30000,
                    "Milliseconds the kernel has to answer one look at batman-adv's tables", true));
  d.declare(bool_key("translationTable", true,
                     "Map the MACs in the neighbour table to originators through batman-adv's "
                     "global translation table",
                     true));
  d.declare(int_key("linkLocalGuesses", 4, 0, 64,
                    "Also probe the EUI-64 link-local addresses of the MACs a node announces "
                    "when it announces at most this many; 0: only its originator MAC's",
                    true));
  d.declare(int_key("maxLastSeen", 60, 0, 86400,
                    "Seconds since an originator was last heard after which it is left out; "
                    "0: report all that batman-adv still lists",
                    true));
}

BatmanDiscovery::BatmanDiscovery(PluginContext& ctx)
    : ctx_(ctx), check_timer_(ctx.executor()) {}

BatmanDiscovery::~BatmanDiscovery() {
  if (running_) running_->cancel();
}

std::optional<BatmanDiscovery::Settings> BatmanDiscovery::read_settings(std::string* why) const {
  const Json::Value c = ctx_.config();
  auto name_ok = [&](const std::string& key, const std::string& value, bool may_be_empty) {
    if (value.empty() ? !may_be_empty : !valid_interface_name(value)) {
      *why = "batman." + key + " must be an interface name of 1..15 characters without '/', ':', " +
             "'%' or spaces (got \"" + value + "\")";
      return false;
    }
    return true;
  };
  Settings s;
  s.refresh.mesh_interface = c["interface"].asString();
  s.refresh.address_interface = c["addressInterface"].asString();
  if (!name_ok("interface", s.refresh.mesh_interface, false) ||
      !name_ok("addressInterface", s.refresh.address_interface, true))
    return std::nullopt;
  s.refresh.timeout = std::chrono::milliseconds(c["timeout"].asInt64());
  s.refresh.clients = c["translationTable"].asBool();
  s.view.use_clients = s.refresh.clients;
  s.view.link_local_guesses = static_cast<std::size_t>(c["linkLocalGuesses"].asInt64());
  s.view.max_last_seen_ms = static_cast<std::uint32_t>(c["maxLastSeen"].asInt64() * 1000);
  return s;
}

void BatmanDiscovery::start() {
  std::string why;
  auto s = read_settings(&why);
  if (!s) throw std::runtime_error(why);
  settings_ = *s;
  ctx_.register_method("listOriginators", Access::admin,
                       [this](const Json::Value&, const CallInfo&, Responder r) {
                         r.result(originators());
                       });
  ctx_.log().info("reading batman-adv's tables of ", settings_.refresh.mesh_interface,
                  " over generic netlink");
  // Find out at once whether batman-adv is there, so status() says so
  // before the first scan.
  run_refresh(true);
}

void BatmanDiscovery::stop() {
  stopped_ = true;
  if (running_) running_->cancel();
  running_.reset();
  check_timer_.cancel();
  auto waiters = std::move(waiters_);
  waiters_.clear();
  for (auto& w : waiters) {
    Discovery d;
    d.error = "the batman plugin is stopping";
    w(std::move(d));
  }
}

void BatmanDiscovery::config_changed() {
  std::string why;
  auto s = read_settings(&why);
  if (!s) {
    ctx_.log().error(why, "; keeping the previous settings");
    return;
  }
  if (s->refresh.mesh_interface != settings_.refresh.mesh_interface ||
      s->refresh.address_interface != settings_.refresh.address_interface) {
    view_.reset();  // it described the other interface
    ctx_.log().info("now reading the tables of ", s->refresh.mesh_interface);
  }
  settings_ = *s;
}

void BatmanDiscovery::discover(std::function<void(Discovery)> done) {
  if (stopped_) {
    Discovery d;
    d.error = "the batman plugin is stopped";
    return done(std::move(d));
  }
  waiters_.push_back(std::move(done));
  if (running_ && !running_family_only_) return;  // answered when the running look ends
  if (running_) running_->cancel();
  run_refresh(false);
}

void BatmanDiscovery::run_refresh(bool family_only) {
  RefreshOptions options = settings_.refresh;
  options.family_only = family_only;
  std::weak_ptr<char> alive = alive_;
  running_family_only_ = family_only;
  running_ = Refresh::start(ctx_.executor(), options,
                            [this, alive, family_only](RefreshResult result) {
                              if (alive.expired() || stopped_) return;
                              on_refresh(std::move(result), family_only);
                            });
}

void BatmanDiscovery::on_refresh(RefreshResult r, bool family_only) {
  running_.reset();
  log_notes(r.notes);
  note_kernel(r.kernel);
  if (r.kernel == RefreshResult::Kernel::missing) {
    view_.reset();
    set_error(not_available);
  } else if (!r.error.empty()) {
    set_error(r.error);
  } else if (!family_only) {
    ViewOptions options = settings_.view;
    options.zone = r.zone;
    options.zone_ifindex = r.zone_ifindex;
    view_ = build_view(r.snapshot, options);
    last_update_ = ctx_.wall_now();
    set_error("");
  } else if (last_error_ == not_available) {
    set_error("");  // batman-adv appeared; the next discover() reads its tables
  }
  auto waiters = std::move(waiters_);
  waiters_.clear();
  for (auto& w : waiters) w(current());
  if (kernel_ != Kernel::present) schedule_check();
}

// Logs when batman-adv appears or goes away, and tells a waiting scanner.
void BatmanDiscovery::note_kernel(RefreshResult::Kernel kernel) {
  using K = RefreshResult::Kernel;
  if (kernel == K::unknown) return;  // could not tell (no socket, timeout)
  Kernel now = kernel == K::present ? Kernel::present : Kernel::missing;
  if (now == kernel_) return;
  const Kernel before = kernel_;
  kernel_ = now;
  if (now == Kernel::missing) {
    ctx_.log().warn(not_available, "; looking again every ", recheck_period.count(), " s");
    return;
  }
  ctx_.log().info("batman-adv is available");
  if (before == Kernel::missing) {
    Json::Value e(Json::objectValue);
    e["network"] = network();
    ctx_.events().publish("discovery.changed", e);
  }
}

void BatmanDiscovery::set_error(const std::string& error) {
  if (error == last_error_) return;
  if (!error.empty() && error != not_available) ctx_.log().warn(error);
  else if (error.empty() && !last_error_.empty() && last_error_ != not_available)
    ctx_.log().info("reading batman-adv's tables works again");
  last_error_ = error;
}

void BatmanDiscovery::log_notes(const std::vector<std::string>& notes) {
  for (std::size_t i = 0; i < notes.size() && i < max_notes_logged; ++i)
    ctx_.log().warn(notes[i]);
  if (notes.size() > max_notes_logged)
    ctx_.log().warn("and ", notes.size() - max_notes_logged, " more such problem(s)");
}

void BatmanDiscovery::schedule_check() {
  if (check_pending_ || stopped_) return;
  check_pending_ = true;
  check_timer_.expires_after(recheck_period);
  std::weak_ptr<char> alive = alive_;
  check_timer_.async_wait([this, alive](boost::system::error_code ec) {
    if (alive.expired()) return;
    check_pending_ = false;
    if (ec || stopped_ || kernel_ == Kernel::present) return;
    if (!running_) run_refresh(true);
    else schedule_check();
  });
}

// What discover() answers: the last view (possibly from before an error),
// with the current error. Nothing while batman-adv is missing.
Discovery BatmanDiscovery::current() const {
  Discovery d;
  if (view_ && kernel_ != Kernel::missing) d = view_->discovery;
  d.error = last_error_;
  return d;
}

Json::Value BatmanDiscovery::status() const {
  Json::Value s(Json::objectValue);
  s["available"] = kernel_ == Kernel::present;
  s["state"] = kernel_ == Kernel::present   ? "available"
               : kernel_ == Kernel::missing ? "not available"
                                            : "checking";
  s["interface"] = settings_.refresh.mesh_interface;
  s["addressInterface"] = settings_.refresh.address_interface.empty()
                              ? settings_.refresh.mesh_interface
                              : settings_.refresh.address_interface;
  Json::Value gateways(Json::arrayValue);
  std::size_t originators = 0, direct = 0;
  if (view_) {
    originators = view_->nodes.size();
    for (const auto& n : view_->nodes) {
      direct += n.direct;
      if (!n.gateway) continue;
      Json::Value g(Json::objectValue);
      g["originator"] = format_mac(n.gateway->orig);
      g["router"] = format_mac(n.gateway->router);
      g["bandwidth"] = format_bandwidth(n.gateway->down, n.gateway->up);
      g["downKbps"] = Json::UInt64(n.gateway->down) * 100;
      g["upKbps"] = Json::UInt64(n.gateway->up) * 100;
      g["selected"] = n.gateway->best;
      gateways.append(g);
    }
    s["metric"] = view_->metric;
  }
  s["originators"] = Json::UInt64(originators);
  s["directNeighbours"] = Json::UInt64(direct);
  s["gateways"] = gateways;
  s["lastUpdate"] = Json::Int64(view_ ? std::chrono::duration_cast<std::chrono::seconds>(
                                            last_update_.time_since_epoch())
                                            .count()
                                      : 0);
  s["lastError"] = last_error_;
  s["error"] = last_error_;
  return s;
}

Json::Value BatmanDiscovery::originators() const {
  Json::Value r(Json::objectValue);
  r["interface"] = settings_.refresh.mesh_interface;
  Json::Value list(Json::arrayValue);
  if (view_)
    for (const auto& n : view_->nodes) {
      Json::Value o(Json::objectValue);
      o["originator"] = format_mac(n.orig);
      o["nexthop"] = format_mac(n.nexthop);
      o["direct"] = n.direct;
      if (n.tq) o["tq"] = *n.tq;
      if (n.throughput_kbps) o["throughputKbps"] = *n.throughput_kbps;
      o["lastSeenMs"] = n.last_seen_ms;
      o["distance"] = n.distance;
      o["gateway"] = n.gateway.has_value();
      Json::Value clients(Json::arrayValue), addresses(Json::arrayValue);
      for (const auto& c : n.clients) clients.append(format_mac(c));
      for (const auto& a : n.addresses) addresses.append(a);
      o["clients"] = clients;
      o["addresses"] = addresses;
      list.append(o);
    }
  r["originators"] = list;
  r["lastError"] = last_error_;
  return r;
}

}  // namespace mnigs::batman
