// Runs the plugins that the loader accepted: creates each with its own
// context (strand, logger, config section, namespaced store, RPC, events),
// starts and stops them, and keeps every call into a plugin inside a
// try/catch so that a throwing plugin is marked failed and the daemon goes on.
#pragma once

#include "config/config.hpp"
#include "events/event_bus.hpp"
#include "log/log.hpp"
#include "os/command_runner.hpp"
#include "plugin_host/loader.hpp"

#include <mnigs/plugin.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace mnigs {

class Store;

class PluginHost {
 public:
  // Where plugin RPC methods go: full name "<plugin>.<method>".
  using MethodSink =
      std::function<void(const std::string& name, Access access, MethodHandler handler)>;

  // Where plugins' HTTP upgrade paths go (HttpServer::add_upgrade); throws
  // std::invalid_argument for a path that cannot be taken.
  using UpgradeSink = std::function<void(const std::string& path, UpgradeHandler handler)>;

  enum class State { disabled, refused, created, running, failed, stopped };

  PluginHost(boost::asio::io_context& io, const ConfigHolder& config, Store* store,
             CoreEventBus& events, MethodSink methods);
  ~PluginHost();  // destroys the plugin objects; the io_context must no longer run
  PluginHost(const PluginHost&) = delete;
  PluginHost& operator=(const PluginHost&) = delete;

  // Creates and starts every usable library. Creation happens here; start()
  // runs on each plugin's strand. Not thread-safe against itself; call once.
  void start(std::vector<PluginLibrary> libraries);

  // `done` (on the io_context) once every plugin's start() has run.
  void when_started(std::function<void()> done);

  // Calls stop() on every running plugin, each on its strand, then `done`
  // (posted to the io_context). Safe to call once.
  void stop(std::function<void()> done);

  // listPlugins: every library with its state, error and the plugin's own
  // status(), collected from the strands. A running plugin whose status()
  // carries a non-empty "error" is listed as "degraded" with that error.
  // `done` runs on some strand.
  void describe(std::function<void(Json::Value)> done) const;

  // Names of running plugins ("kind/name") for nodeInfo.
  std::vector<std::string> running() const;
  // Suites this node can use: network-tunnel-payment over running plugins,
  // without the networks of unavailable discovery plugins.
  std::vector<std::string> suites() const;
  // Suites a gateway offers: those, with only the payment methods in
  // `payments` (gateway.payments), in that order of preference.
  std::vector<std::string> offered_suites(const std::vector<std::string>& payments) const;

  // What one discovery plugin reported to discover_all().
  struct Discovered {
    std::string plugin;   // the plugin's name
    std::string network;  // its network(), e.g. "babel"
    Discovery found;      // found.error says why when it did not answer
  };
  // Asks every running discovery plugin for its candidates, all at once, and
  // calls `done` (on the io_context) with one entry per plugin once all have
  // answered or `timeout` has passed; a plugin that has not answered by then
  // gets an error saying so, and its late answer is dropped. A plugin whose
  // answer carries an error (its daemon is not there) is unavailable until
  // its next error-free answer: suites() leaves its network out.
  void discover_all(std::chrono::milliseconds timeout,
                    std::function<void(std::vector<Discovered>)> done);

  // The terms() of each running payment plugin in `offered`, by method
  // ({"free": {"price": 0, ...}}); `done` runs on some strand.
  void payment_terms(const std::vector<std::string>& offered,
                     std::function<void(Json::Value)> done) const;
  // The gateway_key() of each running tunnel plugin whose method is the
  // tunnel part of one of `suites` (the offered suites), by method
  // ({"websocket": "sha256:..."}): those that have one, in the form the
  // offer and nodeInfo allow (check_tunnel_key, dht/offer.hpp), at most
  // max_tunnel_keys of them; a key left out is said in the log, once until
  // it changes. Each plugin is asked on its strand; `done` runs on some
  // strand, or at once when no plugin is asked.
  void tunnel_keys(const std::vector<std::string>& suites,
                   std::function<void(std::map<std::string, std::string>)> done);
  // The announce() of each running plugin, by plugin name
  // ({"httptunnel": "http://gw.example:8080/"}): those that say something,
  // in the form the offer and nodeInfo allow (check_service), at most
  // max_services of them (by name); one left out is said in the log, once
  // until it changes. `done` runs on some strand, or at once when no plugin
  // runs.
  void services(std::function<void(std::map<std::string, std::string>)> done);
  // Where PluginContext::gateways asks (the daemon's gateway list); without
  // one, plugins are told of no gateways.
  using GatewaySource = std::function<void(std::function<void(Json::Value)>)>;
  void set_gateway_source(GatewaySource source) { gateway_source_ = std::move(source); }
  // Tells each running payment plugin whether it is offered (its method in
  // `offered`): PaymentPlugin::offered.
  void offer_payments(const std::vector<std::string>& offered);

  // A live key of `section` changed: tells that plugin (on its strand).
  void config_changed(const std::string& section);

  // Runs `fn` on the strand of the running tunnel plugin whose method() is
  // `method`, guarded; with nullptr (on the io_context) when there is none.
  void with_tunnel(const std::string& method, std::function<void(TunnelPlugin*)> fn);
  // Runs `fn` once per running tunnel plugin, each on its strand, then `done`.
  void for_each_tunnel(std::function<void(TunnelPlugin&, std::function<void()> next)> fn,
                       std::function<void()> done);

  // Waits until the commands plugins started (through PluginContext::run)
  // have finished; for shutdown, after stop().
  void drain_commands() { commands_.drain(); }

  // Before start(): where register_upgrade() calls go. Without one, a
  // plugin's register_upgrade() throws.
  void set_upgrade_sink(UpgradeSink sink) { upgrades_ = std::move(sink); }
  // Before start(): what PluginContext::payments() reaches (the gateway's
  // sessions). Without it, every call is answered with an error.
  void set_payments(GatewayPayments* payments) { payments_ = payments; }

  // Runs `fn` on the strand of the running payment plugin whose method() is
  // `method`, guarded; with nullptr (on the io_context) when there is none.
  void with_payment(const std::string& method, std::function<void(PaymentPlugin*)> fn);

 private:
  class Context;
  struct Record;

  void start_one(const std::shared_ptr<Record>& record);
  std::vector<std::string> make_suites(const std::vector<std::string>* offered) const;
  // Runs `fn` on the strand of the running `kind` plugin whose suite part is
  // `part` (with_tunnel, with_payment).
  void with_part(const std::string& kind, const std::string& part,
                 std::function<void(Plugin*)> fn);
  // The records `keep` accepts, read under mutex_ (keep runs with it held).
  std::vector<std::shared_ptr<Record>> records_where(
      const std::function<bool(const Record&)>& keep) const;
  // Logs `problem` with what `record` said for the offer (its gateway_key()
  // or its announce(), kept in `last`, named by `what`) once until it
  // changes ("" when it is fine again).
  void note_offer_problem(Record& record, std::string Record::*last, const char* what,
                          const std::string& problem);
  // Marks `record` failed with `why` and stops it; on the record's strand.
  void fail(Record& record, const std::string& why);
  // Runs `fn` on the plugin's strand, guarded: an exception fails the plugin.
  void guarded(const std::shared_ptr<Record>& record, std::string what,
               std::function<void(Plugin&)> fn);

  boost::asio::io_context& io_;
  const ConfigHolder& config_;
  Store* store_;
  CoreEventBus& events_;
  MethodSink methods_;
  UpgradeSink upgrades_;
  GatewayPayments* payments_ = nullptr;
  GatewaySource gateway_source_;
  StderrLogger log_{"plugins"};
  os::CommandRunner commands_;
  mutable std::mutex mutex_;  // guards the records' state, error and suite part
  std::vector<std::shared_ptr<Record>> records_;
};

const char* to_string(PluginHost::State state);

}  // namespace mnigs
