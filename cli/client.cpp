#include "client.hpp"

#include "peer/rpc_client.hpp"
#include "util/net.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <chrono>
#include <cstdint>
#include <limits>
#include <vector>

namespace mnigs::cli {

Client::Client(std::string host, int port, std::string token, int timeout_seconds)
    : host_(std::move(host)), port_(port), token_(std::move(token)), timeout_(timeout_seconds) {}

std::string Client::address() const {
  bool v6 = host_.find(':') != std::string::npos;
  return (v6 ? "[" + host_ + "]" : host_) + ":" + std::to_string(port_);
}

CallResult Client::call(const std::string& method, const Json::Value& params) {
  namespace net = boost::asio;
  CallResult out;
  out.status = CallStatus::not_running;
  out.message = "no mnigsd answers on " + address();

  net::io_context io;
  // An IP literal is called as it is; a name (--rpc localhost) is resolved,
  // IPv4 and IPv6 alike, and its addresses are tried in the resolver's order
  // until one takes the connection. A name that does not resolve is a
  // daemon that does not answer.
  std::vector<std::string> addresses;
  if (parse_address(host_)) {
    addresses.push_back(host_);
  } else {
    net::ip::tcp::resolver resolver(io);
    boost::system::error_code ec;
    // No AI_ADDRCONFIG: in a namespace with only loopback it would hide
    // localhost's addresses.
    auto found = resolver.resolve(host_, std::to_string(port_),
                                  net::ip::tcp::resolver::flags(), ec);
    if (!ec)
      for (const auto& entry : found) addresses.push_back(entry.endpoint().address().to_string());
  }

  RpcCallOptions options;
  options.host_field = address();  // the name and port the user gave, as browsers send them
  options.bearer_token = token_;
  options.user_agent = "mnigs-cli/" MNIGS_VERSION;
  // The daemon is this user's own (or one --rpc names): its listings may be
  // far larger than the replies the daemon takes from strangers, but a
  // reply is still bounded (64 MiB; --rpc may name any server).
  options.max_reply_bytes = 64 << 20;
  options.max_reply_depth = 64;
  options.max_reply_values = 4 << 20;
  for (const auto& a : addresses) {
    RpcReply reply;
    call_rpc(io.get_executor(), a, static_cast<std::uint16_t>(port_), method, params,
             std::chrono::seconds(timeout_), options, [&](RpcReply r) { reply = std::move(r); });
    io.restart();
    io.run();
    if (!reply.connected) continue;  // nothing listens on this address: the next one
    CallResult r;
    switch (reply.kind) {
      case RpcReply::Kind::result:
        r.status = CallStatus::ok;
        r.result = std::move(reply.result);
        break;
      case RpcReply::Kind::error:
        r.status = CallStatus::rpc_error;
        r.error = Json::Value(Json::objectValue);
        r.error["code"] = reply.code;
        r.error["message"] = reply.message;
        if (!reply.data.isNull()) r.error["data"] = std::move(reply.data);
        break;
      case RpcReply::Kind::transport:
        r.status = CallStatus::transport_error;
        r.message = std::move(reply.message);
        break;
    }
    return r;
  }
  return out;
}

}  // namespace mnigs::cli
