#include "link.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <boost/asio/post.hpp>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstddef>
#include <cstring>

namespace mnigs::websocket {

namespace net = boost::asio;

namespace {

// Reads per readiness event before giving the loop back: enough to drain a
// busy socket, bounded so one link cannot starve the others.
constexpr int kReadsPerWake = 16;
constexpr std::size_t kReadSize = 256 * 1024;
// Frames per writev (IOV_MAX is 1024; fewer keeps the array on the stack small).
constexpr std::size_t kWritevFrames = 64;
// The most plaintext one TLS record carries: small frames are gathered up
// to this (TLS 1.3, RFC 8446 5.1).
constexpr std::size_t kRecordSize = 16384;
// How long a closing link waits for the peer's close frame.
constexpr std::chrono::milliseconds kCloseWait{2000};
// The largest control frame a peer can send: header, mask, 125 bytes.
// More than this buffered is part of a data frame still arriving.
constexpr std::size_t kLargestControlFrame = 2 + 4 + max_control_payload;

std::uint32_t random_mask() {
  std::uint32_t key = 0;
  // getrandom of 4 bytes from the non-blocking pool never fails short once
  // the pool is initialised; a failure leaves a fixed key, which is still
  // valid framing.
  if (::getrandom(&key, sizeof key, GRND_NONBLOCK) != sizeof key) key = 0x5a5a5a5a;
  return key;
}

// "3 s", or "1500 ms" when not whole seconds.
std::string duration_text(std::chrono::milliseconds d) {
  return d.count() % 1000 == 0 ? std::to_string(d.count() / 1000) + " s"
                               : std::to_string(d.count()) + " ms";
}

}  // namespace

OutFrame FramePool::take() {
  if (!spare_.empty()) {
    OutFrame f = std::move(spare_.back());
    spare_.pop_back();
    return f;
  }
  OutFrame f;
  f.bytes.resize(max_header_size + capacity_);
  return f;
}

void FramePool::give(OutFrame&& frame) {
  if (spare_.size() < 256 && frame.bytes.size() == max_header_size + capacity_)
    spare_.push_back(std::move(frame));
}

Link::Link(net::ip::tcp::socket socket, Options options, LinkCounters& counters,
           std::shared_ptr<FramePool> pool, std::shared_ptr<tls::Session> tls)
    : socket_(std::move(socket)),
      options_(options),
      counters_(counters),
      reader_(options.max_message, kReadSize),
      timer_(socket_.get_executor()),
      pool_(std::move(pool)),
      tls_(std::move(tls)),
      ping_budget_(options.ping_burst, options.ping_refill) {
  socket_.non_blocking(true);
  boost::system::error_code ec;
  socket_.set_option(net::ip::tcp::no_delay(true), ec);
  if (options_.liveness.acks_count) {
    // Data the peer leaves unacknowledged for dead_after ends the
    // connection, and so does a receive window it keeps shut that long
    // (the kernel applies the user timeout to its window probes too): a
    // host that still acknowledges while its client reads nothing. A peer
    // that stops acknowledging is given up by on_tick either way.
    const auto ms = static_cast<unsigned>(
        std::min<std::int64_t>(options_.liveness.dead_after.count(), 0x7fffffff));
    ::setsockopt(socket_.native_handle(), IPPROTO_TCP, TCP_USER_TIMEOUT, &ms, sizeof ms);
  }
}

Link::~Link() = default;

void Link::start(std::span<const std::uint8_t> pending, OnMessage on_message, OnClosed on_closed) {
  on_message_ = std::move(on_message);
  on_closed_ = std::move(on_closed);
  last_rx_ = last_tx_ = std::chrono::steady_clock::now();
  schedule_tick(
      liveness_step(options_.liveness, {last_rx_, last_tx_, std::nullopt}, last_rx_).next);
  if (!pending.empty()) {
    auto room = reader_.writable(pending.size());
    std::memcpy(room.data(), pending.data(), pending.size());
    reader_.commit(pending.size());
  }
  // Frames that came with the handshake are handled before the first read.
  on_readable();
}

void Link::do_wait_read() {
  socket_.async_wait(read_wait_,
                     [self = shared_from_this()](boost::system::error_code ec) {
                       if (self->closed_) return;
                       if (ec) return self->finish(self->failure("read", ec), false);
                       self->on_readable();
                     });
}

void Link::on_readable() {
  bool drained = false;  // the socket (and TLS) had nothing more
  for (int i = 0; i < kReadsPerWake && !closed_; ++i) {
    Frame frame;
    ParseStatus st;
    while ((st = reader_.next(frame)) == ParseStatus::ok)
      if (!handle(frame)) return;
    if (st == ParseStatus::error) {
      close(reader_.close_code(), reader_.error());
      return;
    }
    // Whole frames are signs of life (handle()); so are the bytes of a data
    // frame still arriving, which a slow link may take long to complete.
    // Bytes of a ping are not: pings count only within their budget.
    if (reader_.buffered() > kLargestControlFrame) last_rx_ = std::chrono::steady_clock::now();
    auto room = reader_.writable(kReadSize);
    const long n = read_some(room);
    if (n < 0) return;
    if (n == 0) {
      drained = true;
      break;
    }
    reader_.commit(static_cast<std::size_t>(n));
  }
  if (closed_) return;
  // Data queued for the tun or other links by the messages above goes out
  // in one batch per link; the owner flushes those. Our own replies (pongs)
  // are flushed here.
  flush();
  if (closed_) return;
  // Stopped by the bound, not by an empty socket: what was read last is not
  // parsed yet and more may wait inside TLS, where no readiness event would
  // announce it. Come back after the other work that is due.
  if (!drained) {
    net::post(socket_.get_executor(), [self = shared_from_this()] {
      if (!self->closed_) self->on_readable();
    });
    return;
  }
  do_wait_read();
}

long Link::read_some(std::span<std::uint8_t> room) {
  read_wait_ = net::socket_base::wait_read;
  auto ended = [this] {
    finish(closing_ ? "closed" : "the peer closed the connection", !closing_);
    return -1L;
  };
  if (tls_) {
    std::size_t got = 0;
    switch (tls_->read(room, got)) {
      case tls::Session::Status::ok:
        return static_cast<long>(got);
      case tls::Session::Status::want_read:
        return 0;
      case tls::Session::Status::want_write:
        read_wait_ = net::socket_base::wait_write;
        return 0;
      case tls::Session::Status::closed:
        return ended();
      case tls::Session::Status::failed:
        finish(tls_->error(), false);
        return -1;
    }
  }
  for (;;) {
    ssize_t n = ::read(socket_.native_handle(), room.data(), room.size());
    if (n > 0) return n;
    if (n == 0) return ended();
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
    finish(failure("read", {errno, boost::system::system_category()}), false);
    return -1;
  }
}

bool Link::handle(Frame& frame) {
  const auto& h = frame.header;
  const auto now = std::chrono::steady_clock::now();
  if (h.opcode != Opcode::ping) last_rx_ = now;
  if (options_.role == Role::server && !h.masked && !is_control(h.opcode)) {
    close(close_protocol_error, "client data frames must be masked");
    return false;
  }
  if (options_.reassemble && (h.opcode == Opcode::binary || h.opcode == Opcode::text) &&
      assembling_) {
    close(close_protocol_error, "a message began before the last one ended");
    return false;
  }
  switch (h.opcode) {
    case Opcode::binary:
    case Opcode::text:
      if (!h.fin) {
        if (options_.reassemble) {
          partial_.assign(frame.payload.begin(), frame.payload.end());
          partial_opcode_ = h.opcode;
          assembling_ = true;
          return true;
        }
        if (h.opcode == Opcode::text) {
          ++counters_.dropped_text;
          return true;
        }
        close(close_too_big, "fragmented messages are not accepted: send one packet per frame");
        return false;
      }
      return deliver(h.opcode, frame.payload);
    case Opcode::continuation:
      if (!assembling_) {
        // Text is no packet; fragments of one are dropped along with it.
        ++counters_.dropped_text;
        return true;
      }
      if (partial_.size() + frame.payload.size() > options_.max_message) {
        close(close_too_big, "a message over " + std::to_string(options_.max_message) + " bytes");
        return false;
      }
      partial_.insert(partial_.end(), frame.payload.begin(), frame.payload.end());
      if (!h.fin) return true;
      assembling_ = false;
      {
        const bool open = deliver(partial_opcode_, partial_);
        partial_.clear();
        return open;
      }
    case Opcode::ping:
      // Beyond the budget: no answer, and no sign of life. Within it, one
      // pong waits at most: a ping that comes while one does is answered
      // by it (RFC 6455 5.5.3 lets an endpoint answer only the latest).
      if (!ping_budget_.take(now)) {
        ++counters_.pings_ignored;
        return true;
      }
      last_rx_ = now;
      if (pong_waiting_) {
        ++counters_.pings_ignored;
        return true;
      }
      send_control(Opcode::pong, frame.payload);
      return true;
    case Opcode::pong:
      return true;
    case Opcode::close: {
      auto cp = parse_close_payload(frame.payload.data(), frame.payload.size());
      const bool by_peer = !closing_;
      if (!closing_) {
        // Echo the code (RFC 6455 5.5.1), then hang up once it is sent.
        auto payload = close_payload(
            cp.valid ? (cp.code == close_no_status ? close_normal : cp.code) : close_protocol_error,
            "");
        send_control(Opcode::close,
                     {reinterpret_cast<const std::uint8_t*>(payload.data()), payload.size()});
        closing_ = true;
        flush();
      }
      finish("the peer closed the link (" + std::to_string(cp.code) +
                 (cp.reason.empty() ? "" : ": " + cp.reason) + ")",
             by_peer);
      return false;
    }
  }
  return true;
}

bool Link::deliver(Opcode opcode, std::span<std::uint8_t> payload) {
  if (closing_) return true;  // after our close frame, data is discarded
  if (opcode == Opcode::text) {
    if (!on_text_) {
      ++counters_.dropped_text;
      return true;
    }
    on_text_(std::string_view(reinterpret_cast<const char*>(payload.data()), payload.size()));
    return !closed_;
  }
  ++counters_.rx_messages;
  counters_.rx_bytes += payload.size();
  if (on_message_) on_message_(payload);
  return !closed_;
}

void Link::send(OutFrame frame, std::size_t size, std::size_t skip) {
  if (closed_ || closing_) return pool_->give(std::move(frame));
  // A message that fills less than half its buffer waits in a copy of its
  // own size (a 60-byte packet read into a 64 KiB pool buffer would pin
  // 1000 times its size); the big buffer goes back to the pool at once.
  const std::size_t tight = max_header_size + size;
  const bool copy = frame.bytes.capacity() > 2 * tight;
  const std::size_t footprint = copy ? tight + sizeof(OutFrame) : frame.footprint();
  if (queued_bytes_ + footprint > options_.max_queue) {
    ++counters_.dropped_queue_full;
    pool_->give(std::move(frame));
    return note_full(std::chrono::steady_clock::now());
  }
  if (copy) {
    OutFrame small;
    small.bytes.resize(tight);
    std::memcpy(small.payload(), frame.payload() + skip, size);
    pool_->give(std::move(frame));
    frame = std::move(small);
    skip = 0;
  }
  const bool client = options_.role == Role::client;
  std::uint32_t key = client ? random_mask() : 0;
  const std::size_t hs = header_size_for(size, client);
  std::uint8_t* payload = frame.payload() + skip;
  frame.begin = max_header_size + skip - hs;
  write_header(frame.bytes.data() + frame.begin, Opcode::binary, size, true,
               client ? std::optional<std::uint32_t>(key) : std::nullopt);
  if (client) apply_mask(payload, size, key);
  frame.end = max_header_size + skip + size;
  ++counters_.tx_messages;
  counters_.tx_bytes += size;
  enqueue(std::move(frame));
}

void Link::enqueue(OutFrame&& frame) {
  queued_bytes_ += frame.footprint();
  counters_.queued = queued_bytes_;
  if (queued_bytes_ > counters_.queued_peak) counters_.queued_peak = queued_bytes_;
  queue_.push_back(std::move(frame));
}

void Link::dequeue_front() {
  OutFrame& f = queue_.front();
  queued_bytes_ -= f.footprint();
  counters_.queued = queued_bytes_;
  if (f.control == Opcode::pong) pong_waiting_ = false;
  if (f.control == Opcode::ping) ping_waiting_ = false;
  pool_->give(std::move(f));
  queue_.pop_front();
}

void Link::note_full(std::chrono::steady_clock::time_point now) {
  if (full_since_) return;
  full_since_ = now;
  // The tick gives a slow reader up; make sure it comes in time. (Not
  // from here: the owner is in the middle of handing us a frame.)
  const auto due = now + options_.liveness.dead_after;
  if (due < tick_at_) schedule_tick(due);
}

bool Link::give_up_slow(std::chrono::steady_clock::time_point now) {
  if (!full_since_ || now - *full_since_ < options_.liveness.dead_after) return false;
  ++counters_.closed_slow;
  closed_slow_ = true;
  // No close handshake: the close frame would wait behind what the peer
  // does not read. Closing frees the queue now.
  finish("a slow reader: its queue was full (" + std::to_string(queued_bytes_) +
             " bytes) and it took nothing for " + duration_text(options_.liveness.dead_after),
         false);
  return true;
}

void Link::send_control(Opcode op, std::span<const std::uint8_t> payload) {
  // Control frames jump no queue. They count in the queue but are not
  // refused when it is full; there is at most one of each kind waiting
  // (a pong, our ping, the close), so they add at most three small frames.
  OutFrame f;
  f.control = op;
  if (op == Opcode::pong) pong_waiting_ = true;
  if (op == Opcode::ping) ping_waiting_ = true;
  const std::size_t size = std::min(payload.size(), max_control_payload);
  const bool client = options_.role == Role::client;
  f.bytes.resize(max_header_size + size);
  std::memcpy(f.payload(), payload.data(), size);
  std::uint32_t key = client ? random_mask() : 0;
  const std::size_t hs = header_size_for(size, client);
  f.begin = max_header_size - hs;
  write_header(f.bytes.data() + f.begin, op, size, true,
               client ? std::optional<std::uint32_t>(key) : std::nullopt);
  if (client) apply_mask(f.payload(), size, key);
  f.end = max_header_size + size;
  enqueue(std::move(f));
}

void Link::send_text(std::string_view text) {
  if (closed_ || closing_) return;
  const bool client = options_.role == Role::client;
  const std::size_t hs = header_size_for(text.size(), client);
  OutFrame f;
  f.bytes.resize(max_header_size + text.size());
  if (queued_bytes_ + f.footprint() > options_.max_queue) {
    ++counters_.dropped_queue_full;
    return note_full(std::chrono::steady_clock::now());
  }
  std::memcpy(f.payload(), text.data(), text.size());
  std::uint32_t key = client ? random_mask() : 0;
  f.begin = max_header_size - hs;
  write_header(f.bytes.data() + f.begin, Opcode::text, text.size(), true,
               client ? std::optional<std::uint32_t>(key) : std::nullopt);
  if (client) apply_mask(f.payload(), text.size(), key);
  f.end = max_header_size + text.size();
  enqueue(std::move(f));
  flush();
}

void Link::flush() {
  if (!waiting_write_ && (!queue_.empty() || gather_sent_ < gather_.size()) && !closed_)
    do_write();
}

void Link::do_write() {
  if (tls_) {
    if (const int r = write_tls(); r <= 0) return;  // finished, or waits for a read
  } else {
    while (!queue_.empty()) {
      std::array<iovec, kWritevFrames> iov;
      std::size_t count = 0;
      for (auto it = queue_.begin(); it != queue_.end() && count < iov.size(); ++it, ++count) {
        std::size_t skip = count == 0 ? head_sent_ : 0;
        iov[count].iov_base = it->bytes.data() + it->begin + skip;
        iov[count].iov_len = it->end - it->begin - skip;
      }
      ssize_t n = ::writev(socket_.native_handle(), iov.data(), static_cast<int>(count));
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) break;
        return finish(failure("write", {errno, boost::system::system_category()}), false);
      }
      last_tx_ = std::chrono::steady_clock::now();
      if (n > 0) full_since_.reset();  // the peer takes what we send
      auto left = static_cast<std::size_t>(n);
      while (left > 0) {
        auto& f = queue_.front();
        std::size_t rest = f.end - f.begin - head_sent_;
        if (left < rest) {
          head_sent_ += left;  // its memory is held until all of it is sent
          left = 0;
          break;
        }
        left -= rest;
        head_sent_ = 0;
        dequeue_front();
      }
    }
  }
  if (queue_.empty() && gather_sent_ == gather_.size()) return;
  waiting_write_ = true;
  socket_.async_wait(net::socket_base::wait_write,
                     [self = shared_from_this()](boost::system::error_code ec) {
                       self->waiting_write_ = false;
                       if (self->closed_) return;
                       if (ec) return self->finish(self->failure("write", ec), false);
                       self->do_write();
                     });
}

int Link::write_tls() {
  for (;;) {
    const bool gathered = gather_sent_ < gather_.size();
    std::span<const std::uint8_t> data;
    std::size_t frame_size = 0;
    if (gathered) {
      data = {gather_.data() + gather_sent_, gather_.size() - gather_sent_};
    } else {
      if (queue_.empty()) return 1;
      OutFrame& f = queue_.front();
      frame_size = f.end - f.begin;
      // Small frames waiting together leave in one record: one copy each,
      // instead of a record (22 bytes more) and a system call each.
      if (!direct_pending_ && head_sent_ == 0 && frame_size < kRecordSize && queue_.size() > 1) {
        gather_.clear();
        gather_sent_ = 0;
        while (!queue_.empty()) {
          OutFrame& g = queue_.front();
          const std::size_t size = g.end - g.begin;
          if (!gather_.empty() && gather_.size() + size > kRecordSize) break;
          gather_.insert(gather_.end(), g.bytes.begin() + static_cast<std::ptrdiff_t>(g.begin),
                         g.bytes.begin() + static_cast<std::ptrdiff_t>(g.end));
          dequeue_front();
        }
        continue;
      }
      data = {f.bytes.data() + f.begin + head_sent_, frame_size - head_sent_};
    }
    std::size_t n = 0;
    switch (tls_->write(data, n)) {
      case tls::Session::Status::ok:
        last_tx_ = std::chrono::steady_clock::now();
        full_since_.reset();  // the peer takes what we send
        if (gathered) {
          gather_sent_ += n;
          if (gather_sent_ == gather_.size()) {
            gather_.clear();
            gather_sent_ = 0;
          }
        } else {
          direct_pending_ = false;
          head_sent_ += n;
          if (head_sent_ == frame_size) {
            head_sent_ = 0;
            dequeue_front();
          }
        }
        continue;
      case tls::Session::Status::want_write:
        if (!gathered) direct_pending_ = true;
        return 1;
      case tls::Session::Status::want_read:
        // Only a renegotiation would need this, and it is off. The reader
        // flushes after each read, which writes again.
        if (!gathered) direct_pending_ = true;
        return 0;
      case tls::Session::Status::closed:
        finish(closing_ ? "closed" : "the peer closed the connection", !closing_);
        return -1;
      case tls::Session::Status::failed:
        finish(tls_->error(), false);
        return -1;
    }
  }
}

void Link::close(std::uint16_t code, const std::string& reason) {
  if (closed_ || closing_) return;
  closing_ = true;
  auto payload = close_payload(code, reason);
  send_control(Opcode::close,
               {reinterpret_cast<const std::uint8_t*>(payload.data()), payload.size()});
  flush();
  // The peer answers with its close frame (handled by handle()) or the
  // timer below ends the link.
  timer_.expires_after(kCloseWait);
  timer_.async_wait([self = shared_from_this(), reason](boost::system::error_code ec) {
    if (!ec) self->finish(reason, false);
  });
  closing_reason_ = reason;
}

void Link::schedule_tick(std::chrono::steady_clock::time_point at) {
  tick_at_ = at;
  timer_.expires_at(at);
  timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
    if (!ec) self->on_tick();
  });
}

std::optional<std::chrono::steady_clock::time_point> Link::last_ack(
    std::chrono::steady_clock::time_point now) {
  tcp_info info{};
  socklen_t len = sizeof info;
  if (::getsockopt(socket_.native_handle(), IPPROTO_TCP, TCP_INFO, &info, &len) != 0 ||
      len < offsetof(tcp_info, tcpi_last_ack_recv) + sizeof info.tcpi_last_ack_recv)
    return std::nullopt;
  // Milliseconds since the kernel last took an acknowledgement from the
  // peer (any segment it sends carries one).
  return now - std::chrono::milliseconds(info.tcpi_last_ack_recv);
}

std::string Link::failure(const char* what, const boost::system::error_code& error) const {
  if (error == boost::system::errc::timed_out && options_.liveness.acks_count)
    return std::string(what) + ": the peer acknowledged nothing we sent for " +
           std::to_string(options_.liveness.dead_after.count() / 1000) + " s (TCP user timeout)";
  return std::string(what) + ": " + error.message();
}

void Link::on_tick() {
  if (closed_ || closing_) return;
  const auto now = std::chrono::steady_clock::now();
  if (give_up_slow(now)) return;
  LivenessTimes times{last_rx_, last_tx_, std::nullopt};
  if (options_.liveness.acks_count) times.acked = last_ack(now);
  const LivenessStep step = liveness_step(options_.liveness, times, now);
  if (step.action == LivenessStep::Action::give_up) {
    const std::string age = std::to_string(options_.liveness.dead_after.count() / 1000) + " s";
    close(close_going_away,
          options_.liveness.acks_count
              ? "nothing heard from the peer and nothing acknowledged by it for " + age
              : "nothing heard from the peer for " + age);
    return;
  }
  if (step.action == LivenessStep::Action::ping && !ping_waiting_) {
    send_control(Opcode::ping, {});
    flush();
  }
  auto next = step.next;
  if (full_since_) next = std::min(next, *full_since_ + options_.liveness.dead_after);
  schedule_tick(next);
}

void Link::finish(const std::string& reason, bool by_peer) {
  if (closed_) return;
  closed_ = true;
  boost::system::error_code ec;
  timer_.cancel();
  socket_.shutdown(net::ip::tcp::socket::shutdown_both, ec);
  socket_.close(ec);
  queue_.clear();
  gather_.clear();
  gather_sent_ = 0;
  queued_bytes_ = 0;
  counters_.queued = 0;
  full_since_.reset();
  pong_waiting_ = ping_waiting_ = false;
  auto cb = std::move(on_closed_);
  on_message_ = nullptr;
  if (cb) cb(closing_reason_.empty() ? reason : closing_reason_, by_peer);
}

}  // namespace mnigs::websocket
