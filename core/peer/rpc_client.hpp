// The one JSON-RPC client: the daemon's calls to other nodes (a subscriber
// asking a gateway for a session, the scanner probing nodeInfo) and
// mnigs-cli's calls to its daemon. Async on Beast; one connection per call;
// addresses are IP literals (the mesh has no DNS to rely on).
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <json/value.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

namespace mnigs {

struct RpcReply {
  enum class Kind { result, error, transport };
  Kind kind = Kind::transport;
  Json::Value result;   // Kind::result
  int code = 0;         // Kind::error: the JSON-RPC error code
  std::string message;  // Kind::error: the error message; Kind::transport: what failed
  Json::Value data;     // Kind::error: the error's "data"; null when it has none
  // False when the TCP connection was not made (refused, unreachable, no
  // answer in time): nothing listens there, as opposed to a failure after.
  bool connected = false;
  bool ok() const { return kind == Kind::result; }
};

// What a call may add to its request. The daemon's calls need none of it;
// mnigs-cli sends its admin token and the host name it was given.
struct RpcCallOptions {
  std::string host_field;        // the Host header; "" for the address called
  std::string bearer_token;      // sent as "Authorization: Bearer ..." unless ""
  std::string user_agent;        // "" for "mnigsd/<version>"
  // A larger reply, or one nested deeper or holding more values, fails as
  // Kind::transport before it is parsed (util/json_limits.hpp). The daemon's
  // calls to other nodes get answers of a few KiB: nodeInfo,
  // requestConnection, renewConnection.
  std::uint64_t max_reply_bytes = 64 << 10;
  unsigned max_reply_depth = 16;
  std::size_t max_reply_values = 4096;
};

// Calls `method` at http://host:port/jsonrpc. `done` runs on `executor`,
// exactly once, within about `timeout` (one deadline for connecting, sending
// and reading).
void call_rpc(boost::asio::any_io_executor executor, const std::string& host, std::uint16_t port,
              const std::string& method, Json::Value params, std::chrono::milliseconds timeout,
              std::function<void(RpcReply)> done);
void call_rpc(boost::asio::any_io_executor executor, const std::string& host, std::uint16_t port,
              const std::string& method, Json::Value params, std::chrono::milliseconds timeout,
              const RpcCallOptions& options, std::function<void(RpcReply)> done);

}  // namespace mnigs
