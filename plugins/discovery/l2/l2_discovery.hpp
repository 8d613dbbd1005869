// The l2 discovery protocol on one node: announce this node on each selected
// interface every interval, listen to the others' announcements, keep a table
// of the nodes heard and forget those that fall silent.
//
// Owned through a shared_ptr (timers and sockets hold weak references), used
// on the plugin's strand only: the host calls in there and every handler runs
// there. The plugin entry (plugin.cpp) forwards the DiscoveryPlugin calls.
#pragma once

#include "link_interfaces.hpp"
#include "log_limit.hpp"
#include "link_socket.hpp"
#include "peer_table.hpp"
#include "settings.hpp"

#include <mnigs/plugin.hpp>

#include <boost/asio/steady_timer.hpp>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace mnigs::l2 {

class L2Discovery : public std::enable_shared_from_this<L2Discovery> {
 public:
  // What interfaces exist; list_interfaces() outside tests.
  using Lister = std::function<std::optional<std::vector<LinkInterface>>(std::string* why)>;

  explicit L2Discovery(PluginContext& ctx, Lister lister = list_interfaces);

  // Reads the config (throws std::runtime_error naming the key if it is
  // bad), registers l2.listPeers, loads or creates the node id and starts
  // announcing.
  void start();
  // Closes every socket and cancels every timer; idempotent, does not log.
  void stop();
  // Applies a new config snapshot; a bad one is logged and ignored.
  void config_changed();
  // The peers heard within their holdtime, as candidates and links.
  void discover(const std::function<void(Discovery)>& done);
  Json::Value status() const;

  // One round: pick up interface changes, announce on each interface,
  // forget silent peers. Runs every interval; public for tests.
  void tick();
  // A datagram read on interface `interface`; what the sockets call. Public
  // so that tests can feed datagrams without a network.
  void on_datagram(std::string_view datagram, const std::string& interface,
                   const boost::asio::ip::udp::endpoint& from);

  // "" until loaded from the store or created.
  const std::string& node_id() const { return node_id_; }

 private:
  struct LinkState {
    LinkInterface iface;
    std::shared_ptr<LinkSocket> socket;
    int send_failures = 0;  // in a row
    std::string send_error;
    std::optional<Clock::time_point> last_reply;  // to a newcomer
  };

  void load_node_id();
  void use_node_id(std::string id);
  // The next round after the interval, or sooner after a failed send.
  void schedule_tick(bool soon = false);
  void schedule_expiry();
  void expire();
  void update_links(const std::vector<LinkInterface>& use,
                    std::map<std::string, std::string>& problems);
  bool open_link(const LinkInterface& iface, std::string* why);
  // Sends this node's announcement on `link`; false if it did not go out.
  bool announce(LinkState& link);
  void set_problems(std::map<std::string, std::string> next);
  void publish_changed();
  // Arms the expiry timer for `at` unless it fires earlier already.
  void arm_expiry(Clock::time_point at);
  void note_bad(const std::string& interface, const std::string& from, const std::string& reason);
  Json::Value peers_json() const;

  PluginContext& ctx_;
  Lister lister_;
  Settings settings_;
  PeerTable peers_;
  std::string node_id_;
  bool started_ = false, stopped_ = false;
  bool ticked_ = false;      // a round has run
  bool said_hello_ = false;  // the start line is logged

  std::map<std::string, LinkState> links_;       // by interface name
  std::map<std::string, std::string> problems_;  // interface -> why it is not used
  std::string list_error_;                       // why interfaces could not be listed

  boost::asio::steady_timer tick_timer_, expiry_timer_, id_timer_;
  std::optional<Clock::time_point> expiry_armed_;  // when expiry_timer_ fires
  LogLimit node_lines_{8, std::chrono::seconds(60)};
  std::mt19937 random_;

  std::uint64_t sent_ = 0, received_ = 0, bad_ = 0, send_errors_ = 0;
  // Bad datagrams are logged at most once a minute; the rest are counted.
  std::optional<Clock::time_point> last_bad_log_;
  std::uint64_t bad_not_logged_ = 0;
};

}  // namespace mnigs::l2
