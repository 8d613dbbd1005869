// The core's JSON-RPC methods, grouped by domain. Each register_* function
// adds its group to the registry; handlers reach the daemon only through
// CoreServices.
#pragma once

#include "config/config_edit.hpp"
#include "plugin_host/host.hpp"
#include "rpc/dispatcher.hpp"
#include "rpc/registry.hpp"

#include <chrono>
#include <functional>
#include <mutex>
#include <set>
#include <string>

namespace mnigs {

class HttpServer;
class Store;
class SessionManager;
class ConnectionManager;
class Scanner;
class OfferService;

// The running config plus what is needed to change it.
struct ConfigRuntime {
  ConfigHolder holder;
  Schema schema;
  std::mutex write_mutex;                   // one setConfig at a time
  std::set<std::string> restart_pending;    // keys written to the file, not yet in effect
  // Called with the live changes after a new snapshot is in place.
  std::function<void(const std::vector<ConfigChange>&)> on_live_change;

  explicit ConfigRuntime(std::shared_ptr<const Config> initial) : holder(std::move(initial)) {}
};

struct CoreServices {
  ConfigRuntime& config;
  PluginHost& plugins;
  const Dispatcher& dispatcher;
  const HttpServer& http;
  const Store& store;
  SessionManager& sessions;
  ConnectionManager& connection;
  Scanner& scanner;
  OfferService& offers;
  std::chrono::steady_clock::time_point started;
  std::string node_id;  // nodeInfo's id: this node's stable identity
};

// nodeInfo (mesh), status, listPlugins (admin).
void register_node_methods(MethodRegistry& registry, CoreServices& core);
// getConfig, setConfig (admin).
void register_config_methods(MethodRegistry& registry, CoreServices& core);
// requestConnection, renewConnection, releaseConnection (mesh); connect,
// disconnect, listSessions (admin).
void register_session_methods(MethodRegistry& registry, CoreServices& core);

// startScan, scanStatus, listNodes, listGateways (admin).
void register_scan_methods(MethodRegistry& registry, CoreServices& core);

// dhtStatus (admin).
void register_dht_methods(MethodRegistry& registry, CoreServices& core);

// True when a call carries no params (absent, {} or []).
bool no_params(const Json::Value& params);

// The name this node shows: main.name, or the host name when that is empty.
std::string node_name(const Config& config);

}  // namespace mnigs
