// The core's JSON-RPC methods, grouped by domain. Each register_* function
// adds its group to the registry; handlers reach the daemon only through
// CoreServices.
#pragma once

#include "config/config_edit.hpp"
#include "config/config_runtime.hpp"
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
class GatewayList;
class DhtService;
class UplinkCheck;
class LanShare;
class EventLog;
class ConnectionHistory;
namespace probe {
class EchoService;
}

struct CoreServices {
  ConfigRuntime& config;
  PluginHost& plugins;
  const Dispatcher& dispatcher;
  const HttpServer& http;
  const Store& store;
  SessionManager& sessions;
  ConnectionManager& connection;
  Scanner& scanner;
  GatewayList& gateways;
  DhtService& dht;
  probe::EchoService& echo;
  UplinkCheck& uplink;
  LanShare& lan;
  std::chrono::steady_clock::time_point started;
  std::string node_id;  // nodeInfo's id: this node's stable identity
  EventLog* event_log = nullptr;  // `events`; absent in tests that need none
  ConnectionHistory* history = nullptr;  // `connectionHistory`, likewise
};

// nodeInfo (mesh), status, listPlugins (admin).
void register_node_methods(MethodRegistry& registry, CoreServices& core);
// getConfig, setConfig, reloadConfig (admin).
void register_config_methods(MethodRegistry& registry, CoreServices& core);
// setConfig's work: writes the file, applies the live keys, answers.
void set_config(CoreServices& core, const Json::Value& params, Responder reply);
// reloadConfig's answer for a reload's outcome: {file, applied,
// restartRequired}, or the errors (nothing changed).
void reply_reload(CoreServices& core, const ReloadOutcome& outcome, Responder reply);
// requestConnection, renewConnection, releaseConnection (mesh); connect,
// disconnect, testGateway, setAuto, listSessions, releaseSession,
// connectionHistory, the voucher methods (admin).
void register_session_methods(MethodRegistry& registry, CoreServices& core);

// startScan, scanStatus (admin).
void register_scan_methods(MethodRegistry& registry, CoreServices& core);
// listNodes, listGateways (admin).
void register_gateway_list_methods(MethodRegistry& registry, CoreServices& core);

// dhtStatus (admin).
void register_dht_methods(MethodRegistry& registry, CoreServices& core);
// events (admin): the bus's last events, long-polled (events/event_log.hpp).
void register_event_methods(MethodRegistry& registry, CoreServices& core);

// True when a call carries no params (absent, {} or []).
bool no_params(const Json::Value& params);

}  // namespace mnigs
