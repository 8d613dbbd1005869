#include "wstunnel_link.hpp"

#include "wstunnel.hpp"

#include <boost/asio/post.hpp>
#include <boost/beast/websocket/error.hpp>

#include <algorithm>

namespace mnigs::httptunnel {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {

// WStunnel's server reads messages of at most 100 MiB; so does this one.
constexpr std::size_t kMessageMax = 100u << 20;
// One read hands a channel at most this much, so a paused link holds at
// most receive_window + kReadChunk bytes of one answer downstream.
constexpr std::size_t kReadChunk = 64 * 1024;
// Frames of a message we send (gorilla reassembles fragments of any size;
// larger frames cost fewer headers than Beast's 4 KiB default).
constexpr std::size_t kFrameSize = 16 * 1024;
// The client must complete the handshake (read our 101) in this time.
constexpr std::chrono::seconds kHandshakeTimeout{15};
// Ids run 1..31999 (WStunnel counts modulo 32000 and starts at 1).
constexpr std::uint16_t kLastId = wstunnel::kIdModulus - 1;

std::string address_of(const tcp::socket& s) {
  boost::system::error_code ec;
  const auto e = s.remote_endpoint(ec);
  if (ec) return "?";
  const auto host = e.address().to_string();
  return (e.address().is_v6() ? "[" + host + "]" : host) + ":" + std::to_string(e.port());
}

}  // namespace

// One request's state, shared by the link and the channel handle so that
// either may go first.
struct WstunnelLink::Request {
  std::uint16_t id = 0;
  Channel::Events events;
  std::string pending;       // written, not yet handed to the socket (the id first)
  bool ended = false;        // end(): pending holds the message's last bytes
  bool issued = false;       // a fragment of its message went to the socket
  bool finished = false;     // the message's final fragment was sent
  bool blocked = false;      // write() took less than offered: on_writable owed
  bool answered = false;     // its answer ended: on_end ran
  bool gone = false;         // aborted or destroyed: no event runs any more
  bool failed = false;       // the link failed under it: on_failed only
  std::size_t unconsumed = 0;  // answer bytes delivered, not consumed()
  bool live() const { return !gone && !failed; }
};

class WstunnelLink::Handle : public Channel {
 public:
  Handle(std::weak_ptr<WstunnelLink> link, RequestPtr r)
      : link_(std::move(link)), r_(std::move(r)) {}
  ~Handle() override { Handle::abort(); }
  std::size_t write(std::span<const std::uint8_t> bytes) override {
    auto link = link_.lock();
    return link ? link->write(r_, bytes) : 0;
  }
  void end() override {
    if (auto link = link_.lock()) link->end(r_);
  }
  void consumed(std::size_t n) override {
    if (auto link = link_.lock()) link->consumed(r_, n);
  }
  void abort() override {
    if (auto link = link_.lock()) link->release(r_);
    r_->gone = true;
  }

 private:
  std::weak_ptr<WstunnelLink> link_;
  RequestPtr r_;
};

WstunnelLink::WstunnelLink(tcp::socket socket, WstunnelLinkOptions options, Logger& log,
                           Hooks hooks)
    : ws_(std::move(socket)),
      silence_(ws_.get_executor()),
      grace_(ws_.get_executor()),
      options_(options),
      log_(log),
      hooks_(std::move(hooks)),
      address_(address_of(ws_.next_layer())),
      read_buf_(kReadChunk) {
  // Every id in flight must leave one free for next_id() to find.
  options_.max_in_flight = std::clamp<std::size_t>(options_.max_in_flight, 1, kLastId - 1);
  options_.send_buffer = std::max<std::size_t>(options_.send_buffer, 1);
}

WstunnelLink::~WstunnelLink() = default;

void WstunnelLink::start(beast::http::request_header<> head, std::string pending) {
  if (!pending.empty())
    return fail("the client sent " + std::to_string(pending.size()) +
                    " bytes before its handshake was answered",
                false);
  websocket::stream_base::timeout t{};
  t.handshake_timeout = kHandshakeTimeout;
  t.idle_timeout = websocket::stream_base::none();  // on_silence() watches pings
  t.keep_alive_pings = false;
  ws_.set_option(t);
  ws_.read_message_max(kMessageMax);
  ws_.auto_fragment(true);
  ws_.write_buffer_bytes(kFrameSize);
  ws_.binary(true);
  ws_.control_callback([this](websocket::frame_type, beast::string_view) {
    // Runs inside a read, which holds the link alive.
    last_heard_ = Clock::now();
  });
  upgrade_ = std::make_unique<beast::http::request<beast::http::empty_body>>(std::move(head));
  ws_.async_accept(*upgrade_, [self = shared_from_this()](boost::system::error_code ec) {
    self->on_accept(ec);
  });
}

void WstunnelLink::on_accept(boost::system::error_code ec) {
  upgrade_.reset();
  if (closed_) return;
  if (ec) return fail("the WebSocket handshake failed: " + ec.message(), false);
  accepted_ = true;
  log_.info(describe(), ": connected");
  last_heard_ = Clock::now();
  arm_silence();
  do_read();
  do_write();
}

void WstunnelLink::close(const std::string& why) { fail(why, true); }

bool WstunnelLink::has_room() const {
  return !closed_ && by_id_.size() < options_.max_in_flight;
}

std::string WstunnelLink::describe() const { return address_ + " wstunnel"; }

std::unique_ptr<Channel> WstunnelLink::open(const ChannelRequest& request,
                                            Channel::Events events) {
  auto r = std::make_shared<Request>();
  r->events = std::move(events);
  auto handle = std::make_unique<Handle>(weak_from_this(), r);
  std::string refusal;
  if (closed_)
    refusal = "the WStunnel client's link is closed (" + why_ + ")";
  else if (!request.service.empty())
    refusal = "a WStunnel client serves no named services (asked for " + request.service + ")";
  else if (!has_room())
    refusal = "the WStunnel client has " + std::to_string(by_id_.size()) +
              " requests in flight already";
  if (!refusal.empty()) {
    r->failed = true;
    post_failed(r, refusal, true);
    return handle;
  }
  r->id = next_id();
  r->pending = wstunnel::format_id(r->id);
  by_id_.emplace(r->id, r);
  send_queue_.push_back(r);
  ++counters_.requests;
  do_write();
  return handle;
}

std::uint16_t WstunnelLink::next_id() {
  // Terminates: fewer than kLastId ids are ever in use (max_in_flight).
  for (;;) {
    const std::uint16_t id = next_id_;
    next_id_ = next_id_ == kLastId ? 1 : static_cast<std::uint16_t>(next_id_ + 1);
    if (!by_id_.contains(id)) return id;
  }
}

// ---- requests: channel calls ----

std::size_t WstunnelLink::write(const RequestPtr& r, std::span<const std::uint8_t> bytes) {
  if (!r->live() || r->ended || closed_ || bytes.empty()) return 0;
  const std::size_t room =
      options_.send_buffer > r->pending.size() ? options_.send_buffer - r->pending.size() : 0;
  const std::size_t n = std::min(room, bytes.size());
  if (n < bytes.size()) r->blocked = true;
  r->pending.append(reinterpret_cast<const char*>(bytes.data()), n);
  if (n > 0) do_write();
  return n;
}

void WstunnelLink::end(const RequestPtr& r) {
  if (!r->live() || r->ended || closed_) return;
  r->ended = true;
  do_write();
}

void WstunnelLink::consumed(const RequestPtr& r, std::size_t n) {
  r->unconsumed -= std::min(n, r->unconsumed);
  if (paused_) update_pause();
}

void WstunnelLink::release(const RequestPtr& r) {
  if (r->gone) return;
  r->gone = true;
  forget(r);
  if (closed_) return;
  if (target_ == r) target_.reset();  // the rest of its answer is dropped
  if (!r->issued) {
    std::erase(send_queue_, r);
  } else if (!r->finished) {
    // Half sent: end the message with what went, so the next one is framed
    // right. The client gets a truncated request and fails it.
    if (!r->ended || !r->pending.empty()) ++counters_.truncated;
    r->pending.clear();
    r->ended = true;
    do_write();
  }
  if (paused_) update_pause();
}

void WstunnelLink::forget(const RequestPtr& r) {
  const auto it = by_id_.find(r->id);
  if (it == by_id_.end() || it->second != r) return;
  const bool was_full = by_id_.size() >= options_.max_in_flight;
  by_id_.erase(it);
  if (was_full && !closed_) post_room();
}

// ---- sending ----

void WstunnelLink::do_write() {
  if (writing_ || closed_ || !accepted_ || send_queue_.empty()) return;
  const RequestPtr r = send_queue_.front();
  // The message on the wire waits for its channel's next bytes; the
  // messages behind it cannot start before it ends.
  if (r->pending.empty() && !r->ended) return;
  const bool fin = r->ended;  // everything left of the message is in pending
  sending_.swap(r->pending);
  r->pending.clear();
  r->issued = true;
  writing_ = true;
  ws_.async_write_some(fin, net::buffer(sending_),
                       [self = shared_from_this(), r, fin](boost::system::error_code ec,
                                                           std::size_t n) {
                         self->on_write(ec, n, r, fin);
                       });
}

void WstunnelLink::on_write(boost::system::error_code ec, std::size_t n, const RequestPtr& r,
                            bool fin) {
  writing_ = false;
  sending_.clear();
  if (closed_) return;
  if (ec) return fail("writing to the client failed: " + ec.message(), false);
  counters_.bytes_out += n;
  if (fin) {
    r->finished = true;
    if (!send_queue_.empty() && send_queue_.front() == r) send_queue_.pop_front();
  }
  if (r->blocked && r->live() && r->pending.size() < options_.send_buffer) {
    r->blocked = false;
    post_writable(r);
  }
  do_write();
}

// ---- receiving ----

void WstunnelLink::do_read() {
  if (reading_ || closed_ || paused_ || !accepted_) return;
  reading_ = true;
  ws_.async_read_some(net::buffer(read_buf_),
                      [self = shared_from_this()](boost::system::error_code ec, std::size_t n) {
                        self->on_read(ec, n);
                      });
}

void WstunnelLink::on_read(boost::system::error_code ec, std::size_t n) {
  // reading_ stays set until the end: a consumed() from inside on_data must
  // not start the next read while this one's message state is in use.
  if (closed_ || ec) {
    reading_ = false;
    if (closed_) return;
    if (ec == websocket::error::closed) return fail("the client closed the link", false);
    return fail("reading from the client failed: " + ec.message(), false);
  }
  last_heard_ = Clock::now();
  counters_.bytes_in += n;
  const bool message_done = ws_.is_message_done();
  if (!in_message_) {
    in_message_ = true;
    id_size_ = 0;
    target_.reset();
    if (ws_.got_text()) {
      reading_ = false;
      return fail("the client sent a text message (WStunnel sends binary ones only)", true);
    }
  }
  std::span<const std::uint8_t> data(read_buf_.data(), n);
  if (id_size_ < wstunnel::kIdSize) {
    const std::size_t take = std::min(wstunnel::kIdSize - id_size_, data.size());
    std::copy_n(data.begin(), take, id_.begin() + static_cast<std::ptrdiff_t>(id_size_));
    id_size_ += take;
    data = data.subspan(take);
    if (id_size_ == wstunnel::kIdSize) route_message();
  }
  const RequestPtr r = target_;  // kept while its events run
  if (r && r->live() && !data.empty()) {
    r->unconsumed += data.size();
    if (r->events.on_data) r->events.on_data(data);
  }
  if (message_done) {
    in_message_ = false;
    if (id_size_ < wstunnel::kIdSize) {
      ++counters_.orphans;
      log_.debug(describe(), ": dropped a message of ", id_size_, " bytes (no id)");
    } else if (r && r->live() && target_ == r && !closed_) {
      r->answered = true;
      ++counters_.responses;
      forget(r);
      if (r->events.on_end) r->events.on_end();
    }
    target_.reset();
  }
  reading_ = false;
  if (closed_) return;
  update_pause();
  do_read();
}

void WstunnelLink::route_message() {
  const auto id = wstunnel::parse_id(id_);
  const auto it = id ? by_id_.find(*id) : by_id_.end();
  if (it != by_id_.end() && it->second->live()) {
    target_ = it->second;
    return;
  }
  // No request holds it: answered already, given up, or never sent.
  ++counters_.orphans;
  log_.debug(describe(), ": dropped an answer for id ",
             std::string(reinterpret_cast<const char*>(id_.data()), id_.size()));
}

void WstunnelLink::update_pause() {
  const bool full = target_ && target_->live() && target_->unconsumed > options_.receive_window;
  if (paused_ && !full) {
    paused_ = false;
    // The client could not be heard while we did not read: its silence
    // counts from now.
    last_heard_ = Clock::now();
    do_read();
    return;
  }
  paused_ = full;
}

// ---- liveness ----

void WstunnelLink::arm_silence() {
  silence_.expires_at(last_heard_ + options_.ping_timeout);
  silence_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
    if (!ec && !self->closed_) self->on_silence();
  });
}

void WstunnelLink::on_silence() {
  const auto now = Clock::now();
  if (paused_) last_heard_ = now;  // not reading: pings wait unread in the socket
  if (now - last_heard_ >= options_.ping_timeout)
    return fail("no ping from the client for " + std::to_string(options_.ping_timeout.count()) +
                    " s",
                true);
  arm_silence();
}

// ---- the end ----

void WstunnelLink::fail(const std::string& why, bool send_close) {
  if (closed_) return;
  closed_ = true;
  why_ = why;
  silence_.cancel();
  log_.info(describe(), ": closed: ", why);
  std::vector<RequestPtr> all;
  for (const auto& [id, r] : by_id_) all.push_back(r);
  for (const auto& r : send_queue_)
    if (std::find(all.begin(), all.end(), r) == all.end()) all.push_back(r);
  by_id_.clear();
  send_queue_.clear();
  target_.reset();
  for (const auto& r : all) {
    if (!r->live() || r->answered) continue;
    r->failed = true;
    post_failed(r, why, !r->issued);
  }
  auto self = shared_from_this();
  if (send_close && accepted_) {
    // A peer that does not read must not hold the socket open: the grace
    // timer closes it if the Close handshake does not end first.
    grace_.expires_after(options_.close_grace);
    grace_.async_wait([self](boost::system::error_code ec) {
      if (!ec) self->shut();
    });
    ws_.async_close(websocket::close_code::going_away, [self](boost::system::error_code) {
      self->grace_.cancel();
      self->shut();
    });
  } else {
    shut();
  }
  net::post(ws_.get_executor(), [self] {
    if (self->hooks_.on_closed) self->hooks_.on_closed(*self);
  });
}

void WstunnelLink::shut() {
  boost::system::error_code ec;
  auto& s = ws_.next_layer();
  s.shutdown(tcp::socket::shutdown_both, ec);
  s.close(ec);
}

// ---- events, always posted ----

void WstunnelLink::post_failed(const RequestPtr& r, std::string why, bool unseen) {
  net::post(ws_.get_executor(), [r, why = std::move(why), unseen] {
    if (!r->gone && r->events.on_failed) r->events.on_failed(why, unseen);
  });
}

void WstunnelLink::post_writable(const RequestPtr& r) {
  net::post(ws_.get_executor(), [r] {
    if (r->live() && r->events.on_writable) r->events.on_writable();
  });
}

void WstunnelLink::post_room() {
  net::post(ws_.get_executor(), [self = shared_from_this()] {
    if (self->has_room() && self->hooks_.on_room) self->hooks_.on_room(*self);
  });
}

}  // namespace mnigs::httptunnel
