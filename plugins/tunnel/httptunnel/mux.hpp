// MuxSession: the HTTP/2 connection between a node and its gateway, as bytes
// in and bytes out (libnghttp2; no sockets, no Asio), so its logic is tested
// without a network.
//
// Each public request, or raw front connection, is one CONNECT stream
// (RFC 9113 section 8.5: `:method CONNECT`, `:authority <target>`, no :path
// or :scheme). The gateway opens it (Role::client); the node accepts it
// (Role::server) and answers `:status 200`, after which the stream carries
// raw bytes both ways in DATA frames until each side ends it (END_STREAM)
// or resets it (RST_STREAM). Any other method is refused with 405.
//
// Flow control is what bounds memory. Bytes handed to on_data count against
// the stream's and the connection's receive windows until the consumer calls
// consumed(): a consumer that stops passing bytes on stops its sender. Bytes
// to send wait in a per-stream buffer of limited size: write() takes what
// fits and on_writable says when there is room again. Output is pulled by
// the owner (output()/output_done()), so a slow transport stops frames from
// being produced and, through the full buffers, stops the writers.
//
// What one session holds at most (defaults in brackets):
// - send buffers: send_buffer per open stream, so at most
//   send_buffer x max_concurrent_streams [256 KiB x 256 = 64 MiB]; a buffer
//   holds only what the owner wrote and the network has not taken yet.
// - received bytes are not copied: on_data hands out a view. What consumers
//   keep before calling consumed() is bounded by the connection receive
//   window [64 MiB, every stream's window together], and per stream by the
//   stream window [256 KiB].
// - headers being received: max_header_list per stream [16 KiB], counted
//   as RFC 9113 does (name + value + 32 per field); larger lists are
//   refused (431 at the server, RST_STREAM at the client). libnghttp2 itself
//   holds a 4 KiB HPACK table each way and, per header field, 64 KiB at most.
// - output: up to 64 KiB gathered for the transport, plus one frame
//   (16 KiB + 9 bytes).
// - control frames libnghttp2 queues for a peer that sends but does not
//   read: at most 256 SETTINGS and PING acknowledgements, and
//   4 x max_concurrent_streams + 256 frames in all (RST_STREAM,
//   WINDOW_UPDATE, ...), each some 100 bytes; beyond that the peer is
//   flooding and the session fails.
//
// Thread-safety: none. A session and everything it calls back are used from
// one thread (or strand) at a time.
//
// Handlers run only inside feed() and output(). From a handler, the owner
// may call write(), end(), reset(), consumed(), open(), respond(), ping(),
// shutdown() and the accessors, on any stream; it must not call feed(),
// output() or output_done(), nor destroy the session. A stream's handler is
// never called after its on_closed; destroying the session calls no handler.
// An exception thrown by a handler fails the session (error() says which).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

struct nghttp2_session;

namespace mnigs::httptunnel {

// Header fields besides the pseudo-headers, in order: lowercase names.
using Headers = std::vector<std::pair<std::string, std::string>>;

// HTTP/2 error codes (RFC 9113 section 7) that on_closed reports and
// reset() sends.
namespace h2_error {
inline constexpr std::uint32_t no_error = 0x0;
inline constexpr std::uint32_t protocol_error = 0x1;
inline constexpr std::uint32_t internal_error = 0x2;
inline constexpr std::uint32_t flow_control_error = 0x3;
inline constexpr std::uint32_t refused_stream = 0x7;
inline constexpr std::uint32_t cancel = 0x8;
inline constexpr std::uint32_t connect_error = 0xa;
inline constexpr std::uint32_t enhance_your_calm = 0xb;
}  // namespace h2_error

// The name of an HTTP/2 error code ("CANCEL"), for logs. Thread-safe.
std::string h2_error_name(std::uint32_t code);

struct MuxLimits {
  // Receive window of each stream, in bytes: what the peer may send on a
  // stream before the consumer calls consumed(). 1 to 2^31-1.
  std::uint32_t stream_window = 256 * 1024;
  // Receive window of the whole connection, in bytes. 1 to 2^31-1. As
  // large as every stream's window together: with less, a few streams
  // whose consumers stop (public clients reading slowly, on purpose or
  // not) would hold it all and stall every other stream on the link.
  std::uint32_t connection_window = 64 * 1024 * 1024;
  // Server: streams the peer may have open at once (SETTINGS_MAX_CONCURRENT
  // _STREAMS). Client: streams open() may have open at once, whatever more
  // the peer allows.
  std::uint32_t max_concurrent_streams = 256;
  // Largest header list received or sent, in bytes as RFC 9113 section
  // 6.5.2 counts them (name + value + 32 per field). At least 1024.
  std::uint32_t max_header_list = 16 * 1024;
  // Bytes each stream buffers for sending; write() takes no more.
  std::size_t send_buffer = 256 * 1024;
};

// What a stream tells its owner. Every member may be left empty. A stream
// whose on_data is empty has its bytes dropped (and consumed) on arrival.
struct StreamHandler {
  // Client: the final response (status 200 to 599; 1xx are skipped). On a
  // status other than 2xx the tunnel is refused: what was written and not
  // sent is dropped and the stream is ended from this side.
  std::function<void(int status, Headers headers)> on_response;
  // Bytes from the peer, in order. The view is valid during the call only.
  // They count against the receive windows until consumed(id, n).
  std::function<void(std::span<const std::uint8_t> bytes)> on_data;
  // The peer ended its side (END_STREAM): no more on_data.
  std::function<void()> on_end;
  // After a write() that did not take everything: the send buffer has
  // drained to half its size or less.
  std::function<void()> on_writable;
  // Last call for the stream. error_code is h2_error::no_error when both
  // sides ended it, else the RST_STREAM code (sent or received), or the
  // reason the whole session failed or the peer refused it
  // (refused_stream, e.g. after a GOAWAY).
  std::function<void(std::uint32_t error_code)> on_closed;
};

struct MuxCounters {
  std::uint64_t bytes_in = 0;   // fed
  std::uint64_t bytes_out = 0;  // marked written by output_done()
  std::uint64_t frames_in = 0;  // frames received whole, of any type
  // Client: open() succeeded. Server: on_stream was called.
  std::uint64_t streams_opened = 0;
  // Client: open() failed, or the final status was not 2xx. Server: a
  // request was refused (405, 431) or answered with a status other than 2xx.
  std::uint64_t streams_refused = 0;
  std::uint64_t streams_reset = 0;  // closed with an error code, by either side
  std::uint64_t pings_sent = 0;
  std::uint64_t pings_acked = 0;  // acknowledgements of our pings received
};

class MuxSession {
 public:
  enum class Role { client, server };
  // Server: a CONNECT request was accepted as stream `id`. Returns the
  // stream's handler; answer with respond(id, ...), now or later. Bytes the
  // peer sends before the answer reach the returned handler's on_data.
  using OnStream =
      std::function<StreamHandler(std::int32_t id, std::string authority, Headers headers)>;

  // A client queues its connection preface and SETTINGS, a server its
  // SETTINGS, for output(). A server needs on_stream. Throws
  // std::invalid_argument on limits out of range, std::runtime_error when
  // libnghttp2 cannot make a session.
  MuxSession(Role role, MuxLimits limits, OnStream on_stream = {});
  ~MuxSession();
  MuxSession(const MuxSession&) = delete;
  MuxSession& operator=(const MuxSession&) = delete;

  // Bytes received from the transport. "" when they were taken, else why
  // the session failed (the same sentence as error()); it is then dead and
  // every open stream gets on_closed. Errors noticed later (libnghttp2
  // queued a GOAWAY that output() could not produce yet) show in error().
  std::string feed(std::span<const std::uint8_t> bytes);

  // The next bytes to write to the transport; empty when there are none.
  // The view stays valid and the same until output_done(); the owner writes
  // some and calls output_done(n) with how many.
  std::span<const std::uint8_t> output();
  void output_done(std::size_t n);
  // Whether output() has or may have bytes (it can still return none).
  bool wants_output() const;

  // Client: opens a CONNECT stream to `authority` with `extra` header
  // fields. Returns its id, or -1 when it is refused: the session is dead or
  // going away, max_concurrent_streams (ours or the peer's) are open, or
  // the authority or a header field is invalid; last_refusal() says why.
  std::int32_t open(std::string_view authority, const Headers& extra, StreamHandler handler);
  // Server: answers stream `id`. A 2xx status opens the tunnel; any other
  // (400 to 599) refuses it and ends the stream, dropping what was
  // written. False, with last_refusal(), when the stream is not waiting
  // for an answer or the status or a header field is invalid.
  bool respond(std::int32_t id, int status, const Headers& extra = {});
  // Why the last open() or respond() failed.
  const std::string& last_refusal() const { return refusal_; }

  // Copies bytes into the stream's send buffer, up to send_buffer bytes
  // waiting; returns how many it took. 0 when the buffer is full (then
  // on_writable follows), or the stream is unknown, ended or reset. A
  // server may write before respond(); the bytes leave after a 2xx.
  std::size_t write(std::int32_t id, std::span<const std::uint8_t> bytes);
  // Ends our side of the stream (END_STREAM) once its buffer is sent.
  void end(std::int32_t id);
  // Resets the stream with an h2_error code; buffered bytes are dropped and
  // no more handler calls come for it but on_closed.
  void reset(std::int32_t id, std::uint32_t error_code);
  // Lets a stream go that its owner is done with: one whose peer has ended
  // its side and which has nothing left to send is ended (END_STREAM) and
  // closes cleanly; any other is reset with `error_code`. A peer counts
  // resets (libnghttp2 servers end a session sent more than 1000, then 33
  // a second, against "rapid reset" floods), so streams that simply
  // finished must not be reset.
  void let_go(std::int32_t id, std::uint32_t error_code);
  // The consumer passed on (or dropped) n bytes that on_data delivered on
  // stream `id`: they are returned to the peer's windows. Also after
  // on_closed, which holds on to the connection window until then. n is
  // capped at what is outstanding, so SIZE_MAX releases all of it.
  void consumed(std::int32_t id, std::size_t n);
  // Bytes waiting in the stream's send buffer (0 for an unknown stream).
  std::size_t buffered(std::int32_t id) const;

  // Sends a PING; its acknowledgement counts in counters().pings_acked.
  // counters().frames_in tells whether the peer said anything at all.
  void ping();
  // Graceful end: GOAWAY (no error). Open streams go on; no new ones.
  void shutdown();

  // False once the session failed, or once both sides are done after a
  // GOAWAY. The owner then writes what output() still has and closes.
  bool alive() const;
  // The peer sent GOAWAY or shutdown() was called: open() refuses.
  bool going_away() const { return going_away_; }
  // Why the session failed; "" while it has not.
  const std::string& error() const { return error_; }
  std::size_t open_streams() const { return streams_.size(); }
  // Client: whether open() would take one more stream now (alive, not
  // going away, under both our and the peer's limit on streams).
  bool can_open() const;
  const MuxCounters& counters() const { return counters_; }
  Role role() const { return role_; }

 private:
  struct Stream;
  struct Glue;  // libnghttp2's callbacks
  struct Closed {
    StreamHandler handler;
    std::uint32_t code;
  };

  Stream* find(std::int32_t id) const;
  std::string check_fields(const Headers& extra, std::size_t list_size) const;
  void fill_output();
  void settle();
  void fail(std::string why, std::uint32_t code = h2_error::internal_error);
  void close_stream(Stream& s, std::uint32_t code);
  void resume(Stream& s);
  void drop_send_buffer(Stream& s);
  void on_request(Stream& s, bool ended);
  void on_final_response(Stream& s);
  void on_remote_end(Stream& s);
  void refuse_request(Stream& s, int status, bool ended);

  Role role_;
  MuxLimits limits_;
  OnStream on_stream_;
  std::unique_ptr<nghttp2_session, void (*)(nghttp2_session*)> session_;
  std::map<std::int32_t, std::unique_ptr<Stream>> streams_;
  // Bytes delivered on streams already closed and not yet consumed(): the
  // connection window they hold is returned when the consumer says so.
  std::unordered_map<std::int32_t, std::size_t> orphaned_;
  std::vector<std::uint8_t> out_;  // gathered output; [out_head_, size) not yet written
  std::size_t out_head_ = 0;
  std::vector<Closed> closed_;          // on_closed calls owed, made by settle()
  std::vector<std::int32_t> writable_;  // on_writable calls owed, made by settle()
  MuxCounters counters_;
  std::string error_;
  std::string refusal_;
  bool failed_ = false;
  std::uint32_t fail_code_ = 0;  // given to on_closed of the streams a failure closes
  bool nghttp2_broken_ = false;  // libnghttp2 returned a fatal error: call it no more
  bool busy_ = false;            // inside feed() or output()
  bool going_away_ = false;
  bool goaway_submitted_ = false;  // by shutdown(), so a GOAWAY we send is no failure
};

}  // namespace mnigs::httptunnel
