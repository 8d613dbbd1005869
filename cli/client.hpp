// The CLI's JSON-RPC client: one call per request over HTTP to mnigsd, on
// the daemon's own client (core/peer/rpc_client.hpp), run to completion.
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
  // `host` is an IP literal or a name (resolved on each call, every address
  // tried in turn); `token` may be empty. Each call ends within about
  // `timeout_seconds` per address tried.
  Client(std::string host, int port, std::string token, int timeout_seconds = 10);
  // Blocks until the reply, or the failure, is there.
  CallResult call(const std::string& method, const Json::Value& params = Json::Value());
  std::string address() const;  // "127.0.0.1:65533", "[::1]:65533"

 private:
  std::string host_;
  int port_;
  std::string token_;
  int timeout_;
};

}  // namespace mnigs::cli
