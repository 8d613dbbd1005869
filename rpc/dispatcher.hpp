// JSON-RPC 2.0 request handling, independent of the transport: parses one
// request body (a call or a batch), checks access, runs the methods and
// assembles the response. See https://www.jsonrpc.org/specification.
#pragma once

#include "rpc/registry.hpp"

#include <boost/asio/ip/address.hpp>

#include <atomic>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace mnigs {

// Who is calling, as the transport saw it.
struct Caller {
  boost::asio::ip::address address;
  boost::asio::ip::address local;  // our address the caller reached
  bool from_authorized_network = false;
  enum class Token { none, valid, invalid } token = Token::none;
  // A web UI login (rpc/web_auth.hpp) named by the request's cookie: valid
  // only with the login's CSRF header.
  enum class Login { none, valid, expired, csrf } login = Login::none;
  // Sent by a browser for a page from another origin: never admin.
  bool cross_origin = false;
  // Sent by a browser for a page that names this host by a name other than
  // localhost (DNS rebinding may be behind it).
  bool page_by_name = false;
  // A page from another origin never gets admin rights, whatever the address
  // or token: answers to it may be read back by its site (CORS).
  bool admin() const {
    return !cross_origin &&
           (from_authorized_network || token == Token::valid || login == Login::valid);
  }
};

class Dispatcher {
 public:
  static constexpr std::size_t max_batch = 100;
  // A request body nested deeper, or holding more values, is a parse error
  // before jsoncpp sees it (see util/json_limits.hpp).
  static constexpr unsigned max_depth = 64;
  static constexpr std::size_t max_values = 16384;

  explicit Dispatcher(const MethodRegistry& registry) : registry_(registry) {}

  // Handles one request body. `done` receives the response body, or nullopt
  // when nothing must be sent (only notifications). `done` may run on any
  // thread, once.
  void handle(std::string_view body, const Caller& caller,
              std::function<void(std::optional<std::string>)> done);

  struct Counters {
    std::atomic<std::uint64_t> calls{0}, errors{0}, refused{0};
  };
  const Counters& counters() const { return counters_; }

  // The serialized error response for a request that never reached parsing
  // (oversized body and the like).
  static std::string error_body(int code, const std::string& message);

 private:
  // Runs one call object; `reply(response)` gets the response object, or a
  // null Value for a notification.
  void call(const Json::Value& request, const Caller& caller,
            std::function<void(Json::Value)> reply);

  const MethodRegistry& registry_;
  Counters counters_;
};

}  // namespace mnigs
