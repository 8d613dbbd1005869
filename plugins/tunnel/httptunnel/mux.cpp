#include "mux.hpp"

#include <nghttp2/nghttp2.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cstring>
#include <exception>
#include <stdexcept>

namespace mnigs::httptunnel {

namespace {

// Output is gathered up to this many bytes before it is handed out: a
// burst of small frames (WINDOW_UPDATE, HEADERS, acknowledgements) then
// costs the owner one write, not one per frame. One more frame may follow
// the last that fits, so out_ stays under 64 KiB + 16 KiB + 9.
constexpr std::size_t kOutputGather = 64 * 1024;
// A drained output or send buffer with more room than this gives it back,
// so idle sessions and streams do not keep a burst's worth.
constexpr std::size_t kKeepCapacity = 64 * 1024;
// SETTINGS and PING acknowledgements libnghttp2 may queue for a peer that
// does not read; more is a flood (CVE-2019-9512, -9515) and fails it.
constexpr std::size_t kMaxOutboundAck = 256;
// Streams a peer may reset at once, and then each second (see the option).
constexpr std::uint64_t kResetBurst = 100000;
constexpr std::uint64_t kResetRate = 10000;
// RFC 9113 section 6.5.2: each field counts 32 bytes besides its name and
// value.
constexpr std::size_t kFieldOverhead = 32;

bool is_2xx(int status) { return status >= 200 && status <= 299; }

nghttp2_nv make_nv(std::string_view name, std::string_view value) {
  // NO_COPY is not used: libnghttp2 copies the fields when the frame is
  // submitted, so callers' strings need not outlive the call.
  return nghttp2_nv{reinterpret_cast<std::uint8_t*>(const_cast<char*>(name.data())),
                    reinterpret_cast<std::uint8_t*>(const_cast<char*>(value.data())), name.size(),
                    value.size(), NGHTTP2_NV_FLAG_NONE};
}

// Hop-by-hop fields HTTP/2 forbids (RFC 9113 section 8.2.2), and fields
// that have no meaning on a tunnel: host (the target is :authority) and
// content-length (the peer would count the tunnelled bytes against it).
bool forbidden_field(std::string_view name, std::string_view value) {
  static constexpr std::array<std::string_view, 7> names{
      "connection", "keep-alive", "proxy-connection", "transfer-encoding",
      "upgrade",    "host",       "content-length"};
  if (name == "te") return value != "trailers";
  return std::find(names.begin(), names.end(), name) != names.end();
}

std::string quoted(std::string_view s) {
  constexpr std::size_t kShown = 60;
  std::string out = "\"";
  for (char c : s.substr(0, kShown)) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u >= 0x7f) {
      static constexpr char kHex[] = "0123456789abcdef";
      out += "\\x";
      out += kHex[u >> 4];
      out += kHex[u & 0xf];
    } else {
      out += c;
    }
  }
  if (s.size() > kShown) out += "...";
  return out + "\"";
}

}  // namespace

std::string h2_error_name(std::uint32_t code) { return nghttp2_http2_strerror(code); }

struct MuxSession::Stream {
  std::int32_t id = 0;
  StreamHandler handler;
  // Bytes [send_head, send.size()) wait to be sent.
  std::vector<std::uint8_t> send;
  std::size_t send_head = 0;
  std::size_t unconsumed = 0;  // delivered by on_data, not yet consumed()
  // The header block being received, and its size as RFC 9113 counts it.
  Headers headers;
  std::size_t header_size = 0;
  std::string method;
  std::string authority;
  int status = 0;
  bool headers_too_big = false;
  bool provider = false;       // libnghttp2 pulls its bytes (request, or 2xx response)
  bool deferred = false;       // the pull found nothing: resume on write() or end()
  bool end_requested = false;  // end() called, or the tunnel was refused
  bool reset_local = false;    // reset() called, or the stream was refused
  bool full = false;           // a write() was cut short: on_writable owed
  bool accepted = false;       // server: on_stream gave its handler
  bool answered = false;       // server: respond() called; client: final response seen
  bool headers_done = false;   // the request or final response was taken: no more fields
  bool remote_ended = false;
  bool stop_after_answer = false;  // RST_STREAM(NO_ERROR) once the refusal is sent

  std::size_t pending() const { return send.size() - send_head; }
};

// libnghttp2 calls these with the session as user_data. Each returns 0, or
// NGHTTP2_ERR_CALLBACK_FAILURE (fatal) after fail(); no exception leaves a
// handler through libnghttp2's C frames.
struct MuxSession::Glue {
  static MuxSession& self(void* user_data) { return *static_cast<MuxSession*>(user_data); }

  static Stream* stream(nghttp2_session* session, std::int32_t id) {
    return static_cast<Stream*>(nghttp2_session_get_stream_user_data(session, id));
  }

  template <typename F>
  static int guarded(MuxSession& m, F&& f) {
    try {
      f();
      return 0;
    } catch (const std::exception& e) {
      m.fail(std::string("http/2: a stream handler failed: ") + e.what());
    } catch (...) {
      m.fail("http/2: a stream handler failed with an unknown exception");
    }
    return NGHTTP2_ERR_CALLBACK_FAILURE;
  }

  static int on_begin_headers(nghttp2_session* session, const nghttp2_frame* frame,
                              void* user_data) {
    MuxSession& m = self(user_data);
    if (m.failed_ || frame->hd.type != NGHTTP2_HEADERS) return 0;
    if (m.role_ == Role::server && frame->headers.cat == NGHTTP2_HCAT_REQUEST) {
      auto s = std::make_unique<Stream>();
      s->id = frame->hd.stream_id;
      if (nghttp2_session_set_stream_user_data(session, s->id, s.get()) != 0) return 0;
      m.streams_.emplace(s->id, std::move(s));
      return 0;
    }
    // A response, or an informational response before it: each block is
    // counted on its own. Trailers are skipped.
    if (Stream* s = stream(session, frame->hd.stream_id); s && !s->headers_done) {
      s->headers.clear();
      s->header_size = 0;
      s->headers_too_big = false;
      s->status = 0;
    }
    return 0;
  }

  static int on_header(nghttp2_session* session, const nghttp2_frame* frame,
                       const std::uint8_t* name, std::size_t namelen, const std::uint8_t* value,
                       std::size_t valuelen, std::uint8_t /*flags*/, void* user_data) {
    MuxSession& m = self(user_data);
    if (m.failed_ || frame->hd.type != NGHTTP2_HEADERS) return 0;
    Stream* s = stream(session, frame->hd.stream_id);
    if (!s || s->headers_done || s->headers_too_big) return 0;
    s->header_size += namelen + valuelen + kFieldOverhead;
    if (s->header_size > m.limits_.max_header_list) {
      // Keep decoding (the HPACK state is shared by the connection) but
      // keep nothing; the request or response is refused once it is whole.
      s->headers_too_big = true;
      Headers().swap(s->headers);
      s->authority.clear();
      return 0;
    }
    const std::string_view n(reinterpret_cast<const char*>(name), namelen);
    const std::string_view v(reinterpret_cast<const char*>(value), valuelen);
    if (!n.empty() && n[0] == ':') {
      if (n == ":method") {
        s->method = v;
      } else if (n == ":authority") {
        s->authority = v;
      } else if (n == ":status") {
        int status = 0;
        const auto r = std::from_chars(v.data(), v.data() + v.size(), status);
        if (r.ec == std::errc() && r.ptr == v.data() + v.size()) s->status = status;
      }
      return 0;
    }
    s->headers.emplace_back(n, v);
    return 0;
  }

  static int on_frame_recv(nghttp2_session* session, const nghttp2_frame* frame, void* user_data) {
    MuxSession& m = self(user_data);
    if (m.failed_) return 0;
    ++m.counters_.frames_in;
    const bool end_stream = (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0;
    switch (frame->hd.type) {
      case NGHTTP2_HEADERS: {
        Stream* s = stream(session, frame->hd.stream_id);
        if (!s) return 0;
        return guarded(m, [&] {
          if (m.role_ == Role::server && frame->headers.cat == NGHTTP2_HCAT_REQUEST) {
            s->headers_done = true;
            m.on_request(*s, end_stream);
          } else if (m.role_ == Role::client && !s->headers_done &&
                     (s->status >= 200 || s->headers_too_big)) {
            s->headers_done = true;
            m.on_final_response(*s);
          }
          if (end_stream) m.on_remote_end(*s);
        });
      }
      case NGHTTP2_DATA: {
        Stream* s = stream(session, frame->hd.stream_id);
        if (!s || !end_stream) return 0;
        return guarded(m, [&] { m.on_remote_end(*s); });
      }
      case NGHTTP2_PING:
        if (frame->hd.flags & NGHTTP2_FLAG_ACK) ++m.counters_.pings_acked;
        return 0;
      case NGHTTP2_GOAWAY: {
        m.going_away_ = true;
        if (frame->goaway.error_code == NGHTTP2_NO_ERROR) return 0;
        std::string why =
            "http/2: the peer closed the session (" + h2_error_name(frame->goaway.error_code);
        if (frame->goaway.opaque_data_len > 0) {
          why += ": " + quoted({reinterpret_cast<const char*>(frame->goaway.opaque_data),
                                frame->goaway.opaque_data_len});
        }
        m.fail(why + ")", frame->goaway.error_code);
        return NGHTTP2_ERR_CALLBACK_FAILURE;
      }
      default:
        return 0;
    }
  }

  static int on_data_chunk(nghttp2_session* session, std::uint8_t /*flags*/, std::int32_t id,
                           const std::uint8_t* data, std::size_t len, void* user_data) {
    MuxSession& m = self(user_data);
    if (m.failed_) return 0;
    Stream* s = stream(session, id);
    const bool wanted =
        s && !s->reset_local && s->handler.on_data && (m.role_ == Role::client || s->accepted);
    // A peer that overruns the stream window gets RST_STREAM
    // (FLOW_CONTROL_ERROR) from libnghttp2, which still hands over the part
    // of the offending frame that arrived; it is dropped here, so a
    // consumer never holds more than the window.
    const bool overrun = s && s->unconsumed + len > m.limits_.stream_window;
    if (!wanted || overrun) {
      // Nobody will consume these: return their window now, or the
      // connection would slowly close.
      nghttp2_session_consume(session, id, len);
      return 0;
    }
    s->unconsumed += len;
    return guarded(m, [&] { s->handler.on_data({data, len}); });
  }

  static int on_stream_close(nghttp2_session* session, std::int32_t id, std::uint32_t code,
                             void* user_data) {
    MuxSession& m = self(user_data);
    if (m.failed_) return 0;
    Stream* s = stream(session, id);
    if (!s) return 0;
    nghttp2_session_set_stream_user_data(session, id, nullptr);
    m.close_stream(*s, code);
    return 0;
  }

  static int on_frame_send(nghttp2_session* session, const nghttp2_frame* frame, void* user_data) {
    MuxSession& m = self(user_data);
    if (m.failed_) return 0;
    if (frame->hd.type == NGHTTP2_HEADERS) {
      // Submitted together with the response, the RST_STREAM would have
      // libnghttp2 drop the response: it goes once the response is out.
      Stream* s = stream(session, frame->hd.stream_id);
      if (s && s->stop_after_answer && !s->remote_ended) {
        s->stop_after_answer = false;
        nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, s->id, NGHTTP2_NO_ERROR);
      }
      return 0;
    }
    if (frame->hd.type != NGHTTP2_GOAWAY) return 0;
    if (frame->goaway.error_code == NGHTTP2_NO_ERROR && m.goaway_submitted_) return 0;
    // libnghttp2 found a connection error in what was fed and queued this
    // GOAWAY itself (its reason in the debug data); the session is over
    // once it is written. Returning 0 keeps the frame in the output.
    std::string why = "http/2: bad frame from the peer (" + h2_error_name(frame->goaway.error_code);
    if (frame->goaway.opaque_data_len > 0) {
      why += ": " + std::string(reinterpret_cast<const char*>(frame->goaway.opaque_data),
                                frame->goaway.opaque_data_len);
    }
    m.fail(why + ")", frame->goaway.error_code);
    return 0;
  }

  static int on_frame_not_send(nghttp2_session* session, const nghttp2_frame* frame,
                               int /*lib_error*/, void* user_data) {
    MuxSession& m = self(user_data);
    if (m.failed_ || frame->hd.type != NGHTTP2_HEADERS) return 0;
    // A request that cannot go is closed by libnghttp2 (on_stream_close);
    // a response that cannot go would leave the stream hanging.
    if (frame->headers.cat != NGHTTP2_HCAT_REQUEST) {
      nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, frame->hd.stream_id,
                                NGHTTP2_INTERNAL_ERROR);
    }
    return 0;
  }

  static ssize_t read(nghttp2_session* session, std::int32_t id, std::uint8_t* buf,
                      std::size_t length, std::uint32_t* data_flags, nghttp2_data_source*,
                      void* user_data) {
    MuxSession& m = self(user_data);
    Stream* s = m.failed_ ? nullptr : stream(session, id);
    if (!s) return NGHTTP2_ERR_DEFERRED;
    const std::size_t n = std::min(length, s->pending());
    if (n > 0) std::memcpy(buf, s->send.data() + s->send_head, n);
    s->send_head += n;
    if (s->pending() == 0) {
      s->send.clear();
      s->send_head = 0;
      if (s->send.capacity() > kKeepCapacity) std::vector<std::uint8_t>().swap(s->send);
      if (s->end_requested) {
        *data_flags |= NGHTTP2_DATA_FLAG_EOF;
        return static_cast<ssize_t>(n);
      }
    }
    if (n == 0) {
      s->deferred = true;
      return NGHTTP2_ERR_DEFERRED;
    }
    // Half the buffer free before on_writable: a writer woken for a few
    // bytes would be woken again for each frame.
    if (s->full && s->pending() <= m.limits_.send_buffer / 2) {
      s->full = false;
      m.writable_.push_back(id);
    }
    return static_cast<ssize_t>(n);
  }
};

MuxSession::MuxSession(Role role, MuxLimits limits, OnStream on_stream)
    : role_(role),
      limits_(limits),
      on_stream_(std::move(on_stream)),
      session_(nullptr, nghttp2_session_del) {
  constexpr std::uint32_t kMaxWindow = NGHTTP2_MAX_WINDOW_SIZE;
  if (limits_.stream_window == 0 || limits_.stream_window > kMaxWindow) {
    throw std::invalid_argument("httptunnel: the stream window must be 1 to 2^31-1 bytes (got " +
                                std::to_string(limits_.stream_window) + ")");
  }
  if (limits_.connection_window == 0 || limits_.connection_window > kMaxWindow) {
    throw std::invalid_argument(
        "httptunnel: the connection window must be 1 to 2^31-1 bytes (got " +
        std::to_string(limits_.connection_window) + ")");
  }
  if (limits_.max_concurrent_streams == 0) {
    throw std::invalid_argument("httptunnel: max concurrent streams must be at least 1");
  }
  if (limits_.max_header_list < 1024) {
    throw std::invalid_argument("httptunnel: the header list limit must be at least 1024 (got " +
                                std::to_string(limits_.max_header_list) + ")");
  }
  if (limits_.send_buffer == 0) {
    throw std::invalid_argument("httptunnel: the send buffer must be at least 1 byte");
  }
  if (role_ == Role::server && !on_stream_) {
    throw std::invalid_argument("httptunnel: a server session needs an on_stream callback");
  }

  nghttp2_session_callbacks* cbs = nullptr;
  if (nghttp2_session_callbacks_new(&cbs) != 0) {
    throw std::runtime_error("httptunnel: out of memory for an HTTP/2 session");
  }
  nghttp2_session_callbacks_set_on_begin_headers_callback(cbs, Glue::on_begin_headers);
  nghttp2_session_callbacks_set_on_header_callback(cbs, Glue::on_header);
  nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, Glue::on_frame_recv);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, Glue::on_data_chunk);
  nghttp2_session_callbacks_set_on_stream_close_callback(cbs, Glue::on_stream_close);
  nghttp2_session_callbacks_set_on_frame_send_callback(cbs, Glue::on_frame_send);
  nghttp2_session_callbacks_set_on_frame_not_send_callback(cbs, Glue::on_frame_not_send);

  nghttp2_option* opt = nullptr;
  if (nghttp2_option_new(&opt) != 0) {
    nghttp2_session_callbacks_del(cbs);
    throw std::runtime_error("httptunnel: out of memory for an HTTP/2 session");
  }
  // Windows open again only as consumers pass bytes on (consumed()).
  nghttp2_option_set_no_auto_window_update(opt, 1);
  nghttp2_option_set_max_outbound_ack(opt, kMaxOutboundAck);
  // libnghttp2's servers end a session whose peer resets more than 1000
  // streams, then 33 a second ("rapid reset"). Here the peer is a gateway
  // that cancels a stream for each public client that goes away early,
  // which the Internet decides: at that rate anyone could cut a node's
  // link. The node's work per stream is one connection to its own
  // service, which a gateway could ask for with plain requests anyway.
  nghttp2_option_set_stream_reset_rate_limit(opt, kResetBurst, kResetRate);
  // What we send is checked against max_header_list before it is
  // submitted; an HPACK block is never larger than that list plus a few
  // bytes of framing, so this only catches a mistake here.
  nghttp2_option_set_max_send_header_block_length(opt, limits_.max_header_list + 64);
  // No RFC 7540 priorities, so closed streams need not be kept for them.
  nghttp2_option_set_no_closed_streams(opt, 1);

  nghttp2_session* raw = nullptr;
  const int rv = role_ == Role::client ? nghttp2_session_client_new2(&raw, cbs, this, opt)
                                       : nghttp2_session_server_new2(&raw, cbs, this, opt);
  nghttp2_option_del(opt);
  nghttp2_session_callbacks_del(cbs);
  if (rv != 0) {
    throw std::runtime_error(std::string("httptunnel: cannot make an HTTP/2 session: ") +
                             nghttp2_strerror(rv));
  }
  session_.reset(raw);

  std::vector<nghttp2_settings_entry> settings{
      {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, limits_.stream_window},
      {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, limits_.max_header_list},
      {NGHTTP2_SETTINGS_NO_RFC7540_PRIORITIES, 1},
  };
  if (role_ == Role::server) {
    settings.push_back({NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, limits_.max_concurrent_streams});
  } else {
    // The node never opens streams nor pushes.
    settings.push_back({NGHTTP2_SETTINGS_ENABLE_PUSH, 0});
    settings.push_back({NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, 0});
  }
  int r =
      nghttp2_submit_settings(session_.get(), NGHTTP2_FLAG_NONE, settings.data(), settings.size());
  if (r == 0) {
    r = nghttp2_session_set_local_window_size(session_.get(), NGHTTP2_FLAG_NONE, 0,
                                              static_cast<std::int32_t>(limits_.connection_window));
  }
  if (r != 0) {
    throw std::runtime_error(std::string("httptunnel: cannot start an HTTP/2 session: ") +
                             nghttp2_strerror(r));
  }
}

MuxSession::~MuxSession() = default;

MuxSession::Stream* MuxSession::find(std::int32_t id) const {
  const auto it = streams_.find(id);
  return it == streams_.end() ? nullptr : it->second.get();
}

std::string MuxSession::feed(std::span<const std::uint8_t> bytes) {
  if (busy_) return "http/2: feed() was called from a stream handler";
  busy_ = true;
  if (!failed_) {
    counters_.bytes_in += bytes.size();
    const ssize_t rv = nghttp2_session_mem_recv(session_.get(), bytes.data(), bytes.size());
    if (rv < 0) {
      nghttp2_broken_ = true;
      if (rv == NGHTTP2_ERR_BAD_CLIENT_MAGIC) {
        fail("http/2: the peer did not start with the HTTP/2 connection preface (" +
                 quoted({reinterpret_cast<const char*>(bytes.data()), bytes.size()}) +
                 "); is it speaking HTTP/1 or TLS?",
             h2_error::protocol_error);
      } else if (rv == NGHTTP2_ERR_FLOODED) {
        fail("http/2: the peer floods the session with frames to acknowledge and does not read",
             h2_error::enhance_your_calm);
      } else {
        fail(std::string("http/2: bad frame from the peer: ") +
                 nghttp2_strerror(static_cast<int>(rv)),
             h2_error::protocol_error);
      }
    }
  }
  if (!failed_) {
    // Beyond max_outbound_ack, RST_STREAM and WINDOW_UPDATE frames also
    // queue up for a peer that keeps sending and never reads; a few per
    // stream is all a well-behaved peer causes.
    const std::size_t queued = nghttp2_session_get_outbound_queue_size(session_.get());
    if (queued > 4 * std::size_t{limits_.max_concurrent_streams} + kMaxOutboundAck) {
      fail("http/2: the peer sends faster than it reads (" + std::to_string(queued) +
               " frames wait to be sent)",
           h2_error::enhance_your_calm);
    }
  }
  // Producing output now, when none is held by the owner, lets a GOAWAY
  // that libnghttp2 queued for a protocol error in these bytes be seen (by
  // on_frame_send) before feed() returns.
  if (!failed_ && out_head_ == out_.size()) fill_output();
  settle();
  busy_ = false;
  return error_;
}

std::span<const std::uint8_t> MuxSession::output() {
  if (out_head_ == out_.size() && !busy_) {
    busy_ = true;
    fill_output();
    settle();
    busy_ = false;
  }
  return {out_.data() + out_head_, out_.size() - out_head_};
}

void MuxSession::output_done(std::size_t n) {
  n = std::min(n, out_.size() - out_head_);
  out_head_ += n;
  counters_.bytes_out += n;
  if (out_head_ == out_.size()) {
    out_.clear();
    out_head_ = 0;
    if (out_.capacity() > kKeepCapacity && !nghttp2_session_want_write(session_.get())) {
      std::vector<std::uint8_t>().swap(out_);
    }
  }
}

bool MuxSession::wants_output() const {
  if (out_head_ < out_.size()) return true;
  return !failed_ && !nghttp2_broken_ && nghttp2_session_want_write(session_.get()) != 0;
}

void MuxSession::fill_output() {
  // Only called with out_ drained: the view output() handed out must not
  // move while the owner writes it.
  out_.clear();
  out_head_ = 0;
  while (!nghttp2_broken_ && !failed_ && out_.size() < kOutputGather) {
    const std::uint8_t* data = nullptr;
    const ssize_t n = nghttp2_session_mem_send(session_.get(), &data);
    if (n < 0) {
      nghttp2_broken_ = true;
      fail(std::string("http/2: cannot produce output: ") + nghttp2_strerror(static_cast<int>(n)));
      break;
    }
    if (n == 0) break;
    // data is valid until the next mem_send only, so it is copied.
    out_.insert(out_.end(), data, data + n);
    // After a failure noticed in mem_send, the frame that says why (GOAWAY)
    // is the last.
  }
}

void MuxSession::settle() {
  // Handlers are called here, outside libnghttp2's callbacks: a handler may
  // then do anything the header allows, including on other streams.
  for (;;) {
    if (failed_ && !streams_.empty()) {
      // The session is over: every stream is closed with it. Their
      // libnghttp2 user data is left dangling, which is safe because no
      // callback looks at it once failed_ is set.
      for (auto& [id, s] : streams_) {
        if (s->unconsumed > 0) orphaned_[id] += s->unconsumed;
        ++counters_.streams_reset;
        closed_.push_back({std::move(s->handler), fail_code_});
      }
      streams_.clear();
      writable_.clear();
    }
    if (closed_.empty() && writable_.empty()) return;
    const auto writable = std::exchange(writable_, {});
    for (std::int32_t id : writable) {
      Stream* s = find(id);
      if (failed_ || !s || s->reset_local || !s->handler.on_writable) continue;
      Glue::guarded(*this, [&] { s->handler.on_writable(); });
    }
    auto closed = std::exchange(closed_, {});
    for (Closed& c : closed) {
      if (c.handler.on_closed) Glue::guarded(*this, [&] { c.handler.on_closed(c.code); });
    }
  }
}

void MuxSession::fail(std::string why, std::uint32_t code) {
  if (failed_) return;
  failed_ = true;
  error_ = std::move(why);
  fail_code_ = code;
}

void MuxSession::close_stream(Stream& s, std::uint32_t code) {
  if (s.unconsumed > 0) orphaned_[s.id] += s.unconsumed;
  if (code != NGHTTP2_NO_ERROR) ++counters_.streams_reset;
  closed_.push_back({std::move(s.handler), code});
  streams_.erase(s.id);
}

void MuxSession::resume(Stream& s) {
  if (!s.deferred || !s.provider) return;
  s.deferred = false;
  const int rv = nghttp2_session_resume_data(session_.get(), s.id);
  if (nghttp2_is_fatal(rv)) {
    nghttp2_broken_ = true;
    fail(std::string("http/2: cannot resume sending: ") + nghttp2_strerror(rv));
  }
}

void MuxSession::drop_send_buffer(Stream& s) {
  std::vector<std::uint8_t>().swap(s.send);
  s.send_head = 0;
  s.full = false;
}

std::string MuxSession::check_fields(const Headers& extra, std::size_t list_size) const {
  for (const auto& [name, value] : extra) {
    if (name.empty() || name[0] == ':') {
      return "http/2: header field name " + quoted(name) +
             " is not allowed (pseudo-headers are set by the session)";
    }
    const bool lower =
        std::none_of(name.begin(), name.end(), [](char c) { return c >= 'A' && c <= 'Z'; });
    if (!lower || !nghttp2_check_header_name(reinterpret_cast<const std::uint8_t*>(name.data()),
                                             name.size())) {
      return "http/2: header field name " + quoted(name) +
             " is invalid (lowercase token characters only)";
    }
    if (!nghttp2_check_header_value_rfc9113(reinterpret_cast<const std::uint8_t*>(value.data()),
                                            value.size())) {
      return "http/2: header field " + name + " has an invalid value " + quoted(value) +
             " (control characters, or white space at either end)";
    }
    if (forbidden_field(name, value)) {
      return "http/2: header field " + name + " is not allowed on a tunnel stream";
    }
    list_size += name.size() + value.size() + kFieldOverhead;
  }
  const std::size_t peer_limit =
      nghttp2_session_get_remote_settings(session_.get(), NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE);
  const std::size_t limit = std::min<std::size_t>(limits_.max_header_list, peer_limit);
  if (list_size > limit) {
    return "http/2: the header list is " + std::to_string(list_size) + " bytes, over the " +
           std::to_string(limit) + " allowed";
  }
  return "";
}

bool MuxSession::can_open() const {
  if (role_ != Role::client || failed_ || going_away_ ||
      !nghttp2_session_check_request_allowed(session_.get()))
    return false;
  const std::uint32_t peer_max =
      nghttp2_session_get_remote_settings(session_.get(), NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS);
  return streams_.size() < std::min(peer_max, limits_.max_concurrent_streams);
}

std::int32_t MuxSession::open(std::string_view authority, const Headers& extra,
                              StreamHandler handler) {
  refusal_.clear();
  if (role_ != Role::client) {
    refusal_ = "http/2: only the client side opens streams";
  } else if (failed_) {
    refusal_ = "http/2: the session has failed: " + error_;
  } else if (going_away_ || !nghttp2_session_check_request_allowed(session_.get())) {
    refusal_ = "http/2: the session is going away (GOAWAY); open a new one";
  } else {
    const std::uint32_t peer_max = nghttp2_session_get_remote_settings(
        session_.get(), NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS);
    const std::uint32_t max = std::min(peer_max, limits_.max_concurrent_streams);
    if (streams_.size() >= max) {
      refusal_ = "http/2: " + std::to_string(streams_.size()) + " streams are open, as many as " +
                 (peer_max < limits_.max_concurrent_streams ? "the peer allows" : "configured") +
                 "; try again when one closes";
    } else if (authority.empty() ||
               !nghttp2_check_authority(reinterpret_cast<const std::uint8_t*>(authority.data()),
                                        authority.size())) {
      refusal_ = "http/2: the authority " + quoted(authority) + " is not a valid host[:port]";
    } else {
      // :method CONNECT and :authority count too.
      refusal_ = check_fields(extra, 7 + 7 + 10 + authority.size() + 2 * kFieldOverhead);
    }
  }
  if (!refusal_.empty()) {
    ++counters_.streams_refused;
    return -1;
  }

  std::vector<nghttp2_nv> nva;
  nva.reserve(extra.size() + 2);
  nva.push_back(make_nv(":method", "CONNECT"));
  nva.push_back(make_nv(":authority", authority));
  for (const auto& [name, value] : extra) nva.push_back(make_nv(name, value));

  auto s = std::make_unique<Stream>();
  s->handler = std::move(handler);
  s->provider = true;
  nghttp2_data_provider provider{};
  provider.read_callback = Glue::read;
  const std::int32_t id =
      nghttp2_submit_request(session_.get(), nullptr, nva.data(), nva.size(), &provider, s.get());
  if (id < 0) {
    refusal_ = std::string("http/2: cannot open a stream: ") + nghttp2_strerror(id);
    ++counters_.streams_refused;
    return -1;
  }
  s->id = id;
  streams_.emplace(id, std::move(s));
  ++counters_.streams_opened;
  return id;
}

bool MuxSession::respond(std::int32_t id, int status, const Headers& extra) {
  refusal_.clear();
  Stream* s = find(id);
  if (role_ != Role::server) {
    refusal_ = "http/2: only the server side responds";
  } else if (!s || !s->accepted || s->reset_local) {
    refusal_ = "http/2: stream " + std::to_string(id) + " is not open";
  } else if (s->answered) {
    refusal_ = "http/2: stream " + std::to_string(id) + " was answered already";
  } else if (status < 200 || status > 599) {
    refusal_ = "http/2: status " + std::to_string(status) + " is not a final status (200-599)";
  } else {
    refusal_ = check_fields(extra, 7 + 3 + kFieldOverhead);
  }
  if (!refusal_.empty()) return false;

  const std::string code = std::to_string(status);
  std::vector<nghttp2_nv> nva;
  nva.reserve(extra.size() + 1);
  nva.push_back(make_nv(":status", code));
  for (const auto& [name, value] : extra) nva.push_back(make_nv(name, value));
  s->answered = true;
  int rv = 0;
  if (is_2xx(status)) {
    nghttp2_data_provider provider{};
    provider.read_callback = Glue::read;
    rv = nghttp2_submit_response(session_.get(), id, nva.data(), nva.size(), &provider);
    s->provider = rv == 0;
  } else {
    ++counters_.streams_refused;
    drop_send_buffer(*s);
    s->end_requested = true;
    rv = nghttp2_submit_response(session_.get(), id, nva.data(), nva.size(), nullptr);
    // RFC 9113 section 8.1: a complete response may come before the
    // request is complete; RST_STREAM(NO_ERROR) then tells the client to
    // stop sending, so the stream does not hold a slot.
    s->stop_after_answer = true;
  }
  if (rv != 0) {
    refusal_ = std::string("http/2: cannot respond: ") + nghttp2_strerror(rv);
    if (nghttp2_is_fatal(rv)) {
      nghttp2_broken_ = true;
      fail(refusal_);
    }
    return false;
  }
  return true;
}

std::size_t MuxSession::write(std::int32_t id, std::span<const std::uint8_t> bytes) {
  Stream* s = failed_ ? nullptr : find(id);
  if (!s || s->end_requested || s->reset_local || bytes.empty()) return 0;
  const std::size_t room = limits_.send_buffer - std::min(limits_.send_buffer, s->pending());
  const std::size_t take = std::min(room, bytes.size());
  if (take < bytes.size()) s->full = true;
  if (take == 0) return 0;
  if (s->send.size() + take > s->send.capacity()) {
    // Move what waits to the front, and grow by doubling but never past
    // send_buffer: pending + take <= send_buffer, so that always fits.
    s->send.erase(s->send.begin(), s->send.begin() + static_cast<std::ptrdiff_t>(s->send_head));
    s->send_head = 0;
    s->send.reserve(
        std::min(limits_.send_buffer, std::max(s->send.size() + take, 2 * s->send.capacity())));
  }
  s->send.insert(s->send.end(), bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(take));
  resume(*s);
  return take;
}

void MuxSession::end(std::int32_t id) {
  Stream* s = failed_ ? nullptr : find(id);
  if (!s || s->end_requested || s->reset_local) return;
  s->end_requested = true;
  resume(*s);
}

void MuxSession::reset(std::int32_t id, std::uint32_t error_code) {
  Stream* s = failed_ ? nullptr : find(id);
  if (!s || s->reset_local) return;
  s->reset_local = true;
  drop_send_buffer(*s);
  const int rv = nghttp2_submit_rst_stream(session_.get(), NGHTTP2_FLAG_NONE, id, error_code);
  if (nghttp2_is_fatal(rv)) {
    nghttp2_broken_ = true;
    fail(std::string("http/2: cannot reset a stream: ") + nghttp2_strerror(rv));
  }
}

void MuxSession::let_go(std::int32_t id, std::uint32_t error_code) {
  Stream* s = failed_ ? nullptr : find(id);
  if (!s || s->reset_local) return;
  if (s->remote_ended && s->provider && s->pending() == 0) {
    end(id);
    return;
  }
  reset(id, error_code);
}

void MuxSession::consumed(std::int32_t id, std::size_t n) {
  if (failed_ || n == 0) return;
  std::size_t* outstanding = nullptr;
  auto orphan = orphaned_.end();
  if (Stream* s = find(id)) {
    outstanding = &s->unconsumed;
  } else if (orphan = orphaned_.find(id); orphan != orphaned_.end()) {
    outstanding = &orphan->second;
  }
  if (!outstanding) return;
  n = std::min(n, *outstanding);
  *outstanding -= n;
  if (orphan != orphaned_.end() && orphan->second == 0) orphaned_.erase(orphan);
  if (n == 0) return;
  // For a closed stream libnghttp2 updates the connection window only.
  const int rv = nghttp2_session_consume(session_.get(), id, n);
  if (nghttp2_is_fatal(rv)) {
    nghttp2_broken_ = true;
    fail(std::string("http/2: cannot return a window: ") + nghttp2_strerror(rv));
  }
}

std::size_t MuxSession::buffered(std::int32_t id) const {
  const Stream* s = find(id);
  return s ? s->pending() : 0;
}

void MuxSession::ping() {
  if (failed_) return;
  if (nghttp2_submit_ping(session_.get(), NGHTTP2_FLAG_NONE, nullptr) == 0) {
    ++counters_.pings_sent;
  }
}

void MuxSession::shutdown() {
  if (failed_ || goaway_submitted_) return;
  goaway_submitted_ = true;
  going_away_ = true;
  // A server lets the streams it accepted finish; a client names no
  // stream, as the server opens none.
  const std::int32_t last =
      role_ == Role::server ? nghttp2_session_get_last_proc_stream_id(session_.get()) : 0;
  nghttp2_submit_goaway(session_.get(), NGHTTP2_FLAG_NONE, last, NGHTTP2_NO_ERROR, nullptr, 0);
}

bool MuxSession::alive() const {
  if (failed_) return false;
  return nghttp2_session_want_read(session_.get()) != 0 ||
         nghttp2_session_want_write(session_.get()) != 0;
}

void MuxSession::on_request(Stream& s, bool ended) {
  if (s.headers_too_big) {
    refuse_request(s, 431, ended);
    return;
  }
  if (s.method != "CONNECT") {
    refuse_request(s, 405, ended);
    return;
  }
  s.accepted = true;
  ++counters_.streams_opened;
  // s stays valid through the call: streams are only erased by libnghttp2's
  // callbacks and settle(), neither of which a handler can reach.
  StreamHandler handler = on_stream_(s.id, std::move(s.authority), std::move(s.headers));
  s.headers = {};
  s.handler = std::move(handler);
}

void MuxSession::refuse_request(Stream& s, int status, bool ended) {
  ++counters_.streams_refused;
  s.headers = {};
  s.answered = true;
  s.end_requested = true;
  const std::string code = std::to_string(status);
  const nghttp2_nv allow[] = {make_nv(":status", code), make_nv("allow", "CONNECT")};
  const std::size_t n = status == 405 ? 2 : 1;
  nghttp2_submit_response(session_.get(), s.id, allow, n, nullptr);
  s.stop_after_answer = !ended;
}

void MuxSession::on_final_response(Stream& s) {
  s.answered = true;
  if (s.headers_too_big) {
    // What the peer would say is lost; the stream cannot go on.
    s.reset_local = true;
    drop_send_buffer(s);
    nghttp2_submit_rst_stream(session_.get(), NGHTTP2_FLAG_NONE, s.id, NGHTTP2_ENHANCE_YOUR_CALM);
    return;
  }
  if (!is_2xx(s.status)) {
    // RFC 9113 section 8.5: no tunnel. What was written is dropped and our
    // side ends, so the stream closes once the peer's side has.
    ++counters_.streams_refused;
    drop_send_buffer(s);
    s.end_requested = true;
    resume(s);
  }
  Headers headers = std::move(s.headers);
  s.headers = {};
  if (s.handler.on_response) s.handler.on_response(s.status, std::move(headers));
}

void MuxSession::on_remote_end(Stream& s) {
  s.remote_ended = true;
  if (s.reset_local) return;
  if (role_ == Role::server ? !s.accepted : !s.answered) return;
  if (s.handler.on_end) s.handler.on_end();
}

}  // namespace mnigs::httptunnel
