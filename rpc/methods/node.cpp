// nodeInfo, status and listPlugins.
#include "dht/offer.hpp"
#include "dht/service.hpp"
#include "gateway/sessions.hpp"
#include "gateway/uplink.hpp"
#include "os/clock.hpp"
#include "os/interfaces.hpp"
#include "rpc/http_server.hpp"
#include "rpc/methods/methods.hpp"
#include "store/store.hpp"

#include <unistd.h>

namespace mnigs {

namespace {

Json::Value strings(const std::vector<std::string>& list) {
  Json::Value out(Json::arrayValue);
  for (const auto& s : list) out.append(s);
  return out;
}

}  // namespace

bool no_params(const Json::Value& params) {
  return params.isNull() || (params.isObject() && params.empty()) ||
         (params.isArray() && params.empty());
}

void register_node_methods(MethodRegistry& registry, CoreServices& core) {
  // What any node on the mesh may learn about this one; the scanner's probe.
  registry.add("nodeInfo", Access::mesh,
               [&core](const Json::Value& params, const CallInfo&, Responder reply) {
                 if (!no_params(params))
                   return reply.error(rpc_error::invalid_params, "nodeInfo takes no params");
                 auto config = core.config.holder.get();
                 // A gateway whose uplink is down offers nothing (gateway.uplinkCheck).
                 const bool enabled = config->get_bool("gateway", "enabled");
                 const bool gateway = enabled && core.uplink.up();
                 Json::Value r(Json::objectValue);
                 r["id"] = core.node_id;
                 r["name"] = node_name(*config);
                 r["version"] = MNIGS_VERSION;
                 r["gateway"] = gateway;
                 if (enabled && !gateway) r["uplink"] = false;
                 const auto payments = config->get_list("gateway", "payments");
                 const auto suites = gateway ? core.plugins.offered_suites(payments)
                                             : std::vector<std::string>();
                 r["suites"] = strings(suites);
                 r["ipv6support"] =
                     !config->get_string("daemon", "listenIpv6").empty() && os::has_routable_ipv6();
                 r["rpcport"] = static_cast<int>(config->get_int("daemon", "rpcport"));
                 r["plugins"] = strings(core.plugins.running());
                 // The DHT identity (public key id) and port, so that a
                 // scanner can join the DHT through this node.
                 if (Json::Value dht = core.dht.node_info(); !dht.isNull()) r["dht"] = dht;
                 if (!gateway) return reply.result(r);
                 // A gateway's offer: what each payment method asks, what
                 // its tunnels' ends are pinned by, and how full it is.
                 const auto max = config->get_int("gateway", "maxConnections");
                 core.plugins.payment_terms(payments, [&core, r, suites, max,
                                                       reply](Json::Value terms) mutable {
                   r["payments"] = std::move(terms);
                   core.plugins.tunnel_keys(suites, [&core, r, max, reply](auto keys) mutable {
                     r["tunnelKeys"] = tunnel_keys_to_json(keys);
                     core.plugins.services([&core, r, max, reply](auto services) mutable {
                       r["services"] = services_to_json(services);
                       // Any neighbour may ask, as often as it likes: a count,
                       // not a description of every session.
                       core.sessions.count([r, max, reply](std::size_t held) mutable {
                         Json::Value capacity(Json::objectValue);
                         capacity["maxConnections"] = static_cast<Json::Int64>(max);
                         capacity["sessions"] = static_cast<Json::UInt64>(held);
                         r["capacity"] = capacity;
                         reply.result(r);
                       });
                     });
                   });
                 });
               });

  registry.add("status", Access::admin,
               [&core](const Json::Value& params, const CallInfo&, Responder reply) {
                 if (!no_params(params))
                   return reply.error(rpc_error::invalid_params, "status takes no params");
                 auto config = core.config.holder.get();
                 Json::Value r(Json::objectValue);
                 r["name"] = node_name(*config);
                 r["version"] = MNIGS_VERSION;
                 r["pid"] = static_cast<int>(getpid());
                 r["uptime"] = static_cast<Json::Int64>(
                     std::chrono::duration_cast<std::chrono::seconds>(
                         std::chrono::steady_clock::now() - core.started)
                         .count());
                 // The daemon's clock: the web UI shows times by it, not by
                 // the browser's.
                 r["time"] = static_cast<Json::Int64>(os::real_clock().unix_seconds());
                 r["gateway"] = config->get_bool("gateway", "enabled");
                 r["configFile"] = config->path();
                 r["dataDir"] = config->data_dir();
                 Json::Value db(Json::objectValue);
                 db["file"] = core.store.path();
                 db["schemaVersion"] = core.store.schema_version();
                 r["database"] = db;
                 Json::Value rpc(Json::objectValue);
                 rpc["listening"] = strings(core.http.listening());
                 rpc["connections"] = static_cast<Json::UInt64>(core.http.connections());
                 rpc["calls"] = static_cast<Json::UInt64>(core.dispatcher.counters().calls);
                 rpc["errors"] = static_cast<Json::UInt64>(core.dispatcher.counters().errors);
                 rpc["refused"] = static_cast<Json::UInt64>(core.dispatcher.counters().refused);
                 r["rpc"] = rpc;
                 r["plugins"] = strings(core.plugins.running());
                 r["suites"] = strings(core.plugins.suites());
                 {
                   std::lock_guard lock(core.config.write_mutex);
                   r["restartRequired"] = strings(std::vector<std::string>(
                       core.config.restart_pending.begin(), core.config.restart_pending.end()));
                 }
                 reply.result(r);
               });

  registry.add("listPlugins", Access::admin,
               [&core](const Json::Value& params, const CallInfo&, Responder reply) {
                 if (!no_params(params))
                   return reply.error(rpc_error::invalid_params, "listPlugins takes no params");
                 core.plugins.describe([reply](Json::Value list) {
                   Json::Value r(Json::objectValue);
                   r["plugins"] = std::move(list);
                   reply.result(r);
                 });
               });
}

}  // namespace mnigs
