// The session protocol between nodes (mesh-facing) and its control (admin).
// The managers do the work; these are the names users and other nodes call.
#include "gateway/sessions.hpp"
#include "rpc/methods/methods.hpp"
#include "subscriber/connection.hpp"

#include <memory>
#include <mutex>

namespace mnigs {

void register_session_methods(MethodRegistry& registry, CoreServices& core) {
  registry.add("requestConnection", Access::mesh,
               [&core](const Json::Value& params, const CallInfo& caller, Responder reply) {
                 core.sessions.request(params, caller, std::move(reply));
               });
  registry.add("renewConnection", Access::mesh,
               [&core](const Json::Value& params, const CallInfo& caller, Responder reply) {
                 core.sessions.renew(params, caller, std::move(reply));
               });
  registry.add("releaseConnection", Access::mesh,
               [&core](const Json::Value& params, const CallInfo& caller, Responder reply) {
                 core.sessions.release(params, caller, std::move(reply));
               });
  registry.add("connect", Access::admin,
               [&core](const Json::Value& params, const CallInfo&, Responder reply) {
                 core.connection.connect(params, std::move(reply));
               });
  registry.add("disconnect", Access::admin,
               [&core](const Json::Value&, const CallInfo&, Responder reply) {
                 core.connection.disconnect(std::move(reply));
               });
  // Both sides at once: a node can be a gateway and a subscriber.
  registry.add("listSessions", Access::admin,
               [&core](const Json::Value&, const CallInfo&, Responder reply) {
                 core.sessions.list([&core, reply](Json::Value gateway) {
                   core.connection.describe([reply, gateway](Json::Value subscriber) {
                     Json::Value r(Json::objectValue);
                     r["gateway"] = gateway;
                     r["subscriber"] = subscriber;
                     reply.result(r);
                   });
                 });
               });
}

}  // namespace mnigs
