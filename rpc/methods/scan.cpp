// startScan and scanStatus: the scanner's admin face.
#include "rpc/methods/methods.hpp"
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
}

}  // namespace mnigs
