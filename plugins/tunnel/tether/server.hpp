// The laptop's small web server on tether.listen: the page (GET /, GET
// /tether.js) and its WebSocket (GET /tether, upgraded). Anyone on the
// Wi-Fi reaches it, so the WebSocket is taken only
// - from the page this server served: Origin must be http://<Host>, and
//   Host an IP address (a page of another site, or one whose name was made
//   to resolve here, names another origin);
// - with the pairing code, as the subprotocol "mnigs-pair.<code>" beside
//   "mnigs-tether" (a browser cannot set other headers on a WebSocket).
// A request head is at most 8 KiB and must come within 10 s; at most 32
// connections are served at once (more are closed at once).
//
// Threading: the data thread; every member but the constructor and the
// counters is called there.
#pragma once

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "log_limit.hpp"
#include "pairing.hpp"

namespace mnigs {
class Logger;
}

namespace mnigs::tether {

class Server : public std::enable_shared_from_this<Server> {
 public:
  // A paired page's connection, upgraded: the socket (non-blocking), what
  // came after the request, and the page's address.
  using OnPage = std::function<void(boost::asio::ip::tcp::socket socket, std::string pending,
                                    std::string remote)>;
  struct Counters {
    std::atomic<std::uint64_t> requests{0};  // request heads read
    std::atomic<std::uint64_t> paired{0};    // pages taken
    std::atomic<std::uint64_t> refused{0};   // upgrades refused (origin, code, handshake)
    std::atomic<std::uint64_t> busy{0};      // connections closed: too many at once
  };
  static constexpr std::size_t max_connections = 32;

  // Binds `endpoint`; throws std::runtime_error naming it when that fails.
  Server(boost::asio::io_context& io, const boost::asio::ip::tcp::endpoint& endpoint,
         Pairing& pairing, OnPage on_page, Logger& log);
  void start();
  void stop();
  const Counters& counters() const { return counters_; }
  // What it is bound to, "192.168.7.10:6354".
  const std::string& name() const { return name_; }

 private:
  class Connection;
  void do_accept();

  boost::asio::io_context& io_;
  boost::asio::ip::tcp::acceptor acceptor_;
  boost::asio::steady_timer retry_;
  Pairing& pairing_;
  OnPage on_page_;
  Logger& log_;
  std::string name_;
  Counters counters_;
  std::atomic<bool> stopped_{false};
  LogLimit refusal_log_{1, std::chrono::seconds(10)};
  std::shared_ptr<std::atomic<std::size_t>> open_ = std::make_shared<std::atomic<std::size_t>>(0);
};

// "" when a WebSocket upgrade from a page may be taken by its Origin and
// Host headers, else why not.
std::string origin_refusal(const std::string* origin, const std::string* host);

// The pairing code among Sec-WebSocket-Protocol items ("mnigs-pair.<code>"
// beside "mnigs-tether"); "" when there is none or not exactly one.
std::string offered_code(const std::vector<std::pair<std::string, std::string>>& headers);

}  // namespace mnigs::tether
