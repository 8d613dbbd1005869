#include "tunnel.hpp"

#include <unistd.h>

#include <mnigs/log.hpp>
#include <cstdlib>
#include <stdexcept>
#include <utility>

#include "process.hpp"
#include "sysctl_knob.hpp"

namespace mnigs::openvpn {

namespace {
constexpr std::chrono::milliseconds kCommandTimeout{10000};
// openvpn --daemon returns once it has read its config and forked.
constexpr std::chrono::milliseconds kLaunchTimeout{10000};
// openvpn exits within a second of SIGTERM (explicit-exit-notify 1 waits
// one); after this it is killed.
constexpr std::chrono::milliseconds kExitGrace{3000};
constexpr unsigned kResetRepeat = 16;
constexpr unsigned kStopRepeat = 4;
// Whether `program` is an executable file in one of PATH's directories.
bool in_path(const std::string& program) {
  const char* path = std::getenv("PATH");
  std::string dirs = path ? path : "/usr/sbin:/usr/bin:/sbin:/bin";
  std::size_t from = 0;
  while (from <= dirs.size()) {
    std::size_t to = dirs.find(':', from);
    if (to == std::string::npos) to = dirs.size();
    const std::string dir = dirs.substr(from, to - from);
    if (!dir.empty() && ::access((dir + "/" + program).c_str(), X_OK) == 0) return true;
    from = to + 1;
  }
  return false;
}

}  // namespace

OpenvpnTunnel::OpenvpnTunnel(PluginContext& context)
    : context_(context), queue_(context, kCommandTimeout) {}

OpenvpnTunnel::~OpenvpnTunnel() {
  for (auto& [p, server] : servers_)
    if (server.management) server.management->close();
  for (auto& [key, up] : uplinks_)
    if (up->management) up->management->close();
}

void OpenvpnTunnel::start() {
  std::string why;
  auto settings = parse_settings(context_.config(), &why);
  if (!settings) throw std::runtime_error(why);
  settings_ = *settings;
  // Without the program neither side can serve: the plugin does not run,
  // so its suites are not offered.
  if (!in_path("openvpn"))
    throw std::runtime_error(
        "openvpn is not installed (no openvpn in PATH): install Debian's openvpn package, or "
        "add openvpn to plugins.disabled");
  pool_.emplace(settings_.pool4, settings_.pool6, "openvpn.pool4", "openvpn.pool6");
  routes_.emplace(queue_, settings_.table, settings_.priority);
  started_ = true;
  // The gateway's key first: nodeInfo and the DHT offer publish it from
  // the start, before any session.
  with_identity(true, [this](std::string error) {
    if (!error.empty()) context_.log().error("openvpn gateway key: ", error);
  });
  context_.log().info("openvpn tunnel (pool ", settings_.pool4,
                      settings_.pool6.empty() ? "" : " " + settings_.pool6, ", runDir ",
                      settings_.run_dir, ")");
}

void OpenvpnTunnel::with_identity(bool gateway, std::function<void(std::string)> then) {
  if (gateway ? gateway_identity_.has_value() : subscriber_identity_.has_value()) return then("");
  IdentityLoad& load = gateway ? gateway_load_ : subscriber_load_;
  load.waiters.push_back(std::move(then));
  if (load.loading) return;
  load.loading = true;
  load_identity(gateway ? "gateway.identity" : "subscriber.identity", gateway,
                [this, gateway](std::string error, std::optional<x509::LoadedIdentity> id) {
                  IdentityLoad& load = gateway ? gateway_load_ : subscriber_load_;
                  if (id && gateway) {
                    gateway_key_ = x509::cert_pin(id->cert.get()).value_or("");
                    gateway_identity_ = std::move(id);
                  } else if (id) {
                    subscriber_identity_ = std::move(id);
                  }
                  auto waiters = std::move(load.waiters);
                  load = IdentityLoad{};
                  for (auto& w : waiters) w(error);
                });
}

void OpenvpnTunnel::load_identity(
    const std::string& name, bool ca,
    std::function<void(std::string, std::optional<x509::LoadedIdentity>)> done) {
  context_.store().get(name, [this, name, ca, done](std::optional<std::string> text) {
    if (!started_) return done("the openvpn plugin stopped", std::nullopt);
    std::string why;
    if (text) {
      // One PEM text holds both; each reader takes the block of its kind.
      if (auto id = x509::load_identity({*text, *text}, &why)) return done("", std::move(id));
      context_.log().warn("the stored openvpn ", name, " does not load (", why,
                          "); making a new one");
    }
    x509::SelfSignedOptions options;
    options.common_name = ca ? "mnigs openvpn gateway" : "mnigs openvpn subscriber";
    options.ca = ca;
    auto made = x509::make_identity(options, &why);
    if (!made) return done("cannot make a key: " + why, std::nullopt);
    auto loaded = x509::load_identity(*made, &why);
    if (!loaded) return done("cannot load the key made: " + why, std::nullopt);
    auto shared = std::make_shared<x509::LoadedIdentity>(std::move(*loaded));
    context_.store().put(name, made->key_pem + made->cert_pem, [this, shared, done](bool ok) {
      if (!started_) return done("the openvpn plugin stopped", std::nullopt);
      // Not used unstored: the key would change with every start, and the
      // pins of the other end with it.
      if (!ok) return done("the new key could not be stored", std::nullopt);
      done("", std::move(*shared));
    });
  });
}

std::string OpenvpnTunnel::path(const std::string& name, const char* suffix) const {
  return settings_.run_dir + "/" + name + suffix;
}

void OpenvpnTunnel::launch(const std::string& name, std::function<void(std::string)> done) {
  const std::string config = path(name, ".conf");
  netcmd::Command c;
  c.argv = {"openvpn", "--config", config, "--daemon", "mnigs-openvpn"};
  // Not through the queue: a client is started outside its operations.
  context_.run(c.argv, "", kLaunchTimeout,
               queue_.guard<CommandOutcome>([this, c, name, done](CommandOutcome o) {
    if (netcmd::succeeded(o)) return done("");
    std::string why = netcmd::failure_sentence(c, o);
    // With --daemon and its log file, openvpn says why there.
    const std::string log = tail(path(name, ".log"), 3);
    if (!log.empty()) why += " (its log: " + log + ")";
    done(why);
  }));
}

void OpenvpnTunnel::end_processes(std::function<void()> done) {
  std::vector<int> pids;
  for (const auto& file : pid_files(settings_.run_dir))
    if (auto pid = our_openvpn(file, settings_.run_dir)) pids.push_back(*pid);
  auto remove_files = [this, done] {
    for (const char* suffix : {".conf", ".pid", ".sock", ".log", ".new"})
      for (const auto& file : files_ending(settings_.run_dir, suffix)) ::unlink(file.c_str());
    done();
  };
  if (pids.empty()) return remove_files();
  auto left = std::make_shared<std::size_t>(pids.size());
  for (int pid : pids)
    end_process(context_.executor(), pid, kExitGrace, queue_.guard<>([left, remove_files] {
                  if (--*left == 0) remove_files();
                }));
}

void OpenvpnTunnel::stop() {
  if (!started_) return;
  started_ = false;
  ++generation_;
  std::vector<netcmd::Command> commands;
  if (gateway_touched_) commands = gateway_removal();
  for (const auto& knob : sysctls_on_) commands.push_back(netcmd::write_knob(knob, false));
  if (!uplinks_.empty())
    for (auto& c : routes_->removal(kStopRepeat)) commands.push_back(std::move(c));
  // stop() cannot wait: SIGTERM to each openvpn, which exits by itself.
  for (auto& [p, server] : servers_)
    if (server.management) server.management->close();
  abandon_uplinks();
  for (const auto& file : pid_files(settings_.run_dir))
    if (auto pid = our_openvpn(file, settings_.run_dir)) ::kill(*pid, SIGTERM);
  queue_.stop(commands);
  servers_.clear();
  sessions_.clear();
  uplinks_.clear();
  gateway_up_ = gateway_touched_ = false;
}

void OpenvpnTunnel::reset(Done done) {
  if (!started_) return done("cannot reset: the openvpn plugin is not running");
  queue_.enqueue(
      [this, done](CommandQueue::Finished finished) {
        for (auto& [p, server] : servers_)
          if (server.management) server.management->close();
        abandon_uplinks();
        ++generation_;
        servers_.clear();
        server_errors_.clear();
        sessions_.clear();
        uplinks_.clear();
        pool_.emplace(settings_.pool4, settings_.pool6, "openvpn.pool4", "openvpn.pool6");
        gateway_up_ = gateway_touched_ = false;
        end_processes(queue_.guard<>([this, done, finished] {
          netcmd::recorded_knobs(queue_, [this, done, finished](std::vector<std::string> rec) {
            std::vector<std::string> knobs = sysctls_on_;
            for (const auto& name : rec)
              if (std::find(knobs.begin(), knobs.end(), name) == knobs.end())
                knobs.push_back(name);
            auto commands = gateway_removal();
            for (const auto& knob : knobs) commands.push_back(netcmd::write_knob(knob, false));
            for (auto& c : routes_->removal(kResetRepeat)) commands.push_back(std::move(c));
            queue_.run_all(std::move(commands), true, [this, done, finished](std::string e) {
              sysctls_on_.clear();
              netcmd::forget_knobs(context_.store());
              if (!e.empty()) context_.log().warn("reset incomplete: ", e);
              done(e.empty() ? "" : "reset of the openvpn plugin incomplete: " + e);
              finished();
            });
          });
        }));
      },
      [done](const std::string& reason) { done(reason); });
}

Json::Value OpenvpnTunnel::status() const {
  Json::Value s(Json::objectValue);
  s["method"] = method();
  s["pendingOperations"] = Json::UInt64(queue_.pending());
  s["key"] = gateway_key_;
  Json::Value gw(Json::objectValue);
  gw["up"] = gateway_up_;
  Json::Value servers(Json::arrayValue);
  for (const auto& [p, server] : servers_) {
    Json::Value e(Json::objectValue);
    e["protocol"] = to_string(p);
    e["port"] = settings_.port;
    e["interface"] = server_device(settings_, p);
    e["up"] = server.up;
    e["clients"] = Json::UInt64(server.clients.size());
    if (auto it = server_errors_.find(p); it != server_errors_.end()) e["error"] = it->second;
    if (server.management) {
      const auto& c = server.management->parser_counters();
      e["malformedLines"] = Json::UInt64(c.malformed);
      e["droppedBlocks"] = Json::UInt64(c.dropped_blocks);
    }
    servers.append(e);
  }
  gw["servers"] = servers;
  gw["admitted"] = Json::UInt64(admitted_count_);
  gw["refused"] = Json::UInt64(refused_);
  gw["killed"] = Json::UInt64(killed_);
  Json::Value list(Json::arrayValue);
  for (const auto& [id, g] : sessions_) {
    Json::Value e(Json::objectValue);
    e["id"] = id;
    e["subscriber"] = g.session.subscriber_address;
    e["address4"] = g.allotment.address4;
    e["address6"] = g.allotment.address6;
    e["connected"] = g.protocol.has_value();
    if (g.protocol) e["protocol"] = to_string(*g.protocol);
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
    u["protocol"] = to_string(up->protocol);
    u["state"] = up->state;
    u["routed"] = routes_ && routes_->holds(key);
    uplinks.append(u);
  }
  sub["sessions"] = uplinks;
  s["subscriber"] = sub;
  return s;
}

}  // namespace mnigs::openvpn
