// startScan, scanStatus, listNodes and listGateways: the scanner's admin
// face; dhtStatus: the DHT node's.
#include "rpc/methods/methods.hpp"
#include "offers/offers.hpp"
#include "scanner/scanner.hpp"

namespace mnigs {

void register_scan_methods(MethodRegistry& registry, CoreServices& core) {
  registry.add("startScan", Access::admin,
               [&core](const Json::Value& params, const CallInfo&, Responder reply) {
                 if (!no_params(params))
                   return reply.error(rpc_error::invalid_params, "startScan takes no params");
                 core.scanner.start_scan([reply](Json::Value r) { reply.result(std::move(r)); });
               });
  registry.add("scanStatus", Access::admin,
               [&core](const Json::Value& params, const CallInfo&, Responder reply) {
                 if (!no_params(params))
                   return reply.error(rpc_error::invalid_params, "scanStatus takes no params");
                 core.scanner.status([reply](Json::Value r) { reply.result(std::move(r)); });
               });
  for (bool gateways : {false, true}) {
    const std::string name = gateways ? "listGateways" : "listNodes";
    registry.add(name, Access::admin,
                 [&core, gateways, name](const Json::Value& params, const CallInfo&,
                                         Responder reply) {
                   if (!no_params(params))
                     return reply.error(rpc_error::invalid_params, name + " takes no params");
                   core.scanner.list(
                       gateways, [reply](Json::Value r) { reply.result(std::move(r)); },
                       [reply](std::string error) {
                         reply.error(rpc_error::failed, "reading the node list failed: " + error);
                       });
                 });
  }
}

void register_dht_methods(MethodRegistry& registry, CoreServices& core) {
  registry.add("dhtStatus", Access::admin,
               [&core](const Json::Value& params, const CallInfo&, Responder reply) {
                 if (!no_params(params))
                   return reply.error(rpc_error::invalid_params, "dhtStatus takes no params");
                 core.offers.status([reply](Json::Value r) { reply.result(std::move(r)); });
               });
}

}  // namespace mnigs
