// The scanner: asks every discovery plugin which nodes it knows, probes them
// for nodeInfo with bounded parallelism and a deadline per probe, and keeps
// what it finds (nodes, gateways with their suites, links, when last seen)
// in SQLite. One scan at a time; scans also run by themselves every
// scan.interval seconds. Progress goes out as events ("scan.started",
// "scan.progress", "scan.node", "scan.finished"). Between scans it asks the
// discovery plugins every 30 s whether their daemons are there, so that the
// suites this node offers name only networks it is really on. When a
// discovery plugin says its view changed ("discovery.changed") and
// background scans are on, the nodes it now reports that no scan has
// probed yet are probed at once (reprobe.cpp), so a new gateway shows up
// without waiting for the next scan. What scans found is read back by the
// gateway list (core/gateways).
//
// Everything runs on the scanner's own strand; RPC handlers reach it through
// the asynchronous calls below. Its schedules (background scans, surveys,
// re-probes) and the times it stores run on an os::Clock: the real one in the
// daemon, one moved by hand in unit tests. Round-trip times and a scan's
// duration are measured on std::chrono::steady_clock: they time the network.
#pragma once

#include "config/config.hpp"
#include "events/event_bus.hpp"
#include "log/log.hpp"
#include "os/clock.hpp"
#include "plugin_host/host.hpp"
#include "scanner/found.hpp"
#include "scanner/targets.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>
#include <json/value.h>

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>

namespace mnigs {

class Store;

class Scanner {
 public:
  // Told of every node address discovery reports (port 0) and of every
  // node found that runs a DHT node (its dht port): ways into the DHT.
  using AddressSeen = std::function<void(const std::string& address, std::uint16_t dht_port)>;

  // `self_id` is this node's nodeInfo id: a probe that reaches it is not a node found.
  Scanner(boost::asio::io_context& io, const ConfigHolder& config, Store& store,
          PluginHost& plugins, CoreEventBus& events, std::string self_id,
          AddressSeen address_seen = {}, os::Clock& clock = os::real_clock());
  Scanner(const Scanner&) = delete;
  Scanner& operator=(const Scanner&) = delete;

  // Loads the last scan number and arms the background timer.
  void start();
  // scan.interval changed: the next background scan is due an interval after
  // the last one (at once if that has passed).
  void interval_changed();
  // Cancels the timer and the scan in progress (its results are dropped).
  // Discovery callbacks may still be queued: destroy the scanner only once
  // the io_context has stopped.
  void stop();

  // startScan: {"started": true, "scan": N} for a new scan, or
  // {"started": false, "scan": N} naming the one already running.
  void start_scan(std::function<void(Json::Value)> done);
  // scanStatus: progress of the running scan, or the outcome of the last.
  void status(std::function<void(Json::Value)> done);

 private:
  struct Probe {
    scan::Target target;
    std::size_t next_address = 0;
  };

  void begin(bool background);
  void on_discovered(std::uint64_t scan, std::vector<PluginHost::Discovered> reports);
  void pump(std::uint64_t scan);
  void probe(std::uint64_t scan, std::shared_ptr<Probe> p);
  void on_reply(std::uint64_t scan, std::shared_ptr<Probe> p, const std::string& address,
                std::chrono::steady_clock::time_point sent, const Json::Value* info,
                const std::string& failure);
  void finish(std::uint64_t scan);
  void progress(bool force);
  void arm_timer(std::chrono::seconds delay);
  std::chrono::seconds first_delay() const;
  // Asks the discovery plugins now and every 30 s, so that the suites
  // follow which routing daemons are there.
  void survey();
  Json::Value status_now() const;
  std::int64_t wall() const;
  std::vector<std::uint16_t> scan_ports() const;  // daemon.scanports

  // Re-probes after discovery.changed (reprobe.cpp).
  struct Reprobe {
    std::uint64_t scan = 0;  // the latest scan when it began
    std::deque<std::shared_ptr<Probe>> queue;
    std::map<std::string, scan::Found> found;  // by node id
    std::size_t in_flight = 0;
  };
  void on_discovery_changed();
  void reprobe();
  void on_reprobe_discovered(std::shared_ptr<Reprobe> r,
                             std::vector<PluginHost::Discovered> reports);
  void pump_reprobe(std::shared_ptr<Reprobe> r);
  void probe_again(std::shared_ptr<Reprobe> r, std::shared_ptr<Probe> p);
  void finish_reprobe(std::shared_ptr<Reprobe> r);

  boost::asio::io_context& io_;
  const ConfigHolder& config_;
  Store& store_;
  PluginHost& plugins_;
  CoreEventBus& events_;
  StderrLogger log_{"scan"};
  std::string self_id_;
  AddressSeen address_seen_;
  os::Clock& clock_;
  boost::asio::strand<boost::asio::io_context::executor_type> strand_;
  std::unique_ptr<os::Timer> timer_;
  std::unique_ptr<os::Timer> survey_timer_;
  std::unique_ptr<os::Timer> change_timer_;

  // State of the current (or last) scan; on strand_ only.
  std::uint64_t scan_ = 0;  // number of the current or last scan
  bool running_ = false;
  bool stopped_ = false;
  bool background_ = false;
  std::int64_t started_at_ = 0, finished_at_ = 0;
  std::chrono::steady_clock::time_point t0_{}, last_progress_{};
  double seconds_ = 0;
  std::size_t candidates_ = 0, total_ = 0, probed_ = 0, in_flight_ = 0;
  Json::Value errors_{Json::arrayValue};
  std::deque<std::shared_ptr<Probe>> queue_;
  std::map<std::string, scan::Found> found_;  // by node id
  std::vector<Link> links_;
  std::vector<std::string> link_networks_;  // parallel to links_
  std::size_t parallelism_ = 1;
  std::chrono::milliseconds timeout_{2000};

  // Re-probes; on strand_ only.
  EventBus::Subscription changed_subscription_ = 0;
  bool change_armed_ = false;
  bool changed_again_ = false;  // while a re-probe ran
  std::chrono::steady_clock::time_point last_reprobe_{};
  std::set<std::string> probed_addresses_;  // by the last scan and the re-probes since
  std::shared_ptr<Reprobe> reprobe_;        // the one running, if any
};

}  // namespace mnigs
