// mnigsd's end of one openvpn management socket (a unix socket; openvpn is
// started with `--management PATH unix`).
//
// openvpn creates the socket a moment after it starts, so connect() retries
// until a deadline. Commands go one at a time, as openvpn answers them in
// order without naming the command: the next is written once the previous
// one's answer (SUCCESS:, ERROR: or lines up to END) is in. A command that
// gets no answer in time leaves the stream out of step, so its timeout
// ends the connection. Notifications go to the notification handler as they
// come; the end of the connection is reported once.
//
// Threading: every method is called on `executor`, which must be a strand
// (or a single-threaded context); every handler runs there. Handlers hold a
// shared_ptr to the client. After close() no handler is called again.
#pragma once

#include <array>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/system/error_code.hpp>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "commands.hpp"
#include "management.hpp"

namespace mnigs::openvpn {

struct ClientOptions {
  // How long connect() keeps trying, and how long it waits between tries.
  std::chrono::milliseconds connect_timeout{10000};
  std::chrono::milliseconds retry_interval{100};
  // How long a command may wait for its answer once written.
  std::chrono::milliseconds command_timeout{10000};
  // Commands waiting behind the one in flight; more are refused.
  std::size_t max_queued = 64;
};

class ManagementClient : public std::enable_shared_from_this<ManagementClient> {
 public:
  using ConnectHandler = std::function<void(const boost::system::error_code&)>;
  // The answer, or an error: timed_out, invalid_argument (a refused
  // Command), no_buffer_space (queue full), not_connected, or why the
  // connection ended.
  using ReplyHandler = std::function<void(const boost::system::error_code&, Reply)>;
  // Every Message but Reply.
  using NotificationHandler = std::function<void(const Message&)>;
  // Why the connection ended: eof when openvpn closed it, timed_out when a
  // command went unanswered, or the socket's error.
  using EndHandler = std::function<void(const boost::system::error_code&)>;

  static std::shared_ptr<ManagementClient> create(boost::asio::any_io_executor executor,
                                                  std::string path, ClientOptions options = {});

  void on_notification(NotificationHandler handler) { on_notification_ = std::move(handler); }
  void on_end(EndHandler handler) { on_end_ = std::move(handler); }

  // Connects to the socket at `path`, retrying refusals and a missing
  // socket every retry_interval until connect_timeout; then reads. `done`
  // gets success, or the last error (timed_out if every try timed out).
  // Call once.
  void connect(ConnectHandler done);

  // Queues `command`; `done` gets its answer. Commands given before the
  // connection is up wait for it.
  void send(Command command, ReplyHandler done);

  // Closes the socket, cancels the timers and forgets every handler: none
  // is called after this. Idempotent.
  void close();

  bool connected() const { return state_ == Phase::connected; }
  bool closed() const { return state_ == Phase::closed || state_ == Phase::ended; }
  const std::string& path() const { return path_; }
  const ParserCounters& parser_counters() const { return parser_.counters(); }
  // Answers that came with no command waiting for them.
  std::uint64_t unexpected_replies() const { return unexpected_replies_; }

 private:
  enum class Phase { idle, connecting, connected, ended, closed };
  struct Pending {
    Command command;
    ReplyHandler done;
  };

  ManagementClient(boost::asio::any_io_executor executor, std::string path, ClientOptions options);

  void try_connect();
  void on_connect(const boost::system::error_code& ec);
  void do_read();
  void on_read(const boost::system::error_code& ec, std::size_t n);
  void write_next();
  void on_write(const boost::system::error_code& ec);
  void on_connect_deadline();
  void on_command_timeout(std::uint64_t sequence);
  void deliver(Message&& message);
  void fail(const boost::system::error_code& ec);
  void complete(ReplyHandler done, const boost::system::error_code& ec, Reply reply);

  boost::asio::any_io_executor executor_;
  std::string path_;
  ClientOptions options_;
  boost::asio::local::stream_protocol::socket socket_;
  boost::asio::steady_timer retry_timer_;  // the pause between connect tries
  // The connect deadline while connecting, then each command's timeout.
  boost::asio::steady_timer deadline_timer_;
  std::chrono::steady_clock::time_point connect_deadline_;
  boost::system::error_code last_connect_error_;

  Phase state_ = Phase::idle;
  ConnectHandler on_connected_;
  NotificationHandler on_notification_;
  EndHandler on_end_;

  Parser parser_;
  std::array<char, 4096> read_buffer_{};
  std::deque<Pending> queue_;
  std::optional<Pending> in_flight_;  // written (or being written), answer awaited
  std::uint64_t sequence_ = 0;        // of the command in flight, for its timer
  std::uint64_t unexpected_replies_ = 0;
};

}  // namespace mnigs::openvpn
