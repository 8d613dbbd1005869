#include "peer/rpc_client.hpp"

#include "util/json_limits.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <json/writer.h>

#include <memory>

namespace mnigs {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

class Call : public std::enable_shared_from_this<Call> {
 public:
  Call(net::any_io_executor executor, std::function<void(RpcReply)> done)
      : executor_(executor), stream_(net::make_strand(executor)), done_(std::move(done)) {}

  void run(const std::string& host, std::uint16_t port, const std::string& method,
           Json::Value params, std::chrono::milliseconds timeout, const RpcCallOptions& options) {
    boost::system::error_code ec;
    auto address = net::ip::make_address(host, ec);
    if (ec) return finish(transport("\"" + host + "\" is not an IP address"));
    what_ = method + " on " + (address.is_v6() ? "[" + host + "]" : host) + ":" +
            std::to_string(port);
    Json::Value body(Json::objectValue);
    body["jsonrpc"] = "2.0";
    body["id"] = 1;
    body["method"] = method;
    if (!params.isNull()) body["params"] = std::move(params);
    Json::StreamWriterBuilder w;
    w["indentation"] = "";
    request_ = {http::verb::post, "/jsonrpc", 11};
    if (!options.host_field.empty()) {
      request_.set(http::field::host, options.host_field);
    } else if (address.is_v6()) {
      // RFC 7230: an IPv6 literal in Host is bracketed; a zone id is local
      // to this host and not sent.
      auto v6 = address.to_v6();
      v6.scope_id(0);
      request_.set(http::field::host, "[" + v6.to_string() + "]");
    } else {
      request_.set(http::field::host, address.to_string());
    }
    request_.set(http::field::content_type, "application/json");
    request_.set(http::field::user_agent,
                 options.user_agent.empty() ? "mnigsd/" MNIGS_VERSION : options.user_agent);
    if (!options.bearer_token.empty())
      request_.set(http::field::authorization, "Bearer " + options.bearer_token);
    max_reply_bytes_ = options.max_reply_bytes;
    limits_ = {.max_bytes = static_cast<std::size_t>(
                   std::min<std::uint64_t>(options.max_reply_bytes, SIZE_MAX)),
               .max_depth = options.max_reply_depth,
               .max_values = options.max_reply_values,
               .what = "the reply"};
    request_.body() = Json::writeString(w, body);
    request_.prepare_payload();
    stream_.expires_after(timeout);
    stream_.async_connect(tcp::endpoint(address, port),
                          beast::bind_front_handler(&Call::on_connect, shared_from_this()));
  }

 private:
  static RpcReply transport(std::string message) {
    RpcReply r;
    r.kind = RpcReply::Kind::transport;
    r.message = std::move(message);
    return r;
  }

  void on_connect(beast::error_code ec) {
    if (ec) return finish(transport("calling " + what_ + " failed: " + describe(ec)));
    connected_ = true;
    http::async_write(stream_, request_,
                      beast::bind_front_handler(&Call::on_write, shared_from_this()));
  }
  void on_write(beast::error_code ec, std::size_t) {
    if (ec) return finish(transport("calling " + what_ + " failed: " + describe(ec)));
    parser_.body_limit(max_reply_bytes_);
    // The header on its own first: Boost 1.74's eager parse of a response
    // whose header and body arrive together drops the Content-Length check
    // against body_limit, and string_body then reserves whatever length the
    // peer announced (std::bad_alloc for a huge one).
    http::async_read_header(stream_, buffer_, parser_,
                            beast::bind_front_handler(&Call::on_header, shared_from_this()));
  }
  void on_header(beast::error_code ec, std::size_t) {
    if (ec) return finish(transport("calling " + what_ + " failed: " + describe(ec)));
    http::async_read(stream_, buffer_, parser_,
                     beast::bind_front_handler(&Call::on_read, shared_from_this()));
  }
  void on_read(beast::error_code ec, std::size_t) {
    if (ec) return finish(transport("calling " + what_ + " failed: " + describe(ec)));
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    const std::string& text = parser_.get().body();
    std::string why;
    const auto parsed = parse_json_within(text, limits_, &why);
    if (!parsed || !parsed->isObject())
      return finish(transport(what_ + " answered HTTP " +
                              std::to_string(parser_.get().result_int()) +
                              " without a JSON-RPC response" + (why.empty() ? "" : ": " + why)));
    const Json::Value& v = *parsed;
    RpcReply r;
    const Json::Value& e = v["error"];
    if (e.isObject() && e["code"].isInt() && e["message"].isString()) {
      r.kind = RpcReply::Kind::error;
      r.code = e["code"].asInt();
      r.message = e["message"].asString();
      if (e.isMember("data")) r.data = e["data"];
    } else if (parser_.get().result_int() != 200 || !v.isMember("result")) {
      // A refusal before JSON-RPC (503 busy, 413 ...) or a garbled answer is
      // a transport problem, not the peer's verdict on the call.
      return finish(transport(what_ + " answered HTTP " +
                              std::to_string(parser_.get().result_int()) +
                              " without a usable JSON-RPC response"));
    } else {
      r.kind = RpcReply::Kind::result;
      r.result = v["result"];
    }
    finish(std::move(r));
  }

  static std::string describe(const beast::error_code& ec) {
    if (ec == beast::error::timeout) return "no answer in time";
    return ec.message();
  }

  void finish(RpcReply reply) {
    if (!done_) return;
    reply.connected = connected_;
    net::post(executor_, [done = std::move(done_), reply = std::move(reply)]() mutable {
      done(std::move(reply));
    });
  }

  net::any_io_executor executor_;
  beast::tcp_stream stream_;
  std::function<void(RpcReply)> done_;
  std::string what_;
  bool connected_ = false;
  std::uint64_t max_reply_bytes_ = 0;
  JsonLimits limits_;
  http::request<http::string_body> request_;
  beast::flat_buffer buffer_;
  http::response_parser<http::string_body> parser_;
};

}  // namespace

void call_rpc(net::any_io_executor executor, const std::string& host, std::uint16_t port,
              const std::string& method, Json::Value params, std::chrono::milliseconds timeout,
              std::function<void(RpcReply)> done) {
  call_rpc(executor, host, port, method, std::move(params), timeout, RpcCallOptions(),
           std::move(done));
}

void call_rpc(net::any_io_executor executor, const std::string& host, std::uint16_t port,
              const std::string& method, Json::Value params, std::chrono::milliseconds timeout,
              const RpcCallOptions& options, std::function<void(RpcReply)> done) {
  auto call = std::make_shared<Call>(executor, std::move(done));
  call->run(host, port, method, std::move(params), timeout, options);
}

}  // namespace mnigs
