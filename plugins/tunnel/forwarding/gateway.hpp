// Gateway side of the forwarding tunnel: lets current subscribers out of the
// uplink, masqueraded, and (with `restrict`) nobody else.
//
// Kernel state it owns: the nft table `inet mnigs_forwarding` (see
// nft_rules.hpp) and, when they were off, net.ipv4.ip_forward and
// net.ipv6.conf.all.forwarding. A sysctl it turns on is recorded in the
// plugin's store before the write, so a reset after a crash still turns it
// back off.
//
// Threading: used on the plugin's strand only; operations go through the
// shared CommandQueue, so they never interleave with the subscriber side's.
#pragma once

#include "common.hpp"
#include "nft_rules.hpp"
#include "settings.hpp"

#include <mnigs/plugin.hpp>

#include <array>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace mnigs::forwarding {

class Gateway {
 public:
  using OpenDone = std::function<void(std::string error, Json::Value params)>;

  // `settings` is the plugin's; it must outlive this object.
  Gateway(PluginContext& context, CommandQueue& queue, const Settings& settings);
  ~Gateway();

  // Adds the subscriber to its family's set, creating the table when needed
  // (or re-creating it when the uplink changed), and turns forwarding on.
  // params: {"mode": "routed", "gatewayAddress": ..., "uplink": ...}. On an
  // error nothing of this session is left in the kernel. `done` may run
  // before open() returns when the session is refused outright.
  void open(const TunnelSession& session, OpenDone done);
  // Removes the subscriber's element unless another session holds the same
  // address. An element already gone is no error.
  void close(const TunnelSession& session, TunnelPlugin::Done done);
  // Rewrites the table (after `restrict` changed) when it exists.
  void reapply();

  // Calls `ready` with the commands that remove whatever this side may own:
  // the table, and the forwarding sysctls this run or an earlier one turned on.
  void removal_commands(std::function<void(std::vector<Command>)> ready);
  // The same without asking the store, for stop().
  std::vector<Command> removal_commands_now() const;
  // Forgets sessions, table and sysctl state (after the removal commands ran).
  void forget();

  // {"uplink": ..., "tablePresent": ..., "sessions": [...], "forwardingTurnedOn": [...]}
  Json::Value status() const;

 private:
  // What this run knows about a family's forwarding sysctl.
  enum class Knob { unknown, was_on, turned_on };
  struct Held {
    std::string id;
    Address subscriber;
  };
  struct Opening;

  void find_uplink(std::shared_ptr<Opening> op, bool try_v6);
  void install(std::shared_ptr<Opening> op, bool retried);
  void enable_forwarding(std::shared_ptr<Opening> op);
  void undo_and_fail(std::shared_ptr<Opening> op, const std::string& error);
  void opened(std::shared_ptr<Opening> op);

  TableSpec spec(const std::string& uplink, const Address* extra) const;
  // Another held session (not `id`) has this address.
  bool shared(const Address& address, const std::string& id) const;

  PluginContext& context_;
  CommandQueue& queue_;
  const Settings& settings_;
  std::map<std::string, Held> sessions_;  // by session id
  bool table_present_ = false;
  std::string table_uplink_;  // the uplink the table was written for
  std::array<Knob, 2> knobs_{Knob::unknown, Knob::unknown};
};

}  // namespace mnigs::forwarding
