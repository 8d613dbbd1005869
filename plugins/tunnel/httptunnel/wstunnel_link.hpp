// One WStunnel client's connection (wstuncli, rightscale/wstunnel) as a
// Tunnel: the WebSocket it opened with `GET /_tunnel`, over which each
// request goes as one binary message (its id, 4 lowercase hex digits, then
// the HTTP/1.1 request) and comes back as one (the same id, then the
// HTTP/1.1 response). See wstunnel.hpp for the wire format.
//
// The owner (the front's /_tunnel hook) checks the client's token
// (wstunnel::announced_token) and hands over the connection with the
// upgrade request's head; this class answers the handshake and speaks the
// protocol from then on. It never refuses a token.
//
// Requests stream: a request's bytes go out as fragments of its message as
// the front writes them, so an upload of any size needs no whole-message
// buffer. A WebSocket carries one message at a time, so requests take turns
// in the order they were opened: a slow upload holds back the requests
// behind it (WStunnel's framing allows nothing better). Responses stream
// the same way: each fragment goes to its channel as it arrives.
//
// Bounds: per request, `send_buffer` bytes written and not yet sent;
// `max_in_flight` requests waiting for their answer (has_room()); one read
// buffer of 64 KiB; reading stops while the channel being answered holds
// more than `receive_window` bytes it has not consumed() (so a slow HTTP
// client holds back every answer behind its own, as in WStunnel); a
// message at most 100 MiB (WStunnel's own limit; larger fails the link).
//
// A request given up (abort(), or its channel destroyed) while its message
// is half sent has that message ended with what was sent, so the framing
// stays valid: the client gets a truncated request, fails it, and its
// answer, if any, is dropped as an orphan (an answer whose id no request
// holds). Answers with unknown ids are dropped and counted.
//
// The client pings every third of its timeout; Beast answers with pongs.
// A link on which no frame arrived for `ping_timeout` (while reading) is
// closed with a Close frame. A text message closes it too (as WStunnel
// does). When the link fails, every request not answered whole gets
// on_failed; `unseen` when no byte of it was handed to the socket.
//
// Threading: the data thread only (the io_context the socket runs on);
// counters are atomics, read from anywhere. Events are posted, never run
// inside a call to the link or a channel.
#pragma once

#include "registry.hpp"

#include <mnigs/log.hpp>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/websocket/stream.hpp>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace mnigs::httptunnel {

struct WstunnelLinkOptions {
  // Closed when no frame (ping or other) arrived for this long.
  std::chrono::seconds ping_timeout{30};
  // Requests waiting for their answer at once; has_room() is false beyond.
  // At most 31999, the ids there are.
  std::size_t max_in_flight = 64;
  // Bytes of one request written and not yet sent (write() takes no more).
  std::size_t send_buffer = 64 * 1024;
  // Bytes of an answer delivered and not consumed() before reading stops.
  std::size_t receive_window = 256 * 1024;
  // How long a Close handshake may take before the socket is just closed.
  std::chrono::seconds close_grace{5};
};

struct WstunnelLinkCounters {
  std::atomic<std::uint64_t> requests{0};   // channels opened
  std::atomic<std::uint64_t> responses{0};  // answers delivered whole
  std::atomic<std::uint64_t> orphans{0};    // answers dropped: unknown or bad id
  std::atomic<std::uint64_t> truncated{0};  // requests ended early (given up mid-send)
  std::atomic<std::uint64_t> bytes_in{0};   // message bytes received, ids included
  std::atomic<std::uint64_t> bytes_out{0};  // message bytes sent, ids included
};

class WstunnelLink : public Tunnel, public std::enable_shared_from_this<WstunnelLink> {
 public:
  struct Hooks {
    // Once, after the link closed (why() says why): detach it.
    std::function<void(WstunnelLink&)> on_closed;
    // has_room() became true again: waiting requests may come.
    std::function<void(WstunnelLink&)> on_room;
  };

  // Takes the connected socket whose upgrade request was read. Must be
  // owned by a shared_ptr before start().
  WstunnelLink(boost::asio::ip::tcp::socket socket, WstunnelLinkOptions options, Logger& log,
               Hooks hooks);
  ~WstunnelLink() override;
  WstunnelLink(const WstunnelLink&) = delete;
  WstunnelLink& operator=(const WstunnelLink&) = delete;

  // Answers the upgrade request `head` (101) and starts reading. `pending`
  // is what the client sent after the head; a WebSocket client sends
  // nothing before the answer (RFC 6455 4.1), so bytes there fail the link.
  // Channels may be opened before the handshake is done: they wait.
  void start(boost::beast::http::request_header<> head, std::string pending = {});
  // Closes the link (a Close frame "going away", then the socket); open
  // requests fail with `why`. on_closed follows.
  void close(const std::string& why);

  bool carries_upgrades() const override { return false; }
  bool has_room() const override;
  // "ADDRESS:PORT wstunnel", the client's address.
  std::string describe() const override;
  // A channel for one request (`request.service` must be ""); its message
  // goes out when the ones before it are sent.
  std::unique_ptr<Channel> open(const ChannelRequest& request, Channel::Events events) override;

  const WstunnelLinkCounters& counters() const { return counters_; }
  bool closed() const { return closed_; }
  // Why the link closed; "" while it is open.
  const std::string& why() const { return why_; }
  // Requests waiting for their answer.
  std::size_t in_flight() const { return by_id_.size(); }

 private:
  class Handle;
  struct Request;
  using RequestPtr = std::shared_ptr<Request>;

  void on_accept(boost::system::error_code ec);
  void do_read();
  void on_read(boost::system::error_code ec, std::size_t n);
  void route_message();
  void update_pause();
  void do_write();
  void on_write(boost::system::error_code ec, std::size_t n, const RequestPtr& r, bool fin);
  void arm_silence();
  void on_silence();
  void fail(const std::string& why, bool send_close);
  void shut();

  // Channel calls, through Handle.
  std::size_t write(const RequestPtr& r, std::span<const std::uint8_t> bytes);
  void end(const RequestPtr& r);
  void consumed(const RequestPtr& r, std::size_t n);
  void release(const RequestPtr& r);

  std::uint16_t next_id();
  void forget(const RequestPtr& r);
  void post_failed(const RequestPtr& r, std::string why, bool unseen);
  void post_writable(const RequestPtr& r);
  void post_room();

  boost::beast::websocket::stream<boost::asio::ip::tcp::socket> ws_;
  boost::asio::steady_timer silence_, grace_;
  WstunnelLinkOptions options_;
  Logger& log_;
  Hooks hooks_;
  std::string address_;
  WstunnelLinkCounters counters_;
  std::unique_ptr<boost::beast::http::request<boost::beast::http::empty_body>> upgrade_;

  std::map<std::uint16_t, RequestPtr> by_id_;  // waiting for their answer
  std::deque<RequestPtr> send_queue_;          // messages to send; the first is on the wire
  std::uint16_t next_id_ = 1;
  std::string sending_;  // the fragment being written

  std::vector<std::uint8_t> read_buf_;
  bool in_message_ = false;                // a message is being read
  std::array<std::uint8_t, 4> id_{};       // its id's digits so far
  std::size_t id_size_ = 0;
  RequestPtr target_;                      // whose answer it is (null: dropped)

  std::chrono::steady_clock::time_point last_heard_;
  bool accepted_ = false, reading_ = false, writing_ = false, paused_ = false;
  bool closed_ = false;
  std::string why_;
};

}  // namespace mnigs::httptunnel
