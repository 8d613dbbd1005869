// listNodes and listGateways: what scans found, merged with the DHT's offers.
#include "gateways/gateway_list.hpp"
#include "rpc/methods/methods.hpp"

namespace mnigs {

void register_gateway_list_methods(MethodRegistry& registry, CoreServices& core) {
  for (bool gateways : {false, true}) {
    const std::string name = gateways ? "listGateways" : "listNodes";
    registry.add(name, Access::admin,
                 [&core, gateways, name](const Json::Value& params, const CallInfo&,
                                         Responder reply) {
                   if (!no_params(params))
                     return reply.error(rpc_error::invalid_params, name + " takes no params");
                   core.gateways.list(
                       gateways, [reply](Json::Value r) { reply.result(std::move(r)); },
                       [reply](std::string error) {
                         reply.error(rpc_error::failed, "reading the node list failed: " + error);
                       });
                 });
  }
}

}  // namespace mnigs
