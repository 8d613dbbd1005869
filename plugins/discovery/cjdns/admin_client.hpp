// An asynchronous client of cjdroute's admin interface: one UDP socket
// connected to the admin address, one call at a time, each call a cookie
// request followed by the authenticated request (see admin_protocol.hpp).
//
//   auto client = AdminClient::create(ctx.executor(), target, 2s, on_malformed);
//   client->call("NodeStore_dumpTable", args, [](AdminClient::Reply r) { ... });
//
// Every datagram sent has a deadline; replies are matched by txid, so a late
// answer to an earlier request is ignored. A datagram that is not valid
// bencode is reported to `on_malformed` and skipped.
//
// Threading: all calls and completions on the executor given to create(),
// which must be a strand (or a single-threaded context).
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "bencode.hpp"
#include "settings.hpp"

namespace mnigs::cjdns {

class AdminClient : public std::enable_shared_from_this<AdminClient> {
 public:
  struct Reply {
    enum class Status {
      ok,            // `value` is the reply dictionary
      auth_failed,   // cjdroute refused the password (or the cookie); `error` is its text
      remote_error,  // cjdroute answered {"error": ...}; `error` is its text
      timeout,       // no matching reply within the timeout
      refused,       // nothing listens there (ICMP port unreachable)
      io_error,      // the socket failed; `error` says how
    };
    Status status = Status::ok;
    std::string error;
    bencode::Value value;
  };
  using Done = std::function<void(Reply)>;
  using MalformedHandler = std::function<void(const std::string& why)>;

  static std::shared_ptr<AdminClient> create(boost::asio::any_io_executor executor,
                                             AdminTarget target, std::chrono::milliseconds timeout,
                                             MalformedHandler on_malformed);

  // Calls `function` with `args` (a dict). `done` runs exactly once, later,
  // unless close() is called first. Only one call may be outstanding.
  void call(std::string function, bencode::Value args, Done done);

  // Closes the socket; an outstanding call's `done` is dropped. Idempotent.
  void close();

  const AdminTarget& target() const { return target_; }

 private:
  AdminClient(boost::asio::any_io_executor executor, AdminTarget target,
              std::chrono::milliseconds timeout, MalformedHandler on_malformed);

  enum class Stage { idle, cookie, request };

  bool open(std::string* why);
  void send(std::string datagram);
  void do_receive();
  void on_receive(const boost::system::error_code& ec, std::size_t n);
  void on_datagram(std::string_view data);
  void arm_timer();
  void finish(Reply reply);
  std::string next_txid();

  boost::asio::any_io_executor executor_;
  AdminTarget target_;
  std::chrono::milliseconds timeout_;
  MalformedHandler on_malformed_;
  boost::asio::ip::udp::socket socket_;
  boost::asio::steady_timer timer_;
  std::vector<char> buffer_;
  bool receiving_ = false;
  bool closed_ = false;

  Stage stage_ = Stage::idle;
  std::string txid_;  // of the datagram we wait an answer to
  std::string function_;
  bencode::Value args_;
  Done done_;
  std::uint64_t generation_ = 0;  // bumped per datagram sent, so stale timers do nothing
  std::mt19937_64 random_;
};

}  // namespace mnigs::cjdns
