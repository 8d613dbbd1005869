// discovery/babel: the nodes of a babel mesh, as babeld knows them.
//
// One connection to babeld's local interface (Monitor) keeps a table of
// routes and neighbours current; discover() answers from it at once. Nodes
// are babel router ids; their /32 and /128 routes are the addresses to
// probe; a node announcing a default route is a gateway. When the set of
// nodes, their addresses or the gateways change, "discovery.changed" goes
// out ({"network": "babel"}), at most once per kPublishInterval.
//
// Threading: everything runs on the plugin's strand.
#pragma once

#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mnigs/plugin.hpp>
#include <optional>
#include <string>
#include <vector>

#include "monitor.hpp"
#include "table.hpp"

namespace mnigs::babel {

inline constexpr std::chrono::milliseconds kPublishInterval{1000};
// Longest discover() waits for a connection attempt in progress (capped
// further by babel.timeout) before it answers from what it knew.
inline constexpr std::chrono::milliseconds kDiscoverWait{2000};

class BabelDiscovery final : public DiscoveryPlugin, private Monitor::Listener {
 public:
  static void declare(ConfigDeclarer& declarer);

  explicit BabelDiscovery(PluginContext& context);
  ~BabelDiscovery() override;

  // Reads the config (throws std::runtime_error naming the key when it is
  // unusable) and connects to babeld; a babeld that is not there yet is not
  // an error: the plugin keeps trying.
  void start() override;
  void stop() override;
  // Another address, port, socket or timeout: reconnects. An unusable value
  // is logged and the previous one kept.
  void config_changed() override;
  // {"connected", "state", "endpoint", "version", "host", "myId", "nodes",
  //  "gateways", "routes", "neighbours", "links", "lastError", "malformedLines",
  //  "connections"}
  Json::Value status() const override;

  std::string network() const override { return "babel"; }
  // Answers from the table at once; while a connection attempt is under
  // way, waits for it (at most kDiscoverWait). When not connected, `error`
  // says why and the candidates are those last known.
  void discover(std::function<void(Discovery)> done) override;

 private:
  void synced() override;
  void updated() override;
  void lost() override;

  void refresh();
  Discovery answer() const;
  void answer_waiting();
  void members_changed();
  void publish();

  PluginContext& ctx_;
  std::shared_ptr<Monitor> monitor_;
  View view_;       // of the current table
  View announced_;  // as of the last "discovery.changed" (or the start)
  std::optional<std::chrono::steady_clock::time_point> last_publish_;
  bool publish_pending_ = false;
  boost::asio::steady_timer publish_timer_;
  std::vector<std::function<void(Discovery)>> waiting_;
  boost::asio::steady_timer wait_timer_;
  std::uint64_t wait_round_ = 0;  // bumped when the waiting are answered
  // False once stopped or destroyed: timer handlers still queued then must
  // not touch the object.
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace mnigs::babel
