// JSON-RPC method registration as plugins and core modules see it.
#pragma once

#include <json/value.h>

#include <atomic>
#include <functional>
#include <memory>
#include <string>

namespace mnigs {

// Who may call a method. Mesh methods answer anyone who reaches the port;
// admin methods answer callers in daemon.authorizedNetworks or holding the
// admin token.
enum class Access { mesh, admin };

// JSON-RPC 2.0 error codes (the spec's, then mnigs's own in the server range).
namespace rpc_error {
constexpr int parse_error = -32700;
constexpr int invalid_request = -32600;
constexpr int method_not_found = -32601;
constexpr int invalid_params = -32602;
constexpr int internal_error = -32603;
constexpr int unauthorized = -32001;     // admin method, caller not authorized
constexpr int unavailable = -32002;      // the method's owner is failed or stopping
constexpr int failed = -32003;           // the operation was understood and failed
constexpr int not_found = -32004;        // no such session (unknown, expired or released)
constexpr int capacity = -32005;         // gateway.maxConnections reached
constexpr int conflict = -32006;         // not possible in the current state (already connected)
}  // namespace rpc_error

struct CallInfo {
  std::string remote_address;  // IP of the caller, as text
  std::string local_address;   // this node's address the caller reached, as text
  bool admin = false;          // caller passed the admin check
  // A web page from another origin made the call, through a visitor's
  // browser (its Origin names another host than its Host): its site, not the
  // address, chose to call, so it is never admin and must not undo what the
  // address holds without a secret.
  bool cross_origin = false;
};

// Completes one call exactly once. Copies share state; the first result or
// error wins, later ones are ignored. If every copy is destroyed without an
// answer the caller gets an internal error, so a request can never hang.
// Thread-safe.
class Responder {
 public:
  using Sink = std::function<void(bool ok, Json::Value payload)>;

  explicit Responder(Sink sink) : state_(std::make_shared<State>(std::move(sink))) {}

  void result(Json::Value value) const { state_->finish(true, std::move(value)); }
  void error(int code, std::string message, Json::Value data = Json::Value()) const {
    Json::Value e(Json::objectValue);
    e["code"] = code;
    e["message"] = std::move(message);
    if (!data.isNull()) e["data"] = std::move(data);
    state_->finish(false, std::move(e));
  }

 private:
  struct State {
    explicit State(Sink s) : sink(std::move(s)) {}
    ~State() {
      if (!done.exchange(true)) {
        Json::Value e(Json::objectValue);
        e["code"] = rpc_error::internal_error;
        e["message"] = "method finished without an answer";
        sink(false, std::move(e));
      }
    }
    void finish(bool ok, Json::Value payload) {
      if (!done.exchange(true)) sink(ok, std::move(payload));
    }
    Sink sink;
    std::atomic<bool> done{false};
  };
  std::shared_ptr<State> state_;
};

// A method handler. `params` is the request's params (object, array or null).
// It answers through `reply`, now or later, from any thread.
using MethodHandler =
    std::function<void(const Json::Value& params, const CallInfo& caller, Responder reply)>;

}  // namespace mnigs
