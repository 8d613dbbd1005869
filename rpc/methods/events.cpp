// events: what happened (scans, switches, config changes, plugin failures),
// long-polled by the web UI.
#include "events/event_log.hpp"
#include "rpc/methods/methods.hpp"

namespace mnigs {

void register_event_methods(MethodRegistry& registry, CoreServices& core) {
  registry.add(
      "events", Access::admin,
      [&core](const Json::Value& params, const CallInfo&, Responder reply) {
        const char* usage =
            "events takes {\"after\": the last seq seen (0: from the oldest kept), \"wait\": "
            "seconds to wait for one, 0 to 25}";
        if (!params.isNull() && !params.isObject())
          return reply.error(rpc_error::invalid_params, usage);
        std::uint64_t after = 0;
        std::int64_t wait = 0;
        if (params.isObject()) {
          for (const auto& key : params.getMemberNames())
            if (key != "after" && key != "wait")
              return reply.error(rpc_error::invalid_params,
                                 "events: unknown param \"" + key.substr(0, 64) + "\"; " + usage);
          const Json::Value& a = params["after"];
          if (!a.isNull()) {
            if (!a.isIntegral() || !a.isUInt64())
              return reply.error(
                  rpc_error::invalid_params,
                  std::string("events: \"after\" must be a whole number >= 0; ") + usage);
            after = a.asUInt64();
          }
          const Json::Value& w = params["wait"];
          if (!w.isNull()) {
            if (!w.isIntegral() || !w.isInt64() || w.asInt64() < 0 ||
                w.asInt64() > EventLog::kMaxWait.count())
              return reply.error(rpc_error::invalid_params,
                                 std::string("events: \"wait\" must be 0 to 25; ") + usage);
            wait = w.asInt64();
          }
        }
        if (!core.event_log)
          return reply.error(rpc_error::internal_error, "events are not recorded here");
        core.event_log->query(after, std::chrono::seconds(wait),
                              [reply](Json::Value r) { reply.result(std::move(r)); });
      });
}

}  // namespace mnigs
