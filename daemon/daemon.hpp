// mnigsd's lifetime: config, store, plugins, RPC, signals, shutdown.
#pragma once

#include "config/startup.hpp"
#include "dht/service.hpp"
#include "events/event_bus.hpp"
#include "events/event_log.hpp"
#include "gateway/sessions.hpp"
#include "gateway/uplink.hpp"
#include "gateways/gateway_list.hpp"
#include "hooks/hooks.hpp"
#include "log/log.hpp"
#include "plugin_host/host.hpp"
#include "probe/bulk.hpp"
#include "probe/echo_service.hpp"
#include "rpc/dispatcher.hpp"
#include "rpc/http_server.hpp"
#include "rpc/methods/methods.hpp"
#include "rpc/registry.hpp"
#include "scanner/scanner.hpp"
#include "store/store.hpp"
#include "subscriber/connection.hpp"
#include "subscriber/history.hpp"
#include "subscriber/lan.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include <memory>
#include <string>

namespace mnigs {

struct DaemonOptions {
  std::string config_path = default_config_path;
  bool config_path_given = false;  // -f: a missing file is then an error
  bool verbose = false;            // -v: debug logging regardless of daemon.logLevel
};

class Daemon {
 public:
  explicit Daemon(DaemonOptions options);
  ~Daemon();

  // Everything up to serving: throws ConfigError / std::runtime_error with a
  // message for the user; nothing is left running on failure.
  void start();
  // Serves until SIGINT or SIGTERM, then shuts down cleanly. Returns the exit code.
  int run();

 private:
  void apply_log_level(const Config& config);
  void on_live_change(const std::vector<ConfigChange>& changes);
  // After plugins started: reset tunnel state, resume sessions and the connection.
  void resume();
  // Every tunnel plugin removes the kernel state it owns, one after another.
  void reset_tunnels(std::function<void()> done);
  // Tells the payment plugins which of them this gateway offers now.
  void offer_payments();
  void shutdown();
  // SIGHUP: the config file read again (reload_config), live keys applied.
  void reload();
  void wait_for_signal();

  DaemonOptions options_;
  StderrLogger log_{"mnigsd"};
  StderrLogger rpc_log_{"rpc"};
  // Declared before io_: handlers still queued when io_ is destroyed hold
  // Responders whose completion touches the dispatcher.
  MethodRegistry registry_;
  std::unique_ptr<Dispatcher> dispatcher_;
  boost::asio::io_context io_;
  boost::asio::signal_set signals_{io_};
  std::unique_ptr<ConfigRuntime> config_;
  std::vector<PluginLibrary> libraries_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<CoreEventBus> events_;
  std::unique_ptr<EventLog> event_log_;
  std::unique_ptr<WebAuth> web_auth_;  // used by http_
  std::unique_ptr<HttpServer> http_;
  std::unique_ptr<PluginHost> plugins_;
  std::unique_ptr<Hooks> hooks_;
  std::unique_ptr<SessionManager> sessions_;
  std::unique_ptr<probe::EchoService> echo_;
  std::unique_ptr<probe::BulkService> bulk_;
  std::unique_ptr<UplinkCheck> uplink_;
  std::unique_ptr<ConnectionManager> connection_;
  std::unique_ptr<ConnectionHistory> history_;  // samples connection_
  std::unique_ptr<LanShare> lan_;
  // After lan_, so destroyed first: its destructor waits for a command still
  // running, whose callback posts to lan_.
  std::unique_ptr<os::CommandRunner> lan_runner_;
  std::unique_ptr<Meter> meter_;
  std::unique_ptr<os::CommandRunner> meter_runner_;  // after meter_, as lan_runner_
  std::unique_ptr<DhtService> dht_;
  std::unique_ptr<Scanner> scanner_;
  std::unique_ptr<GatewayList> gateways_;
  std::unique_ptr<CoreServices> services_;
  std::string token_;
  std::string token_file_;
  bool stopping_ = false;
};

}  // namespace mnigs
