// One WebSocket connection carrying packets, after the handshake: binary
// messages in, binary messages out, pings, pongs and the close handshake,
// keepalive. It moves bytes with as few system calls as it can: it reads the
// socket until it would block and hands every complete message on, and it
// sends everything queued with one writev.
//
// Frames it sends are masked when it is the client (RFC 6455 5.3), with a
// fresh key per frame. Frames it receives: data frames from a client must be
// masked; control frames are taken either way, because vpn-ws clients send
// their keepalive ping unmasked.
//
// When it pings and when it gives the peer up: liveness.hpp. With
// `acks_count` the socket gets TCP_USER_TIMEOUT = `dead_after`, and what the
// peer's TCP acknowledged (TCP_INFO) counts as a sign of life.
//
// What a peer can make it hold is bounded. The queue counts each frame by
// the memory held for it (its buffer's allocated size and the frame's
// bookkeeping), not by its payload: a small packet read into a 64 KiB pool
// buffer is copied into one of its own size before it waits. Frames beyond
// max_queue are dropped and counted. A peer that takes nothing for
// `dead_after` while its queue is full is a slow reader: the link is
// closed at once (no close handshake: the peer reads nothing) and counted.
// Of the peer's pings, a PingBudget's worth are answered, with at most one
// pong waiting at a time; the others get no answer and are no sign of
// life. Only whole frames are signs of life (or the bytes of a data frame
// still arriving), not every byte read.
//
// Over TLS (wss), the same goes through a tls::Session on the socket: small
// frames waiting together are gathered into one record of up to 16 KiB (one
// copy, instead of a record and a system call each), larger ones are
// written from their own buffers.
//
// Threading: a Link lives on its io_context's one thread (the data plane);
// every member is called there. The callbacks run there too.
#pragma once

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "frame.hpp"
#include "liveness.hpp"
#include "tls.hpp"

namespace mnigs::websocket {

// Counters a link and its owner keep, read from other threads for status.
struct LinkCounters {
  std::atomic<std::uint64_t> rx_messages{0}, rx_bytes{0}, tx_messages{0}, tx_bytes{0};
  std::atomic<std::uint64_t> dropped_queue_full{0};  // outgoing, queue over its limit
  std::atomic<std::uint64_t> dropped_text{0};        // text messages (not packets)
  // Bytes the outgoing queue holds now (allocated, see above), and the most
  // it ever held.
  std::atomic<std::uint64_t> queued{0}, queued_peak{0};
  std::atomic<std::uint64_t> closed_slow{0};    // closed as a slow reader
  std::atomic<std::uint64_t> pings_ignored{0};  // over the budget, or a pong was still waiting
};

// A buffer that holds one outgoing frame: room for the frame header in
// front of the payload, so the header is written in place.
struct OutFrame {
  std::vector<std::uint8_t> bytes;  // capacity max_header_size + payload
  std::size_t begin = 0;            // frame starts here (header)
  std::size_t end = 0;              // one past the payload
  Opcode control = Opcode::binary;  // a control frame's opcode (ping, pong, close)
  // The payload's bytes, to be filled before send(): bytes[max_header_size, ...).
  std::uint8_t* payload() { return bytes.data() + max_header_size; }
  // The memory held for it while it waits: what counts against max_queue.
  std::size_t footprint() const { return bytes.capacity() + sizeof(OutFrame); }
};

// Frame buffers of one size, reused: a packet read from a tun device lands
// in one, goes out through a link, and comes back here. Data thread only.
class FramePool {
 public:
  explicit FramePool(std::size_t payload_capacity) : capacity_(payload_capacity) {}
  OutFrame take();
  void give(OutFrame&& frame);  // keeps at most 256 spare buffers
  std::size_t payload_capacity() const { return capacity_; }

 private:
  std::size_t capacity_;
  std::vector<OutFrame> spare_;
};

class Link : public std::enable_shared_from_this<Link> {
 public:
  enum class Role { server, client };
  struct Options {
    Role role = Role::server;
    std::uint64_t max_message = 65536 + 64;  // larger frames close with 1009
    // Messages in several frames are put together (up to max_message, in
    // one buffer of the link's): browsers send those over 64 KiB so. Off:
    // a fragmented binary message closes the link with 1009.
    bool reassemble = false;
    std::size_t max_queue = 4u << 20;        // bytes waiting to be sent
    LivenessRule liveness;                   // pings and giving up (liveness.hpp); a
                                             // full queue untouched for dead_after is a
                                             // slow reader
    unsigned ping_burst = 8;                 // the peer's pings answered (PingBudget)
    std::chrono::milliseconds ping_refill{250};
  };
  // A binary message; the payload may be changed in place and is valid only
  // during the call.
  using OnMessage = std::function<void(std::span<std::uint8_t> payload)>;
  // The link is closed: why (for logs), and whether the peer began it.
  using OnClosed = std::function<void(const std::string& reason, bool by_peer)>;
  // A text message (put together from its frames with reassemble, else
  // only an unfragmented one; the others are dropped and counted as
  // dropped_text); valid only during the call.
  using OnText = std::function<void(std::string_view text)>;

  // Frames taken from `pool` must hold max_message bytes of payload. With
  // `tls`, whose handshake is done, every byte goes through it.
  Link(boost::asio::ip::tcp::socket socket, Options options, LinkCounters& counters,
       std::shared_ptr<FramePool> pool, std::shared_ptr<tls::Session> tls = nullptr);
  ~Link();

  // Starts reading; `pending` is what arrived after the handshake.
  void start(std::span<const std::uint8_t> pending, OnMessage on_message, OnClosed on_closed);

  // Queues `frame` (from the pool) as one binary message: the `size` bytes
  // at payload() + `skip`; a large buffer holding a small message is
  // copied into one of the message's size and goes back to the pool.
  // Dropped (and counted) when it would take the queue over max_queue.
  void send(OutFrame frame, std::size_t size, std::size_t skip = 0);
  // Sends what was queued by send() since the last flush.
  void flush();
  // Text messages: a link that carries control messages beside its packets
  // (the tether's page) takes them here; without a handler they are
  // dropped and counted. send_text queues one as a single frame, under the
  // same max_queue as packets, and flushes.
  void on_text(OnText handler) { on_text_ = std::move(handler); }
  void send_text(std::string_view text);

  // Sends a close frame, waits briefly for the peer's, then closes. The
  // OnClosed callback runs once, whichever way the link ends.
  void close(std::uint16_t code, const std::string& reason);

  bool open() const { return !closed_; }
  // Whether it was closed as a slow reader.
  bool closed_slow() const { return closed_slow_; }

 private:
  void do_wait_read();
  void on_readable();
  // Reads into `room` from the socket or through TLS: > 0 bytes read, 0 for
  // nothing now (wait as read_wait_ says), -1 when the link finished.
  long read_some(std::span<std::uint8_t> room);
  // Writes queued frames through TLS until the queue is empty or the socket
  // is full: 1 (wait until writable if anything is left), 0 (TLS must read
  // first: no wait), -1 (the link finished).
  int write_tls();
  bool handle(Frame& frame);  // false when the link was closed
  void send_control(Opcode op, std::span<const std::uint8_t> payload);
  void do_write();
  void enqueue(OutFrame&& frame);
  void dequeue_front();
  // The queue was found full at `now`: notes it, and closes a slow reader.
  void note_full(std::chrono::steady_clock::time_point now);
  bool give_up_slow(std::chrono::steady_clock::time_point now);
  void on_tick();
  void schedule_tick(std::chrono::steady_clock::time_point at);
  // When the peer's TCP last acknowledged anything (TCP_INFO), or nullopt.
  std::optional<std::chrono::steady_clock::time_point> last_ack(
      std::chrono::steady_clock::time_point now);
  // "read: ..." for a failed system call; says what a TCP user timeout means.
  std::string failure(const char* what, const boost::system::error_code& error) const;
  void finish(const std::string& reason, bool by_peer);

  boost::asio::ip::tcp::socket socket_;
  Options options_;
  LinkCounters& counters_;
  FrameReader reader_;
  OnMessage on_message_;
  OnClosed on_closed_;
  OnText on_text_;
  // A fragmented message being put together (Options::reassemble).
  std::vector<std::uint8_t> partial_;
  Opcode partial_opcode_ = Opcode::binary;
  bool assembling_ = false;
  bool deliver(Opcode opcode, std::span<std::uint8_t> payload);  // false when closed
  boost::asio::steady_timer timer_;
  std::deque<OutFrame> queue_;  // frames queued, in order
  std::size_t queued_bytes_ = 0;
  std::size_t head_sent_ = 0;  // bytes of queue_.front() already written
  std::shared_ptr<FramePool> pool_;
  std::shared_ptr<tls::Session> tls_;
  // TLS: small frames gathered into one record, and how much of it is sent.
  std::vector<std::uint8_t> gather_;
  std::size_t gather_sent_ = 0;
  // TLS: a write from the queue's first frame is to be repeated (OpenSSL
  // holds part of it); nothing is gathered until it is.
  bool direct_pending_ = false;
  // TLS: what the last read must wait for (a read may need the socket writable).
  boost::asio::socket_base::wait_type read_wait_ = boost::asio::socket_base::wait_read;
  bool waiting_write_ = false;  // an async_wait(write) is pending
  bool closing_ = false;        // our close frame is queued
  bool closed_ = false;
  bool closed_slow_ = false;
  bool pong_waiting_ = false;  // a pong of ours is in queue_
  bool ping_waiting_ = false;  // a ping of ours is in queue_
  PingBudget ping_budget_;
  // Since when the queue has been full with nothing taken by the peer.
  std::optional<std::chrono::steady_clock::time_point> full_since_;
  std::string closing_reason_;  // why we began closing, for OnClosed
  std::chrono::steady_clock::time_point last_rx_, last_tx_;
  std::chrono::steady_clock::time_point tick_at_;  // when the tick timer fires
};

}  // namespace mnigs::websocket
