#include "daemon/daemon.hpp"

#include "auth/password.hpp"
#include "util/guarded_loop.hpp"
#include "util/service_notify.hpp"
#include "util/token.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/post.hpp>

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <thread>

namespace mnigs {

Daemon::Daemon(DaemonOptions options) : options_(std::move(options)) {}

Daemon::~Daemon() {
  // Order matters: plugins may hold store handles and registered methods, and
  // store work queued by a plugin logs through that plugin's logger.
  if (store_) store_->flush();
  services_.reset();
  history_.reset();
  http_.reset();
  event_log_.reset();
  web_auth_.reset();
  connection_.reset();
  sessions_.reset();
  uplink_.reset();
  bulk_.reset();
  echo_.reset();
  plugins_.reset();
  hooks_.reset();
  store_.reset();
}

void Daemon::apply_log_level(const Config& config) {
  if (options_.verbose) return StderrLogger::set_level(LogLevel::debug);
  if (auto level = parse_log_level(config.get_string("daemon", "logLevel")))
    StderrLogger::set_level(*level);
}

void Daemon::start() {
  if (options_.verbose) StderrLogger::set_level(LogLevel::debug);
  StartupConfig startup =
      load_startup_config(options_.config_path, options_.config_path_given, log_);
  for (const auto& w : startup.warnings) log_.warn(w.message);
  auto initial = std::make_shared<const Config>(startup.path, startup.values);
  config_ = std::make_unique<ConfigRuntime>(initial);
  config_->schema = std::move(startup.schema);
  config_->on_live_change = [this](const std::vector<ConfigChange>& c) { on_live_change(c); };
  libraries_ = std::move(startup.libraries);
  apply_log_level(*initial);

  // State directory: private to the daemon's user.
  std::error_code ec;
  std::filesystem::create_directories(initial->data_dir(), ec);
  if (ec)
    throw std::runtime_error("cannot create daemon.dataDir " + initial->data_dir() + ": " +
                             ec.message());
  ::chmod(initial->data_dir().c_str(), 0700);

  store_ = Store::open(initial->database_path(), log_);
  log_.info("database ", store_->path(), " at schema version ", store_->schema_version());

  token_ = generate_token();

  events_ = std::make_unique<CoreEventBus>(io_.get_executor());
  event_log_ = std::make_unique<EventLog>(io_, *events_,
                                          [] { return os::real_clock().unix_seconds(); });
  dispatcher_ = std::make_unique<Dispatcher>(registry_);
  web_auth_ = std::make_unique<WebAuth>(
      config_->holder, password_path(initial->data_dir()),
      [this](std::string_view token) { return constant_time_equal(token, token_); }, rpc_log_);
  http_ = std::make_unique<HttpServer>(
      io_, config_->holder, *dispatcher_,
      [this](std::string_view bearer) {
        return constant_time_equal(bearer, token_) ? Caller::Token::valid
                                                   : Caller::Token::invalid;
      },
      rpc_log_, web_auth_.get());

  const auto port = static_cast<unsigned short>(initial->get_int("daemon", "rpcport"));
  std::string v4 = initial->get_string("daemon", "listenIpv4");
  std::string v6 = initial->get_string("daemon", "listenIpv6");
  std::string bind_errors;
  for (const auto& addr : {v4, v6}) {
    if (addr.empty()) continue;
    try {
      http_->listen({boost::asio::ip::make_address(addr), port});
    } catch (const std::exception& e) {
      bind_errors += (bind_errors.empty() ? "" : "; ") + std::string(e.what());
      log_.warn("rpc: ", e.what());
    }
  }
  if (http_->listening().empty())
    throw std::runtime_error("no RPC listener could be opened (" +
                             (bind_errors.empty() ? std::string("daemon.listenIpv4 and "
                                                                "daemon.listenIpv6 are both empty")
                                                  : bind_errors) +
                             "); is another mnigsd running on port " + std::to_string(port) + "?");
  // Only now: a second mnigsd that cannot bind must not replace the token of
  // the one that runs.
  token_file_ = token_path(initial->data_dir());
  write_token_file(token_file_, token_);

  plugins_ = std::make_unique<PluginHost>(
      io_, config_->holder, store_.get(), *events_,
      [this](const std::string& name, Access access, MethodHandler handler) {
        registry_.add(name, access, std::move(handler));
      });
  plugins_->set_upgrade_sink([this](const std::string& path, UpgradeHandler handler) {
    http_->add_upgrade(path, std::move(handler));
  });
  hooks_ = std::make_unique<Hooks>(config_->holder, log_);
  auto wall = [] {
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  };
  sessions_ =
      std::make_unique<SessionManager>(io_, config_->holder, *store_, *plugins_, *hooks_, wall);
  // Health probes, UDP on the RPC port and addresses: answered for session holders only.
  echo_ = std::make_unique<probe::EchoService>(io_, os::real_clock());
  {
    std::vector<boost::asio::ip::udp::endpoint> endpoints;
    for (const auto& addr : {v4, v6})
      if (!addr.empty()) endpoints.emplace_back(boost::asio::ip::make_address(addr), port);
    if (auto errors = echo_->listen(endpoints); !errors.empty())
      log_.warn("health probes will not be answered on ", errors);
  }
  // testGateway's throughput burst, for session holders too.
  bulk_ = std::make_unique<probe::BulkService>(io_, *echo_);
  http_->add_upgrade(probe::kBulkPath,
                     [this](HttpUpgrade request) { bulk_->serve(std::move(request)); });
  sessions_->set_holders_sink([this](const std::string& id, auto addresses) {
    echo_->hold(id, std::move(addresses));
  });
  // A gateway without uplink offers nothing and tells its subscribers.
  uplink_ = std::make_unique<UplinkCheck>(io_, config_->holder, os::real_clock(), [this](bool up) {
    echo_->set_uplink_down(!up);
    if (dht_) dht_->gateway_changed();
    Json::Value e(Json::objectValue);
    e["up"] = up;
    events_->publish("gateway.uplink", e);
  });
  sessions_->set_uplink([this] { return uplink_->up(); });
  // Every session's bytes, counted and limited in the kernel.
  meter_runner_ = std::make_unique<os::CommandRunner>();
  meter_ = std::make_unique<Meter>(io_, [this](os::Command c, auto done) {
    meter_runner_->submit(std::move(c), std::move(done));
  });
  sessions_->set_meter(meter_.get());
  plugins_->set_payments(sessions_.get());
  connection_ =
      std::make_unique<ConnectionManager>(io_, config_->holder, *store_, *plugins_, *hooks_, wall);
  // The LAN behind this subscriber shares its gateway (subscriber.lan).
  lan_runner_ = std::make_unique<os::CommandRunner>();
  lan_ =
      std::make_unique<LanShare>(io_, config_->holder, *store_,
                                 [this](os::Command c, std::function<void(CommandOutcome)> done) {
                                   lan_runner_->submit(std::move(c), std::move(done));
                                 });
  std::string id_warning;
  std::string node_id = load_or_create_node_id(initial->data_dir(), &id_warning);
  if (!id_warning.empty()) log_.warn(id_warning);
  dht_ = std::make_unique<DhtService>(io_, config_->holder, *store_, *plugins_, *sessions_);
  dht_->set_uplink([this] { return uplink_->up(); });
  scanner_ = std::make_unique<Scanner>(
      io_, config_->holder, *store_, *plugins_, *events_, node_id,
      [this](const std::string& address, std::uint16_t dht_port) {
        dht_->bootstrap(address, dht_port);
      });
  gateways_ = std::make_unique<GatewayList>(*store_, io_.get_executor());
  plugins_->set_gateway_source([this](std::function<void(Json::Value)> done) {
    gateways_->list(
        true, [done](Json::Value list) { done(list["gateways"]); },
        [this, done](std::string error) {
          log_.warn("the gateway list could not be read for a plugin: ", error);
          done(Json::Value(Json::arrayValue));
        });
  });
  connection_->set_environment(ConnectionManager::Environment{
      [this](std::function<void(Json::Value)> done) {
        gateways_->list(
            true, [done](Json::Value list) { done(list["gateways"]); },
            [this, done](std::string error) {
              log_.warn("auto mode: the gateway list could not be read: ", error);
              done(Json::Value(Json::arrayValue));
            });
      },
      [this] { scanner_->start_scan([](Json::Value) {}); }, events_.get(), nullptr,
      [this](const std::string& gateway) { lan_->gateway_active(gateway); }});
  history_ = std::make_unique<ConnectionHistory>(
      io_, [this](auto done) { connection_->describe(std::move(done)); }, wall);
  services_ = std::make_unique<CoreServices>(CoreServices{
      *config_, *plugins_, *dispatcher_, *http_, *store_, *sessions_, *connection_, *scanner_,
      *gateways_, *dht_, *echo_, *uplink_, *lan_, std::chrono::steady_clock::now(), node_id,
      event_log_.get(), history_.get()});
  register_node_methods(registry_, *services_);
  register_config_methods(registry_, *services_);
  register_session_methods(registry_, *services_);
  register_scan_methods(registry_, *services_);
  register_gateway_list_methods(registry_, *services_);
  register_dht_methods(registry_, *services_);
  register_event_methods(registry_, *services_);
  plugins_->start(std::move(libraries_));
  plugins_->when_started([this] {
    offer_payments();
    resume();
    dht_->start();
    scanner_->start();
    uplink_->start();
    history_->start();
    // systemd's Type=notify: serving from now on (util/service_notify.hpp).
    std::string why;
    if (!notify_service_manager("READY=1\nSTATUS=serving JSON-RPC and the web UI", &why))
      log_.warn("cannot tell the service manager that mnigsd is ready: ", why);
  });

  signals_.add(SIGINT);
  signals_.add(SIGTERM);
  signals_.add(SIGHUP);
  wait_for_signal();
  log_.info("mnigsd ", MNIGS_VERSION, " started as \"", node_name(*initial), "\"",
            initial->path().empty() ? " on built-in defaults" : " with " + initial->path());
}

void Daemon::on_live_change(const std::vector<ConfigChange>& changes) {
  auto config = config_->holder.get();
  for (const auto& c : changes) {
    log_.info("config: ", c.dotted(), " changed");
    if (c.section == "daemon" && c.key == "logLevel") apply_log_level(*config);
    if (c.section == "scan" && c.key == "interval") scanner_->interval_changed();
    if (c.section == "gateway") dht_->gateway_changed();
    if (c.section == "gateway" && (c.key == "enabled" || c.key == "payments")) offer_payments();
    if (c.section == "gateway" && c.key == "payments") sessions_->payments_changed();
    if (c.section == "gateway" && c.key == "uplinks")
      meter_->set_uplinks(config->get_list("gateway", "uplinks"));
    if (c.section == "gateway" && c.key == "throttleKbit") sessions_->policies_changed();
    // Auto mode turned on in the config lifts a manual pin, as --auto on does.
    if (c.section == "subscriber" && c.key == "auto")
      connection_->auto_changed(c.value.isBool() && c.value.asBool());
    if (c.section == "subscriber" && c.key == "standby") connection_->auto_changed(false);
    if (c.section == "subscriber" && c.key == "lan") lan_->config_changed();
    if (c.section == "gateway" && (c.key == "uplinkCheck" || c.key == "uplinkInterval"))
      uplink_->config_changed();
    if (config_->schema.section(c.section) && config_->schema.section(c.section)->owner != "core")
      plugins_->config_changed(c.section);
    events_->publish("config.changed", Json::Value(c.dotted()));
  }
}

void Daemon::offer_payments() {
  auto config = config_->holder.get();
  plugins_->offer_payments(config->get_bool("gateway", "enabled")
                               ? config->get_list("gateway", "payments")
                               : std::vector<std::string>{});
}

void Daemon::reset_tunnels(std::function<void()> done) {
  plugins_->for_each_tunnel(
      [this](TunnelPlugin& t, std::function<void()> next) {
        t.reset([this, next](std::string error) {
          if (!error.empty()) log_.warn("removing tunnel state: ", error);
          next();
        });
      },
      std::move(done));
}

void Daemon::resume() {
  // Kernel state from a previous run (kill -9) that no record points to goes
  // first; then what the records say is set up again.
  // The LAN's table first, so that it knows the gateway a resumed
  // connection goes to (the same one: its connections are kept).
  lan_->start([this] {
    reset_tunnels([this] {
      sessions_->start([this] {
        connection_->start([this] { log_.debug("sessions and connection resumed"); });
      });
    });
  });
}

void Daemon::reload() {
  // systemd (Type=notify-reload, 253 and later) learns a reload started and
  // when it ended; before, RELOADING=1 is ignored and READY=1 is harmless.
  const auto usec = std::chrono::duration_cast<std::chrono::microseconds>(
                        std::chrono::steady_clock::now().time_since_epoch())
                        .count();
  notify_service_manager("RELOADING=1\nMONOTONIC_USEC=" + std::to_string(usec));
  const ReloadOutcome outcome = reload_config(*config_);
  if (!outcome.errors.empty()) {
    for (const auto& e : outcome.errors) log_.error("reload: ", e);
    log_.error("reload: the config file is not valid; nothing changed");
  } else {
    std::string applied, restart;
    for (const auto& k : outcome.applied) applied += " " + k;
    for (const auto& k : outcome.restart_required) restart += " " + k;
    log_.info("reload: ", outcome.applied.empty() ? "nothing changed that applies live"
                                                  : "applied" + applied,
              outcome.restart_required.empty() ? "" : "; after a restart:" + restart);
  }
  notify_service_manager("READY=1");
}

void Daemon::wait_for_signal() {
  signals_.async_wait([this](const boost::system::error_code& ec, int sig) {
    if (ec) return;
    if (sig == SIGHUP) {
      if (!stopping_) reload();
      return wait_for_signal();
    }
    if (stopping_) {
      // A second signal: the operator does not want to wait for a plugin
      // that does not finish.
      log_.warn("signal ", sig, " received again; stopping without waiting");
      io_.stop();
      return;
    }
    log_.info("signal ", sig, " received; shutting down");
    shutdown();
    wait_for_signal();
  });
}

void Daemon::shutdown() {
  if (stopping_) return;
  stopping_ = true;
  notify_service_manager("STOPPING=1");
  http_->stop();
  event_log_->stop();  // answers the web UI's waiting calls
  history_->stop();
  echo_->stop();
  uplink_->stop();
  scanner_->stop();
  // Subscriber routes first, while plugins still run, and the gateway stops
  // taking requests. Then every tunnel plugin removes all kernel state it
  // owns (reset), the gateway's tunnel ends with it, and only then are
  // plugins stopped: stop() has no completion to wait for.
  connection_->stop([this] {
    lan_->stop([this] {
      sessions_->stop([this] {
        reset_tunnels([this] {
          // The meter's table last: until the tunnels were gone it held their
          // traffic back.
          meter_->stop([this] {
            plugins_->stop([this] {
              plugins_->drain_commands();
              hooks_->drain();
              log_.info("plugins stopped");
              io_.stop();
            });
          });
        });
      });
    });
  });
}

int Daemon::run() {
  std::size_t threads =
      static_cast<std::size_t>(config_->holder.get()->get_int("daemon", "threads"));
  // A handler that throws is a bug, but one request must not take the node
  // (and the NAT and routes it set up) down: log it and keep serving.
  auto serve = [this] {
    run_guarded(io_, [this](const std::string& what) {
      log_.error("internal error, request dropped: ", what);
    });
  };
  std::vector<std::thread> pool;
  for (std::size_t i = 1; i < threads; ++i) pool.emplace_back(serve);
  serve();
  for (auto& t : pool) t.join();
  // The DHT node runs on a thread of its own: it withdraws this gateway's
  // offer and saves its routing table now, before the store closes.
  if (dht_) dht_->stop();
  if (store_) store_->flush();
  if (!token_file_.empty()) ::unlink(token_file_.c_str());
  log_.info("mnigsd stopped");
  return 0;
}

}  // namespace mnigs
