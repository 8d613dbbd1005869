// The daemon's own JSON-RPC client, for calls to other nodes (a subscriber
// asking a gateway for a session, the scanner probing nodeInfo). Async on
// Beast; one connection per call; addresses are IP literals (the mesh has no
// DNS to rely on).
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
  bool ok() const { return kind == Kind::result; }
};

// Calls `method` at http://host:port/jsonrpc. `done` runs on `executor`,
// exactly once, within about `timeout`.
void call_rpc(boost::asio::any_io_executor executor, const std::string& host, std::uint16_t port,
              const std::string& method, Json::Value params, std::chrono::milliseconds timeout,
              std::function<void(RpcReply)> done);

}  // namespace mnigs
