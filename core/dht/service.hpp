// The daemon's DHT service: runs the DHT node (dht_node.hpp) on a thread of
// its own, publishes this gateway's signed offer while gateway.enabled is
// true (refreshed, withdrawn when it goes false and at shutdown), keeps the
// verified offers it hears in SQLite for the gateway list (core/gateways),
// and bootstraps from what discovery and scans find. Part of mnigs_core, not
// of mnigs_dht: it uses the store, the plugin host and the sessions.
#pragma once

#include "config/config.hpp"
#include "dht/dht_node.hpp"
#include "log/log.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <json/value.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>

namespace mnigs {

class Store;
class PluginHost;
class SessionManager;

class DhtService {
 public:
  DhtService(boost::asio::io_context& io, const ConfigHolder& config, Store& store,
               PluginHost& plugins, SessionManager& sessions);
  ~DhtService();  // stop()
  DhtService(const DhtService&) = delete;
  DhtService& operator=(const DhtService&) = delete;

  // When dht.enabled: starts the DHT node on its own thread (creating the
  // identity the first time takes a few seconds there, not here). Never
  // throws; a node that cannot start is reported in the log and dhtStatus.
  void start();
  // Withdraws the offer, saves the routing table, joins the thread. Blocks
  // up to a few seconds: call after the event loop has stopped.
  void stop();

  // gateway.enabled (or something in the offer) changed: publish or withdraw now.
  void gateway_changed();
  // Whether the uplink works (UplinkCheck::up): no offer while it does not.
  // Set before start().
  void set_uplink(std::function<bool()> up) { uplink_up_ = std::move(up); }
  // A node address that discovery or a scan reported; `port` 0 = dht.port.
  void bootstrap(const std::string& address, std::uint16_t port);

  // {"id", "port"} for nodeInfo while the node runs, else null. Any thread.
  Json::Value node_info() const;
  // dhtStatus. `done` runs on some thread.
  void status(std::function<void(Json::Value)> done) const;

 private:
  void on_offers(std::vector<GatewayOffer> offers, bool expired);
  void refresh();  // on strand_: publish or withdraw, then re-arm
  void publish(GatewayOffer offer);

  boost::asio::io_context& io_;
  const ConfigHolder& config_;
  Store& store_;
  PluginHost& plugins_;
  SessionManager& sessions_;
  StderrLogger log_{"dht"};
  boost::asio::strand<boost::asio::io_context::executor_type> strand_;
  boost::asio::steady_timer refresh_timer_;

  // The DHT node lives on dht_io_, run by thread_; every call into it is
  // posted there.
  boost::asio::io_context dht_io_;
  std::unique_ptr<DhtNode> node_;
  std::thread thread_;
  std::atomic<bool> running_{false};
  bool published_ = false;  // on strand_
  std::function<bool()> uplink_up_;
  std::uint16_t port_ = 0;
  mutable std::mutex error_mutex_;  // guards error_, pending_ and running_'s flips
  std::string error_;  // why the node is not running
  std::set<std::pair<std::string, std::uint16_t>> pending_;  // bootstrap before running
};

}  // namespace mnigs
