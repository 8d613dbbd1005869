// JSON-RPC 2.0 calls to mnigsd (POST /jsonrpc), made from inside a network
// namespace as a process there would make them.
#pragma once

#include <json/json.h>

#include <chrono>
#include <stdexcept>
#include <string>

namespace mnigs::test {

using namespace std::chrono_literals;

// Thrown when no JSON-RPC answer came back: connection refused or timed out,
// or an answer that is not a JSON object.
class RpcError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Calls `method` on host:port (IPv4 or IPv6 literal) from inside namespace
// `ns` ("" = the test's own namespace). Sends "Authorization: Bearer TOKEN"
// when a token is given. Returns the whole response object, so that tests
// can look at "result" as well as "error". `timeout` bounds connecting and
// reading each.
Json::Value rpc(const std::string& ns, const std::string& host, int port, const std::string& method,
                const Json::Value& params = Json::Value(Json::objectValue),
                const std::string& token = "", std::chrono::milliseconds timeout = 5s);

// True if the response carries a "result" and no "error".
bool rpc_succeeded(const Json::Value& response);

// error.code of a response, or 0 when it has no error.
int rpc_error_code(const Json::Value& response);

// Compact one-line JSON, for assertion messages.
std::string to_json(const Json::Value& value);

// JSON-RPC error code mnigsd returns to callers who may not use an admin
// method (not in daemon.authorizedNetworks and no valid token).
inline constexpr int rpc_unauthorized = -32001;

}  // namespace mnigs::test
