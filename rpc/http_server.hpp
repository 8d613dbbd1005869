// The daemon's HTTP front end (Boost.Beast): POST /jsonrpc for JSON-RPC, the
// web UI's logins, and GET for the web UI's static files, on every
// configured listen address.
// Enforces header and body size limits, read/idle timeouts, keep-alive and a
// cap on concurrent connections. Each connection runs on its own strand.
#pragma once

#include "config/config.hpp"
#include "rpc/dispatcher.hpp"
#include "rpc/web_auth.hpp"
#include "util/net.hpp"

#include <mnigs/log.hpp>
#include <mnigs/upgrade.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace mnigs {

class HttpServer {
 public:
  // Decides the token part of a caller from the Authorization header's
  // bearer value ("" when absent).
  using TokenCheck = std::function<Caller::Token(std::string_view bearer)>;

  static constexpr std::size_t header_limit = 8 * 1024;

  // With `auth`, the web UI's logins are served: POST /login, POST /logout
  // and GET /session (rpc/README.md); without, those paths are not found.
  HttpServer(boost::asio::io_context& io, const ConfigHolder& config, Dispatcher& dispatcher,
             TokenCheck check_token, Logger& log, WebAuth* auth = nullptr);
  ~HttpServer();

  // Binds and starts accepting. Throws std::runtime_error naming the address
  // when a bind fails. Call before the io_context runs or from it.
  void listen(const boost::asio::ip::tcp::endpoint& endpoint);
  // Closes the listeners and every open connection.
  void stop();

  std::vector<std::string> listening() const;  // "127.0.0.1:65533", "[::]:65533"

  // Requests with an Upgrade header for exactly `path` go to `handler`
  // (called on the connection's strand) with their socket, instead of being
  // answered here. Throws std::invalid_argument when the path does not start
  // with '/', is /jsonrpc, or is taken. Thread-safe.
  void add_upgrade(const std::string& path, UpgradeHandler handler);
  std::size_t connections() const { return *connections_; }
  // Connections from the mesh closed to make room, having sent no complete
  // request for a second or more while every place was taken.
  std::uint64_t evicted() const { return evicted_; }

 private:
  class Listener;
  class Session;

  boost::asio::io_context& io_;
  const ConfigHolder& config_;
  Dispatcher& dispatcher_;
  TokenCheck check_token_;
  Logger& log_;
  WebAuth* auth_;
  std::vector<std::shared_ptr<Listener>> listeners_;
  std::shared_ptr<std::atomic<std::size_t>> connections_ =
      std::make_shared<std::atomic<std::size_t>>(0);
  // Open connections by source (address, or IPv6 /64).
  struct Sources {
    std::mutex mutex;
    std::unordered_map<std::string, std::size_t> count;
  };
  std::shared_ptr<Sources> sources_ = std::make_shared<Sources>();
  // Refused connections still being answered (not in connections_).
  std::shared_ptr<std::atomic<std::size_t>> refusing_ =
      std::make_shared<std::atomic<std::size_t>>(0);
  std::atomic<std::uint64_t> evicted_{0};
  std::shared_ptr<const UpgradeHandler> find_upgrade(std::string_view path) const;

  mutable std::mutex upgrades_mutex_;
  std::map<std::string, std::shared_ptr<const UpgradeHandler>, std::less<>> upgrades_;
  std::shared_ptr<std::mutex> sessions_mutex_ = std::make_shared<std::mutex>();
  std::shared_ptr<std::vector<std::weak_ptr<Session>>> sessions_ =
      std::make_shared<std::vector<std::weak_ptr<Session>>>();
};

}  // namespace mnigs
