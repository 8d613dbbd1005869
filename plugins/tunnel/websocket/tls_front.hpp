// The gateway's wss port (websocket.tlsPort): it accepts TCP connections,
// runs the TLS handshake, reads the upgrade request through TLS, and hands
// the request, its socket (request.fd) and the TLS session to the plugin, as
// the daemon's HTTP server hands over plain ones on the RPC port. The plugin
// answers through the session (send_all below): a refusal, or the 101
// before a Link takes the connection.
//
// What a stranger can make it hold is bounded: at most kMaxPending
// connections in their handshake or request at once, kMaxPendingPerSource
// of them from one address (more are closed at once and counted),
// kRequestDeadline for both, 8 KiB of request head. The handshakes' key
// exchanges run on the data plane's thread: a stranger that keeps opening
// connections costs the tunnels some CPU, at most kMaxPending at a time.
// Failures (plain HTTP on this port, a client that does not trust the
// certificate, garbage) are counted and logged at most once per 10 s.
//
// Threading: everything runs on the data plane's thread, the callback too.
#pragma once

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mnigs/upgrade.hpp>
#include <string>

#include "log_limit.hpp"
#include "tls.hpp"

namespace mnigs {
class Logger;
}

namespace mnigs::websocket {

class TlsFront : public std::enable_shared_from_this<TlsFront> {
 public:
  static constexpr unsigned kMaxPending = 64;
  static constexpr unsigned kMaxPendingPerSource = 4;
  static constexpr std::chrono::seconds kRequestDeadline{10};

  // One connection in its handshake or request.
  struct Conn {
    explicit Conn(boost::asio::ip::tcp::socket s) : socket(std::move(s)) {}
    boost::asio::ip::tcp::socket socket;
    std::shared_ptr<tls::Session> session;
  };
  struct Counters {
    std::atomic<std::uint64_t> accepted{0};
    std::atomic<std::uint64_t> handshakes_failed{0};  // not TLS, wrong key, no cipher in common
    std::atomic<std::uint64_t> busy{0};               // closed at once: kMaxPending reached
    std::atomic<std::uint64_t> bad_requests{0};       // no HTTP request head within bounds
    std::atomic<std::uint64_t> timed_out{0};          // kRequestDeadline passed
  };
  // The request with its socket (request.fd, non-blocking, now the
  // callee's to close) and the connection's TLS session.
  using OnRequest =
      std::function<void(HttpUpgrade request, std::shared_ptr<tls::Session> session)>;

  TlsFront(boost::asio::io_context& io, std::shared_ptr<tls::Context> context, Logger& log);

  // Listens on `port` of every address: one IPv6 socket that takes IPv4
  // too, or IPv4 alone where the host has no IPv6. Throws
  // std::system_error when it cannot listen.
  void start(std::uint16_t port, OnRequest on_request);
  // Stops accepting; connections already handed on are the plugin's.
  void stop();

  const Counters& counters() const { return counters_; }
  // The port it listens on (the one chosen, when start() was given 0).
  std::uint16_t port() const;

 private:
  void do_accept();
  void on_connection(boost::asio::ip::tcp::socket socket);
  void read_request(std::shared_ptr<Conn> conn, std::shared_ptr<boost::asio::steady_timer> timer,
                    std::shared_ptr<bool> expired, const std::string& source);
  // One connection from `source` is no longer pending: handed on, or dropped.
  void done_pending(const std::shared_ptr<boost::asio::steady_timer>& timer,
                    const std::string& source);
  void note(const std::string& line);

  boost::asio::io_context& io_;
  std::shared_ptr<tls::Context> context_;
  Logger& log_;
  boost::asio::ip::tcp::acceptor acceptor_;
  OnRequest on_request_;
  boost::asio::steady_timer retry_;  // accepting again after a failure
  unsigned pending_ = 0;
  std::map<std::string, unsigned> pending_from_;  // by source address
  Counters counters_;
  LogLimit log_limit_{1, std::chrono::seconds(10)};
  bool stopped_ = false;
};

// Writes all of `text` through `session` on its non-blocking socket `fd`,
// waiting up to `polls` times 10 ms in all for room (an HTTP answer is
// small, and one write normally takes it); false when it could not. Any
// thread that owns the session now.
bool send_all(tls::Session& session, int fd, const std::string& text, int polls = 100);

}  // namespace mnigs::websocket
