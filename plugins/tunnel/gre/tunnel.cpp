#include "tunnel.hpp"

#include <boost/asio/post.hpp>

#include <algorithm>
#include <mnigs/log.hpp>
#include <stdexcept>
#include <utility>

#include "kernel.hpp"

namespace mnigs::gre {

namespace {
constexpr std::chrono::milliseconds kCommandTimeout{10000};
// reset() deletes rules at each priority until none is left, at most this
// many; stop() cannot look at outcomes and issues this many blindly.
constexpr unsigned kResetRepeat = 16;
constexpr unsigned kStopRepeat = 4;
}  // namespace

GreTunnel::GreTunnel(PluginContext& context, Encap encap)
    : context_(context), encap_(encap), queue_(context, kCommandTimeout) {}

GreTunnel::~GreTunnel() { stop_data_plane(); }

void GreTunnel::start() {
  std::string why;
  auto settings = parse_settings(context_.config(), encap_, &why);
  if (!settings) throw std::runtime_error(why);
  settings_ = *settings;
  mode_ = settings_.mode;
  const std::string prefix = std::string(section(encap_)) + ".";
  pool_.emplace(settings_.pool4, settings_.pool6, prefix + "pool4", prefix + "pool6");
  routes_.emplace(queue_, settings_.table, settings_.priority);
  started_ = true;
  context_.log().info(section(encap_), " tunnel, mode ", to_string(mode_), " (pool ",
                      settings_.pool4, settings_.pool6.empty() ? "" : " " + settings_.pool6, ")");
}

std::string GreTunnel::ensure_encapsulator() {
  if (encap_plane_) return "";
  if (!plane_) plane_ = std::make_unique<tunnels::DataThread>(context_.log(), section(encap_));
  auto e = std::make_shared<Encapsulator>(plane_->io(), encap_, context_.log());
  // The sockets open on the strand (a failure is the caller's to report);
  // from then on the data thread alone uses them.
  try {
    e->start();
  } catch (const std::exception& ex) {
    return ex.what();
  }
  encap_plane_ = e;
  return "";
}

void GreTunnel::stop_data_plane() {
  if (!plane_) return;
  if (auto e = std::move(encap_plane_)) plane_->post([e] { e->stop(); });
  plane_.reset();
}

void GreTunnel::stop() {
  if (!started_) return;
  started_ = false;
  std::vector<Command> commands;
  if (gateway_touched_) commands = gateway_removal_commands(sysctls_on_);
  for (const auto& [id, g] : sessions_)
    if (!g.device.empty()) commands.push_back(delete_device(g.device));
  for (const auto& [key, up] : uplinks_)
    if (mode_ == Mode::kernel) commands.push_back(delete_device(up->device));
  if (!uplinks_.empty())
    for (auto& c : routes_->removal(kStopRepeat)) commands.push_back(std::move(c));
  queue_.stop(commands);
  stop_data_plane();
  sessions_.clear();
  uplinks_.clear();
  gateway_up_ = gateway_touched_ = false;
}

void GreTunnel::resolve_mode(std::function<void(std::string)> done) {
  if (mode_ != Mode::auto_) return done("");
  // The kernel makes both devices (loading their modules) or mode
  // userspace serves both families: OpenWrt packs gre and gre6 (sit and
  // ip6tnl) as separate modules.
  probe(0, std::move(done));
}

void GreTunnel::probe(int family, std::function<void(std::string)> done) {
  if (family == 2) {
    mode_ = Mode::kernel;
    context_.log().info(section(encap_), ": the kernel has ", kernel_type(encap_, false), " and ",
                        kernel_type(encap_, true), " devices; mode kernel");
    return done("");
  }
  const bool v6 = family == 1;
  Command c = probe_command(encap_, settings_.gateway_interface, v6);
  queue_.run(c, [this, c, v6, family, done](const CommandOutcome& o) {
    if (netcmd::did_not_start(o)) return done(netcmd::failure_sentence(c, o));
    if (netcmd::succeeded(o)) {
      queue_.run(delete_device(probe_name(settings_.gateway_interface)),
                 [this, family, done](const CommandOutcome&) { probe(family + 1, done); });
      return;
    }
    mode_ = Mode::userspace;
    context_.log().info(section(encap_), ": the kernel makes no ", kernel_type(encap_, v6),
                        " device (", o.err.empty() ? "no reason given" : o.err,
                        "); mode userspace");
    done("");
  });
}

Json::Value GreTunnel::status() const {
  Json::Value s(Json::objectValue);
  s["method"] = method();
  s["mode"] = to_string(mode_);
  s["configuredMode"] = to_string(settings_.mode);
  s["pendingOperations"] = Json::UInt64(queue_.pending());
  if (plane_ && plane_->errors() > 0) {
    s["dataPlaneErrors"] = Json::UInt64(plane_->errors());
    s["error"] = "a data plane handler failed: " + plane_->last_error();
  }
  if (encap_plane_) {
    s["sockets"] = encap_plane_->sockets();
    Json::Value dropped(Json::objectValue);
    for (std::size_t i = 1; i < kDropKinds; ++i)
      dropped[to_string(static_cast<Drop>(i))] =
          Json::UInt64(encap_plane_->drops(static_cast<Drop>(i)));
    s["dropped"] = dropped;
  }
  auto counters = [](Json::Value& e, const std::shared_ptr<Traffic>& t) {
    if (!t) return;
    e["txPackets"] = Json::UInt64(t->tx_packets);
    e["txBytes"] = Json::UInt64(t->tx_bytes);
    e["rxPackets"] = Json::UInt64(t->rx_packets);
    e["rxBytes"] = Json::UInt64(t->rx_bytes);
  };

  Json::Value gw(Json::objectValue);
  gw["up"] = gateway_up_;
  gw["interface"] = settings_.gateway_interface;
  Json::Value list(Json::arrayValue);
  for (const auto& [id, g] : sessions_) {
    Json::Value e(Json::objectValue);
    e["id"] = id;
    e["subscriber"] = g.session.subscriber_address;
    if (encap_ == Encap::gre) e["key"] = Json::UInt64(g.endpoint.key);
    e["address4"] = g.address4;
    e["address6"] = g.address6;
    e["mtu"] = g.mtu;
    if (!g.device.empty()) e["interface"] = g.device;
    if (g.device.empty()) counters(e, g.endpoint.traffic);
    list.append(e);
  }
  gw["sessions"] = list;
  s["gateway"] = gw;

  Json::Value sub(Json::objectValue);
  Json::Value uplinks(Json::arrayValue);
  for (const auto& [key, up] : uplinks_) {
    Json::Value u(Json::objectValue);
    u["session"] = up->session.id;
    u["gateway"] = up->session.gateway_address;
    u["interface"] = up->device;
    u["routed"] = routes_ && routes_->holds(key);
    counters(u, up->traffic);
    uplinks.append(u);
  }
  sub["sessions"] = uplinks;
  s["subscriber"] = sub;
  return s;
}

void GreTunnel::reset(Done done) {
  if (!started_) return done(std::string("cannot reset: the ") + section(encap_) +
                             " plugin is not running");
  queue_.enqueue(
      [this, done](CommandQueue::Finished finished) {
        netcmd::recorded_knobs(
            queue_, [this, done, finished](std::vector<std::string> recorded) {
              std::vector<std::string> knobs = sysctls_on_;
              for (const auto& name : recorded)
                if (std::find(knobs.begin(), knobs.end(), name) == knobs.end())
                  knobs.push_back(name);
              auto commands = gateway_removal_commands(knobs);
              for (auto& c : routes_->removal(kResetRepeat)) commands.push_back(std::move(c));
              // Sessions are resumed after a reset: the data plane forgets
              // them and closes their devices.
              if (auto e = encap_plane_) {
                std::vector<std::string> names;
                for (const auto& [id, g] : sessions_) names.push_back(g.endpoint.name);
                for (const auto& [key, up] : uplinks_) names.push_back(key);
                plane_->post([e, names] {
                  for (const auto& n : names) e->remove(n);
                  e->close_gateway_device();
                });
              }
              sessions_.clear();
              uplinks_.clear();
              const std::string prefix = std::string(section(encap_)) + ".";
              pool_.emplace(settings_.pool4, settings_.pool6, prefix + "pool4", prefix + "pool6");
              gateway_up_ = gateway_touched_ = false;
              // Kernel devices of an earlier run, whatever their number.
              list_own_devices(queue_, settings_, [this, commands, done, finished](
                                                      std::vector<std::string> devices) mutable {
                for (const auto& d : devices) commands.push_back(delete_device(d));
                queue_.run_all(std::move(commands), true, [this, done, finished](std::string e) {
                  sysctls_on_.clear();
                  netcmd::forget_knobs(context_.store());
                  if (!e.empty()) context_.log().warn("reset incomplete: ", e);
                  done(e.empty() ? "" : std::string("reset of the ") + section(encap_) +
                                            " plugin incomplete: " + e);
                  finished();
                });
              });
            });
      },
      [done](const std::string& reason) { done(reason); });
}

}  // namespace mnigs::gre
