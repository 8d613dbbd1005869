#include "rpc/dispatcher.hpp"

#include "util/json_limits.hpp"

#include <json/writer.h>

#include <memory>
#include <mutex>

namespace mnigs {
namespace {

Json::Value error_object(int code, std::string message) {
  Json::Value e(Json::objectValue);
  e["code"] = code;
  e["message"] = std::move(message);
  return e;
}

Json::Value response(const Json::Value& id, bool ok, Json::Value payload) {
  Json::Value r(Json::objectValue);
  r["jsonrpc"] = "2.0";
  r[ok ? "result" : "error"] = std::move(payload);
  r["id"] = id;
  return r;
}

std::string serialize(const Json::Value& v) {
  Json::StreamWriterBuilder b;
  b["indentation"] = "";
  b["emitUTF8"] = true;
  return Json::writeString(b, v);
}

bool valid_id(const Json::Value& id) { return id.isNull() || id.isString() || id.isNumeric(); }

}  // namespace

std::string Dispatcher::error_body(int code, const std::string& message) {
  return serialize(response(Json::Value(), false, error_object(code, message)));
}

void Dispatcher::handle(std::string_view body, const Caller& caller,
                        std::function<void(std::optional<std::string>)> done) {
  // The body is already within daemon.rpcMaxBodyBytes. Depth and values
  // bound what parsing it costs: a batch of the largest calls holds a few
  // thousand values.
  const JsonLimits limits{.max_bytes = body.size(), .max_depth = max_depth,
                          .max_values = max_values, .what = "the body"};
  std::string why;
  auto parsed = parse_json_within(body, limits, &why);
  if (!parsed) {
    counters_.errors++;
    return done(serialize(response(Json::Value(), false,
                                   error_object(rpc_error::parse_error, "parse error: " + why))));
  }
  Json::Value root = std::move(*parsed);
  if (!root.isArray()) {
    return call(root, caller, [done](Json::Value r) {
      if (r.isNull()) return done(std::nullopt);
      done(serialize(r));
    });
  }
  if (root.empty()) {
    counters_.errors++;
    return done(serialize(response(
        Json::Value(), false,
        error_object(rpc_error::invalid_request, "invalid request: empty batch"))));
  }
  if (root.size() > max_batch) {
    counters_.errors++;
    return done(serialize(response(
        Json::Value(), false,
        error_object(rpc_error::invalid_request,
                     "invalid request: a batch may hold at most " + std::to_string(max_batch) +
                         " calls (got " + std::to_string(root.size()) + ")"))));
  }
  // Collect the answers in request order; notifications leave no entry.
  struct Batch {
    std::mutex mutex;
    std::vector<Json::Value> answers;
    std::size_t remaining;
    std::function<void(std::optional<std::string>)> done;
  };
  auto batch = std::make_shared<Batch>();
  batch->answers.resize(root.size());
  batch->remaining = root.size();
  batch->done = std::move(done);
  for (Json::ArrayIndex i = 0; i < root.size(); ++i) {
    call(root[i], caller, [batch, i](Json::Value r) {
      std::unique_lock lock(batch->mutex);
      batch->answers[i] = std::move(r);
      if (--batch->remaining != 0) return;
      Json::Value out(Json::arrayValue);
      for (auto& a : batch->answers)
        if (!a.isNull()) out.append(std::move(a));
      lock.unlock();
      if (out.empty()) return batch->done(std::nullopt);
      batch->done(serialize(out));
    });
  }
}

void Dispatcher::call(const Json::Value& request, const Caller& caller,
                      std::function<void(Json::Value)> reply) {
  counters_.calls++;
  auto invalid = [&](const Json::Value& id, std::string why) {
    counters_.errors++;
    reply(response(id, false, error_object(rpc_error::invalid_request, "invalid request: " + why)));
  };
  if (!request.isObject()) return invalid(Json::Value(), "a call must be a JSON object");
  const Json::Value id = request.isMember("id") && valid_id(request["id"]) ? request["id"]
                                                                           : Json::Value();
  if (request.isMember("id") && !valid_id(request["id"]))
    return invalid(Json::Value(), "\"id\" must be a string, a number or null");
  if (!request.isMember("jsonrpc") || request["jsonrpc"] != "2.0")
    return invalid(id, "\"jsonrpc\" must be exactly \"2.0\"");
  if (!request.isMember("method") || !request["method"].isString())
    return invalid(id, "\"method\" must be a string");
  const Json::Value& params = request["params"];
  if (request.isMember("params") && !params.isObject() && !params.isArray())
    return invalid(id, "\"params\" must be an object or an array when present");

  const bool notification = !request.isMember("id");
  const std::string method = request["method"].asString();
  auto answer = [this, id, notification, reply](bool ok, Json::Value payload) {
    if (!ok) counters_.errors++;
    if (notification) return reply(Json::Value());
    reply(response(id, ok, std::move(payload)));
  };

  auto entry = registry_.find(method);
  if (!entry)
    return answer(false, error_object(rpc_error::method_not_found,
                                      "method not found: " + method));
  if (entry->access == Access::admin && !caller.admin()) {
    counters_.refused++;
    std::string why =
        caller.cross_origin ? "a web page from another origin may not call admin methods"
        : caller.token == Caller::Token::invalid
            ? "the admin token sent is not valid (Authorization: Bearer <token>)"
        : caller.login == Caller::Login::expired
            ? "the web UI login has ended (unused too long, too old, the password changed, "
              "or mnigsd restarted); log in again"
        : caller.login == Caller::Login::csrf
            ? std::string("the call lacks its web UI login's CSRF header (") +
                  "X-Mnigs-CSRF, from GET /session)"
            : "the caller " + caller.address.to_string() +
                  " is not in daemon.authorizedNetworks, sent no admin token "
                  "(Authorization: Bearer <token>) and has no web UI login (POST /login)";
    Json::Value error = error_object(rpc_error::unauthorized,
                                     "unauthorized: " + method + " is an admin method and " + why);
    // For the web UI: whether a login would help, and why it is needed.
    if (!caller.cross_origin && caller.token != Caller::Token::invalid)
      error["data"]["login"] = caller.login == Caller::Login::expired ? "expired"
                               : caller.login == Caller::Login::csrf  ? "csrf"
                                                                      : "required";
    return answer(false, std::move(error));
  }
  CallInfo info{caller.address.to_string(), caller.local.to_string(), caller.admin(),
                caller.cross_origin || caller.page_by_name};
  Responder responder([answer](bool ok, Json::Value payload) { answer(ok, std::move(payload)); });
  try {
    entry->handler(params, info, responder);
  } catch (const std::exception& e) {
    responder.error(rpc_error::internal_error, method + " failed: " + e.what());
  }
}

}  // namespace mnigs
