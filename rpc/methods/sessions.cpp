// The session protocol between nodes (mesh-facing) and its control (admin).
// The managers do the work; these are the names users and other nodes call.
#include "gateway/sessions.hpp"
#include "gateway/uplink.hpp"
#include "probe/echo_service.hpp"
#include "rpc/methods/methods.hpp"
#include "subscriber/connection.hpp"
#include "subscriber/history.hpp"
#include "subscriber/lan.hpp"

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
  registry.add("releaseSession", Access::admin,
               [&core](const Json::Value& params, const CallInfo&, Responder reply) {
                 core.sessions.end_by_operator(params, std::move(reply));
               });
  // The last 15 minutes of the subscriber's connection, for charts.
  registry.add("connectionHistory", Access::admin,
               [&core](const Json::Value& params, const CallInfo&, Responder reply) {
                 if (!no_params(params))
                   return reply.error(rpc_error::invalid_params,
                                      "connectionHistory takes no params");
                 if (!core.history)
                   return reply.error(rpc_error::unavailable, "no history is kept here");
                 core.history->get([reply](Json::Value r) { reply.result(std::move(r)); });
               });
  // Vouchers of this gateway (gateway/vouchers.hpp).
  registry.add("createVouchers", Access::admin,
               [&core](const Json::Value& params, const CallInfo&, Responder reply) {
                 core.sessions.create_vouchers(params, std::move(reply));
               });
  registry.add("listVouchers", Access::admin,
               [&core](const Json::Value& params, const CallInfo&, Responder reply) {
                 core.sessions.list_vouchers(params, std::move(reply));
               });
  registry.add("revokeVoucher", Access::admin,
               [&core](const Json::Value& params, const CallInfo&, Responder reply) {
                 core.sessions.revoke_voucher(params, std::move(reply));
               });
  registry.add("connect", Access::admin,
               [&core](const Json::Value& params, const CallInfo&, Responder reply) {
                 core.connection.connect(params, std::move(reply));
               });
  registry.add("disconnect", Access::admin,
               [&core](const Json::Value&, const CallInfo&, Responder reply) {
                 core.connection.disconnect(std::move(reply));
               });
  registry.add("testGateway", Access::admin,
               [&core](const Json::Value& params, const CallInfo&, Responder reply) {
                 core.connection.test_gateway(params, std::move(reply));
               });
  // Auto mode on or off, kept in the config file (subscriber.auto); on also
  // lifts the pin of a manual connect.
  registry.add("setAuto", Access::admin,
               [&core](const Json::Value& params, const CallInfo&, Responder reply) {
                 if (!params.isObject() || params.size() != 1 || !params["enabled"].isBool())
                   return reply.error(rpc_error::invalid_params,
                                      "setAuto needs {\"enabled\": true} or {\"enabled\": false}");
                 const bool on = params["enabled"].asBool();
                 Json::Value change(Json::objectValue);
                 change["subscriber.auto"] = on;
                 set_config(core, change, Responder([&core, reply, on](bool ok, Json::Value r) {
                              if (!ok)
                                return reply.error(r["code"].asInt(), r["message"].asString(),
                                                   r["data"]);
                              core.connection.auto_changed(on);
                              Json::Value out(Json::objectValue);
                              out["auto"] = on;
                              reply.result(out);
                            }));
               });
  // Both sides at once: a node can be a gateway and a subscriber.
  registry.add(
      "listSessions", Access::admin, [&core](const Json::Value&, const CallInfo&, Responder reply) {
        core.sessions.list([&core, reply](Json::Value gateway) {
          core.connection.describe([&core, reply, gateway](Json::Value subscriber) {
            core.echo.status([&core, reply, gateway, subscriber](Json::Value echo) {
              core.uplink.status([&core, reply, gateway, subscriber, echo](Json::Value up) {
                core.lan.status([reply, gateway, subscriber, echo, up](Json::Value lan) {
                  Json::Value r(Json::objectValue);
                  r["gateway"] = gateway;
                  r["subscriber"] = subscriber;
                  r["subscriber"]["lan"] = lan;
                  r["probeEcho"] = echo;
                  r["uplink"] = up;
                  reply.result(r);
                });
              });
            });
          });
        });
      });
}

}  // namespace mnigs
