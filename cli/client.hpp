// The CLI's JSON-RPC client: one call per request over HTTP to mnigsd.
#pragma once

#include <json/value.h>

#include <string>

namespace mnigs::cli {

enum class CallStatus { ok, rpc_error, not_running, transport_error };

struct CallResult {
  CallStatus status = CallStatus::transport_error;
  Json::Value result;    // when ok
  Json::Value error;     // when rpc_error: {"code", "message", "data"?}
  std::string message;   // when not_running / transport_error
};

class Client {
 public:
  // `host` is an IP literal or name; `token` may be empty.
  Client(std::string host, int port, std::string token, int timeout_seconds = 10);
  CallResult call(const std::string& method, const Json::Value& params = Json::Value());
  std::string address() const;  // "127.0.0.1:65533", "[::1]:65533"

 private:
  std::string host_;
  int port_;
  std::string token_;
  int timeout_;
  int next_id_ = 1;
};

}  // namespace mnigs::cli
