// Subscriber side of the forwarding tunnel: moves this host's default route
// to the gateway by policy routing, leaving the main table alone.
//
// Kernel state it owns, per address family (see routes.hpp):
//   ip rule  priority P    lookup main suppress_prefixlength 0
//   ip rule  priority P+1  lookup T
//   table T  default via NEXTHOP dev DEV [onlink]
// P and T come from forwarding.priority and forwarding.table; both rule
// priorities and the whole of table T are reserved for this plugin.
//
// One routed session per family owns table T at a time; connecting another
// one of the same family moves the default route to the newer gateway, and
// disconnecting the older one then leaves the newer one's routes in place.
//
// Threading: used on the plugin's strand only; operations go through the
// shared CommandQueue.
#pragma once

#include "common.hpp"
#include "settings.hpp"

#include <mnigs/plugin.hpp>

#include <array>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace mnigs::forwarding {

class Subscriber {
 public:
  // `settings` is the plugin's; it must outlive this object.
  Subscriber(PluginContext& context, CommandQueue& queue, const Settings& settings);

  // session.params["routing"]: "default" (also when absent) routes
  // everything but the mesh through session.gateway_address; "none" only
  // records the session. On an error the steps already taken are undone and
  // `done` gets a sentence naming the failed command. `done` may run before
  // connect() returns when nothing needs to be run.
  void connect(const TunnelSession& session, TunnelPlugin::Done done);
  // Deletes the two rules and flushes table T if this session owns them.
  // Rules or routes already gone are no error.
  void disconnect(const TunnelSession& session, TunnelPlugin::Done done);

  // Removes whatever rules sit at P and P+1 (up to `repeat` each) and
  // flushes table T, for both families, without knowing what exists.
  std::vector<Command> removal_commands(unsigned repeat) const;
  // Forgets every session (after the removal commands ran).
  void forget();

  // {"sessions": [{"id", "gateway", "routing", "via", "dev", "onlink", "active"}]}
  Json::Value status() const;

 private:
  struct Link {
    std::string id;
    Address gateway;
    bool routed = false;  // routing "default"
    NextHop hop;
  };
  struct Connecting;

  void add_route(std::shared_ptr<Connecting> op);
  void add_rules(std::shared_ptr<Connecting> op, bool second);
  void undo_and_fail(std::shared_ptr<Connecting> op, const std::string& error);
  void connected(std::shared_ptr<Connecting> op);

  PluginContext& context_;
  CommandQueue& queue_;
  const Settings& settings_;
  std::map<std::string, Link> links_;  // by session id
  std::array<std::string, 2> owner_;   // per family: id of the session table T routes to
};

}  // namespace mnigs::forwarding
