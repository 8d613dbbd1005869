// dhtStatus: the DHT node's admin face.
#include "dht/service.hpp"
#include "rpc/methods/methods.hpp"

namespace mnigs {

void register_dht_methods(MethodRegistry& registry, CoreServices& core) {
  registry.add("dhtStatus", Access::admin,
               [&core](const Json::Value& params, const CallInfo&, Responder reply) {
                 if (!no_params(params))
                   return reply.error(rpc_error::invalid_params, "dhtStatus takes no params");
                 core.dht.status([reply](Json::Value r) { reply.result(std::move(r)); });
               });
}

}  // namespace mnigs
