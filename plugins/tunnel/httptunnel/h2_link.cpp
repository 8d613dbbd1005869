#include "h2_link.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>

namespace mnigs::httptunnel {

namespace net = boost::asio;

namespace {
constexpr std::size_t kReadSize = 64 * 1024;
}

// A request's state, shared by its Channel (the front's handle) and the
// stream's handler (the session's).
struct H2Link::Stream {
  std::int32_t id = -1;
  Channel::Events events;
  bool answered = false;  // the node answered 200: its service may have seen bytes
  bool done = false;      // no event goes to the front any more
  bool released = false;  // the front let its channel go
  bool ended = false;     // the node ended its side (END_STREAM)
};

class H2Link::H2Channel : public Channel {
 public:
  H2Channel(std::weak_ptr<H2Link> link, std::shared_ptr<Stream> stream)
      : link_(std::move(link)), stream_(std::move(stream)) {}
  ~H2Channel() override { release(h2_error::cancel, /*done_with=*/true); }

  std::size_t write(std::span<const std::uint8_t> bytes) override {
    auto l = link_.lock();
    if (!l || stream_->done || stream_->id < 0) return 0;
    const std::size_t n = l->mux_.write(stream_->id, bytes);
    l->schedule_pump();
    return n;
  }
  void end() override {
    if (auto l = link_.lock(); l && !stream_->done && stream_->id >= 0) {
      l->mux_.end(stream_->id);
      l->schedule_pump();
    }
  }
  void consumed(std::size_t n) override {
    if (auto l = link_.lock(); l && stream_->id >= 0) {
      l->mux_.consumed(stream_->id, n);
      l->schedule_pump();
    }
  }
  void abort() override { release(h2_error::cancel, /*done_with=*/false); }

 private:
  // Lets the stream go: a stream both sides ended is closed already; one
  // the node has answered in full is ended on our side too, so that it
  // closes without a reset (the node's libnghttp2 ends a session that
  // resets too many streams); one still open, or aborted (its client went
  // away: what the service got must not look complete), is cancelled.
  void release(std::uint32_t code, bool done_with) {
    if (stream_->released) return;
    // The events stay (they may be running now: the front lets a channel go
    // from inside them); `done` keeps them from being called again.
    stream_->released = stream_->done = true;
    if (auto l = link_.lock(); l && stream_->id >= 0) {
      if (l->streams_.count(stream_->id)) {
        if (done_with) {
          l->mux_.let_go(stream_->id, code);
        } else {
          l->mux_.reset(stream_->id, code);
        }
      }
      // What the front was given and did not consume goes back too (a
      // closed stream holds the connection window until then).
      l->mux_.consumed(stream_->id, SIZE_MAX);
      l->schedule_pump();
    }
  }

  std::weak_ptr<H2Link> link_;
  std::shared_ptr<Stream> stream_;
};

H2Link::H2Link(net::ip::tcp::socket socket, link::Hello hello, std::string pending,
               Options options, Logger& log, OnClosed on_closed)
    : socket_(std::move(socket)),
      hello_(std::move(hello)),
      pending_(std::move(pending)),
      options_(options),
      log_(log),
      on_closed_(std::move(on_closed)),
      mux_(MuxSession::Role::client, options.limits),
      timer_(socket_.get_executor()) {
  boost::system::error_code ec;
  // Frames of several streams follow each other in small writes; with
  // Nagle's algorithm one waits for the ACK of the last, which the node
  // delays (40 ms on Linux). The daemon's port hands the socket over as
  // it accepted it, without TCP_NODELAY.
  socket_.set_option(net::ip::tcp::no_delay(true), ec);
  const auto peer = socket_.remote_endpoint(ec);
  if (ec) {
    describe_ = "? mnigs";
  } else {
    const std::string host = peer.address().to_string();
    describe_ = (peer.address().is_v6() ? "[" + host + "]" : host) + ":" +
                std::to_string(peer.port()) + " mnigs";
  }
}

H2Link::~H2Link() = default;

void H2Link::start() {
  heard_ = std::chrono::steady_clock::now();
  // The 101 goes first, then whatever the session has to say.
  const std::string answer = link::accept();
  sending_.assign(answer.begin(), answer.end());
  writing_ = true;
  net::async_write(socket_, net::buffer(sending_),
                   [self = shared_from_this()](boost::system::error_code ec, std::size_t) {
                     self->writing_ = false;
                     if (self->closed_) return;
                     if (ec) return self->fail("writing the 101 answer: " + ec.message());
                     self->pump();
                   });
  if (!pending_.empty()) {
    const std::string bytes = std::move(pending_);
    if (auto why = mux_.feed({reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()});
        !why.empty())
      return fail(why);
  }
  read();
  timer_.expires_after(options_.ping_timeout / 3);
  timer_.async_wait([weak = weak_from_this()](boost::system::error_code ec) {
    if (auto self = weak.lock(); self && !ec) self->on_tick();
  });
}

bool H2Link::has_room() const {
  // The node's own limit on streams counts too: a request past it waits in
  // the registry's queue instead of failing.
  return !closed_ && mux_.can_open();
}

std::unique_ptr<Channel> H2Link::open(const ChannelRequest& request, Channel::Events events) {
  auto stream = std::make_shared<Stream>();
  stream->events = std::move(events);
  auto channel = std::make_unique<H2Channel>(weak_from_this(), stream);
  std::weak_ptr<Stream> weak = stream;
  StreamHandler h;
  h.on_response = [weak](int status, Headers) {
    auto s = weak.lock();
    if (!s || s->done) return;
    if (status >= 200 && status < 300) {
      s->answered = true;
      return;
    }
    // The node turned the stream down without asking its service.
    s->done = true;
    if (s->events.on_failed)
      s->events.on_failed("the node refused the request (HTTP/2 status " +
                              std::to_string(status) + ")",
                          true);
  };
  h.on_data = [weak, this](std::span<const std::uint8_t> bytes) {
    auto s = weak.lock();
    if (!s || s->done || !s->events.on_data) {
      // Nobody takes them: they go back to the window at once.
      if (s && s->id >= 0) mux_.consumed(s->id, bytes.size());
      return;
    }
    s->events.on_data(bytes);
  };
  h.on_end = [weak] {
    auto s = weak.lock();
    if (s) s->ended = true;
    if (s && !s->done && s->events.on_end) s->events.on_end();
  };
  h.on_writable = [weak] {
    if (auto s = weak.lock(); s && !s->done && s->events.on_writable) s->events.on_writable();
  };
  h.on_closed = [weak, this](std::uint32_t code) {
    auto s = weak.lock();
    if (s) streams_.erase(s->id);
    if (on_room_)
      net::post(socket_.get_executor(), [w = weak_from_this()] {
        if (auto self = w.lock(); self && !self->closed_ && self->on_room_) self->on_room_(*self);
      });
    // Closed without error after the node ended its side: done. Reset,
    // even with NO_ERROR, before it ended: the answer is incomplete.
    if (!s || s->done || (code == h2_error::no_error && s->ended)) return;
    s->done = true;
    if (s->events.on_failed)
      s->events.on_failed("the stream was reset (" + h2_error_name(code) + ")", !s->answered);
  };
  Headers extra;
  if (!request.client.empty()) extra.emplace_back(std::string(link::kClientField), request.client);
  const std::string authority =
      request.service.empty() ? std::string(link::kTokenAuthority) : request.service;
  const std::int32_t id = closed_ ? -1 : mux_.open(authority, extra, std::move(h));
  if (id < 0) {
    // Told from the loop, as every event.
    const std::string why = closed_ ? "the link is closed" : mux_.last_refusal();
    net::post(socket_.get_executor(), [weak, why] {
      auto s = weak.lock();
      if (!s || s->done) return;
      s->done = true;
      if (s->events.on_failed) s->events.on_failed(why, true);
    });
    return channel;
  }
  stream->id = id;
  streams_[id] = stream;
  schedule_pump();
  return channel;
}

void H2Link::schedule_pump() {
  if (pump_posted_ || closed_) return;
  pump_posted_ = true;
  net::post(socket_.get_executor(), [weak = weak_from_this()] {
    if (auto self = weak.lock()) {
      self->pump_posted_ = false;
      self->pump();
    }
  });
}

void H2Link::pump() {
  if (closed_ || writing_) return;
  const auto out = mux_.output();
  if (out.empty()) {
    if (!mux_.alive()) fail(mux_.error().empty() ? "the session ended" : mux_.error());
    return;
  }
  sending_.assign(out.begin(), out.end());
  writing_ = true;
  net::async_write(socket_, net::buffer(sending_),
                   [self = shared_from_this()](boost::system::error_code ec, std::size_t n) {
                     self->writing_ = false;
                     if (self->closed_) return;
                     if (ec) return self->fail("write: " + ec.message());
                     self->mux_.output_done(n);
                     self->pump();
                   });
}

void H2Link::read() {
  if (reading_ || closed_) return;
  reading_ = true;
  in_.resize(kReadSize);
  socket_.async_read_some(
      net::buffer(in_), [self = shared_from_this()](boost::system::error_code ec, std::size_t n) {
        self->reading_ = false;
        if (self->closed_) return;
        if (ec) return self->fail(ec == net::error::eof ? "the node closed the link"
                                                        : "read: " + ec.message());
        if (auto why = self->mux_.feed({self->in_.data(), n}); !why.empty())
          return self->fail(why);
        self->pump();
        self->read();
      });
}

void H2Link::on_tick() {
  if (closed_) return;
  const auto now = std::chrono::steady_clock::now();
  if (mux_.counters().frames_in != frames_seen_) {
    frames_seen_ = mux_.counters().frames_in;
    heard_ = now;
  } else if (now - heard_ >= options_.ping_timeout) {
    return fail("nothing from the node for " + std::to_string(options_.ping_timeout.count()) +
                " s (ping timeout)");
  }
  timer_.expires_after(options_.ping_timeout / 3);
  timer_.async_wait([weak = weak_from_this()](boost::system::error_code ec) {
    if (auto self = weak.lock(); self && !ec) self->on_tick();
  });
}

void H2Link::close(const std::string& why) { fail(why); }

void H2Link::fail(const std::string& why) {
  if (closed_) return;
  closed_ = true;
  timer_.cancel();
  boost::system::error_code ec;
  socket_.shutdown(net::ip::tcp::socket::shutdown_both, ec);
  socket_.close(ec);
  // Every request still on the link is told, from the loop.
  auto streams = std::move(streams_);
  streams_.clear();
  for (auto& [id, s] : streams) {
    net::post(socket_.get_executor(), [s, why] {
      if (s->done) return;
      s->done = true;
      if (s->events.on_failed) s->events.on_failed("the link failed: " + why, !s->answered);
    });
  }
  auto self = shared_from_this();
  if (on_closed_) {
    auto cb = std::move(on_closed_);
    on_closed_ = nullptr;
    cb(*this, why);
  }
}

}  // namespace mnigs::httptunnel
