#include "node.hpp"

#include <algorithm>
#include <array>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/status.hpp>
#include <boost/beast/http/write.hpp>
#include <cctype>
#include <random>
#include <sstream>

#include "message_reader.hpp"
#include "service_pool.hpp"
#include "util/host_port.hpp"
#include "wstunnel.hpp"

namespace mnigs::httptunnel {

namespace net = boost::asio;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;
using error_code = boost::system::error_code;

namespace {

// The part of a refusal's body that becomes the error text.
constexpr std::size_t kRefusalBody = 1024;

std::span<const std::uint8_t> as_bytes(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

// The first line of a gateway's refusal, as logs and status show it: its
// control characters (a hostile gateway's escape sequences) become '?'.
std::string first_line(std::string_view text) {
  text = text.substr(0, text.find('\n'));
  if (!text.empty() && text.back() == '\r') text.remove_suffix(1);
  std::string line(text);
  for (char& c : line)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
  return line;
}

}  // namespace

// ---- Backoff ----

Backoff::Duration Backoff::next(double unit) {
  unit = std::clamp(unit, 0.0, 1.0);
  const auto wait = Duration(
      static_cast<Duration::rep>(static_cast<double>(next_.count()) * (0.75 + 0.5 * unit)));
  next_ = std::min(options_.max, next_ * 2);
  return wait;
}

void Backoff::link_lasted(Duration up) {
  if (up >= options_.stable) next_ = options_.first;
}

// ---- the link's sockets and timers ----

struct NodeLink::Impl {
  explicit Impl(net::io_context& io)
      : io(io),
        socket(io),
        handshake(io),
        ping(io),
        retry(io),
        pool(io, {}),
        rng(std::random_device{}()) {}
  net::io_context& io;
  tcp::socket socket;
  net::steady_timer handshake;  // connecting and reading the upgrade answer
  net::steady_timer ping;
  net::steady_timer retry;
  std::vector<std::uint8_t> in = std::vector<std::uint8_t>(kReadChunk);
  std::vector<std::uint8_t> sending;  // a copy of the session's output being written
  std::string request;                // the upgrade request being written
  std::string head_in;                // the answer's bytes not yet parsed
  std::unique_ptr<MessageReader<false>> head;
  std::string refusal_body;
  bool refusal_done = false;
  ServicePool pool;  // idle connections to the services, for the next streams
  std::minstd_rand rng;
};

// ---- one stream ----

class NodeLink::Stream : public std::enable_shared_from_this<NodeLink::Stream> {
 public:
  Stream(NodeLink& link, std::int32_t id, std::string authority)
      : link_(&link),
        mux_(link.mux_.get()),
        id_(id),
        authority_(std::move(authority)),
        socket_(link.impl_->io),
        resolver_(link.impl_->io),
        timer_(link.impl_->io),
        reader_(kHeadLimit, {}) {
    reader_.eager(false);
  }

  StreamHandler handler() {
    auto self = shared_from_this();
    StreamHandler h;
    h.on_data = [self](std::span<const std::uint8_t> b) { self->on_data(b); };
    h.on_end = [self] { self->on_end(); };
    h.on_writable = [self] { self->push_out(); };
    h.on_closed = [self](std::uint32_t code) { self->on_closed(code); };
    return h;
  }

  // Called from on_stream, before any byte: a name this node does not serve.
  void refuse_unknown() { answer(404, "No service " + authority_ + " on this node\n"); }

  // The link is going: closes the backend; no call to the session after.
  void close() {
    if (closed_) return;
    closed_ = true;
    close_backend();
  }

 private:
  enum class Phase { head, connecting, piping, answered };

  // ---- from the gateway ----

  void on_data(std::span<const std::uint8_t> bytes) {
    if (phase_ != Phase::head) body_seen_ += bytes.size();
    if (phase_ == Phase::answered || discard_) return mux_->consumed(id_, bytes.size());
    pending_.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    pending_credit_ += bytes.size();
    if (phase_ == Phase::head) return parse_head();
    if (phase_ == Phase::piping) write_backend();
  }

  void on_end() {
    gateway_ended_ = true;
    if (phase_ == Phase::head) return answer(400, "Bad request: the request ended in its head\n");
    if (phase_ == Phase::piping) write_backend();
  }

  void on_closed(std::uint32_t code) {
    if (closed_) return;
    // What on_data delivered and the backend never took still holds the
    // connection's window.
    mux_->consumed(id_, SIZE_MAX);
    if (code != h2_error::no_error)
      link_->log_.debug("httptunnel: stream ", id_, " (", authority_, ") closed with ",
                        h2_error_name(code));
    close();
    link_->streams_.erase(id_);
  }

  void parse_head() {
    boost::beast::error_code ec;
    const std::size_t used = reader_.feed(as_bytes(pending_), ec);
    if (ec) {
      if (ec == http::error::header_limit) return answer(431, "Request header too large\n");
      return answer(400, "Bad request: " + ec.message() + "\n");
    }
    if (!reader_.is_header_done()) return;
    // The head is parsed into reader_.header(): its bytes are released now,
    // the rest (body or upgraded bytes) only once the backend takes them.
    pending_.erase(0, used);
    pending_credit_ -= used;
    body_seen_ = pending_.size();
    mux_->consumed(id_, used);
    route();
  }

  void route() {
    auto& h = reader_.header();
    std::string checked = authority_;  // what the health checks know it by
    if (authority_ == link::kTokenAuthority) {
      std::optional<std::string_view> x_host;
      const auto xh = h.find("X-Host");
      if (xh != h.end()) x_host = std::string_view(xh->value().data(), xh->value().size());
      if (x_host) checked.clear();  // another backend than `server`: not checked
      const auto& o = link_->options_;
      const wstunnel::Backend b = wstunnel::choose_backend(o.server, x_host, o.regexp);
      if (b.refusal) return answer(b.refusal.status, b.refusal.body);
      std::string why;
      const auto t = wstunnel::parse_base(b.base, &why);
      if (!t) return answer(502, "Bad gateway: " + why + "\n");
      h.erase("X-Host");
      // WStunnel's client sends the request to the backend's URL: its Host
      // is the backend's, as the URL writes it.
      h.set(http::field::host, t->authority);
      if (!t->prefix.empty()) h.target(t->prefix + std::string(h.target()));
      host_ = t->host;
      port_ = t->port;
      what_ = "the backend " + b.base;
    } else {
      host_ = "127.0.0.1";
      port_ = link_->options_.services.at(authority_);
      what_ = "the service " + authority_;
    }
    if (const auto& health = link_->options_.health; health && !checked.empty()) {
      if (const std::string why = health->failing(checked); !why.empty()) {
        link_->log_.debug("httptunnel: stream ", id_, ": ", what_, " fails its check: ", why);
        answer(503, "Service unavailable: " + what_ + " fails its health check\n",
               "Retry-After: 10\r\n");
        link_->flush();
        return;
      }
    }
    upgrade_ = h.find(http::field::upgrade) != h.end();
    // An upgrade is piped as it comes, and its end is the service's close.
    // Anything else asks to keep the connection: the answer is parsed for
    // where it ends (its bytes still pass unchanged), and a connection left
    // clean by it serves a later stream (ServicePool).
    keep_ = !upgrade_ && h.method() != http::verb::connect;
    if (keep_) {
      h.erase(http::field::connection);
      h.erase(http::field::keep_alive);
      head_only_ = h.method() == http::verb::head;
      answer_ = new_answer_reader();
      service_ = host_ + ":" + std::to_string(port_);
    }
    std::ostringstream s;
    s << h;
    // A request whose head is all of it, and that may be sent twice, is
    // sent again on a new connection if a kept one turns out closed.
    bodyless_ = reader_.is_done();
    chunked_ = reader_.chunked();
    content_length_ = reader_.length().value_or(0);
    if (keep_ && bodyless_ && wstunnel::idempotent(h.method())) replay_ = s.str();
    pending_.insert(0, s.str());  // the new head counts against no window
    link_->log_.debug("httptunnel: stream ", id_, " ", h.method_string(), " ", h.target(), " to ",
                      host_, ":", port_);
    connect();
  }

  // ---- the backend ----

  void connect() {
    phase_ = Phase::connecting;
    if (keep_ && !fresh_only_) {
      if (auto kept = link_->impl_->pool.take(service_)) {
        socket_ = std::move(*kept);
        reused_ = true;
        ++link_->status_.service_reuses;
        return on_connect({});
      }
    }
    auto self = shared_from_this();
    timer_.expires_after(link_->options_.connect_timeout);
    timer_.async_wait([self](error_code ec) {
      if (ec || self->closed_ || self->phase_ != Phase::connecting) return;
      self->offline("no answer within " +
                    std::to_string(self->link_->options_.connect_timeout.count()) + " s");
    });
    error_code ec;
    const auto address = net::ip::make_address(host_, ec);
    if (!ec) {
      socket_.async_connect({address, port_}, [self](error_code ec) { self->on_connect(ec); });
      return;
    }
    resolver_.async_resolve(
        host_, std::to_string(port_),
        [self](error_code ec, const tcp::resolver::results_type& results) {
          if (self->closed_ || self->phase_ != Phase::connecting) return;
          if (ec) return self->offline(self->host_ + ": " + ec.message());
          net::async_connect(self->socket_, results,
                             [self](error_code ec, const tcp::endpoint&) { self->on_connect(ec); });
        });
  }

  void on_connect(error_code ec) {
    if (closed_ || phase_ != Phase::connecting) return;
    if (ec) return offline(ec.message());
    timer_.cancel();
    if (!reused_) {
      ++link_->status_.service_connections;
      socket_.set_option(tcp::no_delay(true), ec);
    }
    if (!responded_) {
      if (!mux_->respond(id_, 200)) {
        link_->log_.debug("httptunnel: stream ", id_, ": ", mux_->last_refusal());
        close_backend();
        return;
      }
      responded_ = true;
    }
    phase_ = Phase::piping;
    write_backend();
    read_backend();
    link_->flush();
  }

  void offline(const std::string& why) {
    // The client learns that the service is away, not where it runs on
    // the node nor why; the node's log says both.
    link_->log_.info("httptunnel: ", what_, " (", host_, ":", port_, ") is offline: ", why);
    answer(503, "Service unavailable: " + what_ + " is offline\n", "Retry-After: 10\r\n");
    link_->flush();
  }

  void write_backend() {
    if (closed_ || writing_ || phase_ != Phase::piping) return;
    if (pending_.empty()) {
      // An upgraded connection's end is passed on as the peer's half-close.
      // A request's end is not: its framing says where it ends, and some
      // servers take a half-close as the client gone and drop the answer.
      if (gateway_ended_ && upgrade_ && !shut_) {
        shut_ = true;
        error_code ec;
        socket_.shutdown(tcp::socket::shutdown_send, ec);
      }
      return;
    }
    writing_ = true;
    sending_.swap(pending_);
    pending_.clear();
    sending_credit_ = std::exchange(pending_credit_, 0);
    net::async_write(socket_, net::buffer(sending_),
                     [self = shared_from_this()](error_code ec, std::size_t n) {
                       self->writing_ = false;
                       if (self->closed_) return;
                       if (self->again_) {
                         self->mux_->consumed(self->id_, std::exchange(self->sending_credit_, 0));
                         return self->send_again();
                       }
                       self->link_->status_.bytes_to_services += n;
                       // The window is returned only now: this is what stops a
                       // sender faster than the service.
                       self->mux_->consumed(self->id_, std::exchange(self->sending_credit_, 0));
                       self->sending_.clear();
                       if (ec) {
                         // The service stopped reading (it may have answered
                         // and closed): the rest is dropped, its answer still
                         // comes back.
                         self->discard_ = true;
                         self->mux_->consumed(self->id_, std::exchange(self->pending_credit_, 0));
                         self->pending_.clear();
                       } else {
                         self->write_backend();
                       }
                       self->link_->flush();
                     });
  }

  void read_backend() {
    if (closed_ || reading_ || backend_eof_ || phase_ != Phase::piping || !out_.empty()) return;
    reading_ = true;
    socket_.async_read_some(net::buffer(buf_),
                            [self = shared_from_this()](error_code ec, std::size_t n) {
                              self->reading_ = false;
                              if (self->closed_) return;
                              if (ec && n == 0 && self->closed_under_us()) return;
                              self->out_.append(self->buf_.data(), n);
                              self->link_->status_.bytes_from_services += n;
                              self->answer_bytes_ += n;
                              if (n > 0 && self->answer_ && !self->raw_) self->parse_answer(n);
                              if (self->phase_ == Phase::answered) {
                                // parse_answer found the end and let go of
                                // the connection.
                              } else if (ec == net::error::eof) {
                                self->backend_eof_ = true;
                              } else if (ec) {
                                // RFC 9113 section 8.5: a broken TCP connection is CONNECT_ERROR.
                                self->mux_->reset(self->id_, h2_error::connect_error);
                                self->close_backend();
                                self->link_->flush();
                                return;
                              }
                              self->push_out();
                              self->link_->flush();
                            });
  }

  // Hands out_ to the stream as far as its send buffer takes it; on_writable
  // brings the rest. Only an empty out_ lets the next read start.
  void push_out() {
    if (closed_) return;
    while (!out_.empty()) {
      const std::size_t n = mux_->write(id_, as_bytes(out_));
      if (n == 0) return;
      out_.erase(0, n);
    }
    if (backend_eof_ || phase_ == Phase::answered) {
      if (!ended_) {
        ended_ = true;
        mux_->end(id_);
      }
      return;
    }
    read_backend();
  }

  // An answer made here, in the stream, as the service would: the stream
  // ends after it and what the gateway still sends is dropped.
  void answer(unsigned status, const std::string& body, const std::string& extra = "") {
    if (closed_ || phase_ == Phase::answered) return;
    phase_ = Phase::answered;
    close_backend();
    mux_->consumed(id_, std::exchange(pending_credit_, 0) + std::exchange(sending_credit_, 0));
    pending_.clear();
    // A kept connection's replay may come here: its stream has its 200,
    // and nothing of an answer yet.
    if (!responded_ && !mux_->respond(id_, 200)) return;
    responded_ = true;
    const auto reason = http::obsolete_reason(http::int_to_status(status));
    out_ = "HTTP/1.1 " + std::to_string(status) + " " + std::string(reason) +
           "\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: " +
           std::to_string(body.size()) + "\r\nConnection: close\r\n" + extra + "\r\n" + body;
    push_out();
  }

  // ---- keeping the connection ----

  std::unique_ptr<MessageReader<false>> new_answer_reader() const {
    auto r =
        std::make_unique<MessageReader<false>>(kAnswerHeadLimit, MessageReader<false>::Events{});
    if (head_only_) r->skip(true);  // an answer to HEAD has no body, whatever it says
    return r;
  }

  // Follows the answer through the `n` bytes just added to out_. They pass
  // unchanged whatever comes of it; only where the answer ends matters.
  void parse_answer(std::size_t n) {
    const std::string_view fresh(out_.data() + out_.size() - n, n);
    std::string joined;
    std::string_view in = fresh;
    if (!answer_in_.empty()) {
      joined = std::exchange(answer_in_, {}) + std::string(fresh);
      in = joined;
    }
    for (;;) {
      boost::beast::error_code ec;
      in.remove_prefix(answer_->feed(as_bytes(in), ec));
      if (ec) {
        // Piped as it is to the service's close (the gateway's own parser
        // judges it), and the connection is not kept.
        link_->log_.debug("httptunnel: stream ", id_, ": ", what_, " answered ", ec.message());
        raw_ = true;
        return;
      }
      if (!answer_->is_done()) {
        if (in.size() > kAnswerHeadLimit) {
          raw_ = true;  // a line that never ends: not followed further
          return;
        }
        answer_in_.assign(in);  // a part of a line: offered again with more
        return;
      }
      const unsigned status = answer_->header().result_int();
      if (status == 101) {
        raw_ = true;  // a switch nobody asked for: piped to its end
        return;
      }
      if (status >= 200) break;
      answer_ = new_answer_reader();  // an interim answer (100, 103): the real one follows
    }
    // The answer ends here. What follows is no part of it, and a connection
    // that has more to say is not kept.
    const std::size_t extra = std::min(in.size(), n);
    out_.resize(out_.size() - extra);
    let_go(extra == 0);
  }

  // The answer is whole: the stream ends once out_ is through, and the
  // connection is kept if both sides are done with it.
  void let_go(bool clean) {
    phase_ = Phase::answered;
    // The request went out whole, and nothing more: a stream that carried
    // more than its head says (a second request behind a bodyless one)
    // must not leave an answer on the connection for another stream.
    const bool request_sent = !writing_ && pending_.empty() && !discard_ && !chunked_ &&
                              body_seen_ == content_length_;
    if (clean && request_sent && answer_->keep_alive() && !link_->stopped_) {
      timer_.cancel();
      link_->impl_->pool.give(service_, std::move(socket_));
    } else {
      // An answer before the whole request (a refusal of a large upload):
      // the rest is not sent.
      close_backend();
    }
    mux_->consumed(id_, std::exchange(pending_credit_, 0));
    pending_.clear();
  }

  // A kept connection that closed before a byte of its answer: the service
  // closed it while idle, as the request went out. A request that may be
  // sent twice goes again on a new connection; any other ends without an
  // answer (the gateway answers the client with an error): the service may
  // have acted on it.
  bool closed_under_us() {
    if (!reused_ || answer_bytes_ > 0 || replay_.empty() || again_) return false;
    again_ = true;
    phase_ = Phase::connecting;  // nothing reads or writes the closed socket meanwhile
    close_backend();
    if (!writing_) send_again();  // else once the write's handler runs
    return true;
  }

  void send_again() {
    again_ = reused_ = discard_ = backend_eof_ = false;
    fresh_only_ = true;
    link_->log_.debug("httptunnel: stream ", id_, ": a kept connection to ", what_,
                      " was closed; the request goes again on a new one");
    mux_->consumed(id_, std::exchange(pending_credit_, 0));
    pending_ = replay_;  // counts against no window, as the head did
    answer_in_.clear();
    answer_ = new_answer_reader();
    connect();
  }

  void close_backend() {
    timer_.cancel();
    resolver_.cancel();
    error_code ec;
    socket_.close(ec);
  }

  NodeLink* link_;   // valid while !closed_
  MuxSession* mux_;  // the session of the stream; valid while !closed_
  std::int32_t id_;
  std::string authority_;
  tcp::socket socket_;
  tcp::resolver resolver_;
  net::steady_timer timer_;
  MessageReader<true> reader_;
  Phase phase_ = Phase::head;
  std::string host_, what_;
  std::uint16_t port_ = 0;
  std::string pending_;             // from the gateway, for the backend
  std::size_t pending_credit_ = 0;  // bytes of pending_ that hold the window
  std::string sending_;             // being written to the backend
  std::size_t sending_credit_ = 0;
  std::string out_;  // for the gateway, not yet taken by the stream
  std::array<char, kReadChunk> buf_;  // not zeroed: a stream per request
  bool upgrade_ = false, gateway_ended_ = false, backend_eof_ = false, ended_ = false;
  bool writing_ = false, reading_ = false, shut_ = false, discard_ = false, closed_ = false;
  // Keeping the connection (parse_answer, let_go, ServicePool).
  std::unique_ptr<MessageReader<false>> answer_;  // the service's answer, for where it ends
  std::string answer_in_;  // its bytes the parser has yet to take
  std::string service_;    // "host:port": what the pool keeps connections by
  std::string replay_;     // the request as sent, when it may be sent again
  std::uint64_t answer_bytes_ = 0;
  std::uint64_t body_seen_ = 0;       // bytes from the gateway after the request's head
  std::uint64_t content_length_ = 0;  // what the head says the body is
  bool keep_ = false;        // asked to keep the connection; the answer is parsed
  bool head_only_ = false;   // a HEAD: its answer has no body
  bool bodyless_ = false;    // the head is all of the request
  bool chunked_ = false;     // its body is chunked: the connection is not kept
  bool reused_ = false;      // the connection was kept from an earlier stream
  bool fresh_only_ = false;  // sent again: not on a kept connection
  bool responded_ = false;   // the stream has its 200
  bool raw_ = false;         // the answer is not followed: piped to the close
  bool again_ = false;       // closed under us; sent again once no write is pending
};

// ---- the link ----

NodeLink::NodeLink(net::io_context& io, Logger& log, NodeOptions options)
    : impl_(std::make_unique<Impl>(io)),
      log_(log),
      options_(std::move(options)),
      backoff_(options_.backoff) {
  const bool v6 = options_.gateway_host.find(':') != std::string::npos;
  status_.gateway = (v6 ? "[" + options_.gateway_host + "]" : options_.gateway_host) + ":" +
                    std::to_string(options_.gateway_port);
  set_state("connecting");
}

NodeLink::~NodeLink() { stop(); }

void NodeLink::start() {
  if (started_ || stopped_) return;
  started_ = true;
  connect();
}

void NodeLink::stop() {
  if (stopped_) return;
  stopped_ = true;
  close_link();
  impl_->retry.cancel();
  impl_->pool.clear();
  set_state("down: stopped");
}

NodeStatus NodeLink::status() const {
  NodeStatus s = status_;
  s.streams_open = streams_.size();
  return s;
}

void NodeLink::set_state(std::string state) {
  status_.state = std::move(state);
  status_.since = Clock::now();
}

void NodeLink::connect() {
  if (stopped_) return;
  ++gen_;
  if (attempts_++ > 0) ++status_.reconnects;
  set_state("connecting");
  error_code ec;
  const auto address = net::ip::make_address(options_.gateway_host, ec);
  if (ec) return fail("the gateway '" + options_.gateway_host + "' is not an IP address");
  impl_->socket = tcp::socket(impl_->io);
  const std::uint64_t gen = gen_;
  auto self = shared_from_this();
  impl_->handshake.expires_after(options_.connect_timeout);
  impl_->handshake.async_wait([self, gen](error_code ec) {
    if (ec || self->stopped_ || gen != self->gen_ || self->up_) return;
    self->fail("the gateway " + self->status_.gateway + " did not answer within " +
               std::to_string(self->options_.connect_timeout.count()) + " s");
  });
  impl_->socket.async_connect({address, options_.gateway_port},
                              [self, gen](error_code ec) { self->on_connect(gen, ec); });
}

void NodeLink::on_connect(std::uint64_t gen, const error_code& ec) {
  if (stopped_ || gen != gen_) return;
  if (ec) return fail("cannot connect to the gateway " + status_.gateway + ": " + ec.message());
  error_code ignored;
  impl_->socket.set_option(tcp::no_delay(true), ignored);
  impl_->request = link::request(options_.hello, status_.gateway);
  net::async_write(impl_->socket, net::buffer(impl_->request),
                   [self = shared_from_this(), gen](error_code ec, std::size_t) {
                     if (self->stopped_ || gen != self->gen_) return;
                     if (ec) self->fail("writing to the gateway: " + ec.message());
                   });
  impl_->head_in.clear();
  impl_->refusal_body.clear();
  impl_->refusal_done = false;
  // Only a refusal's body is kept, and only its first kRefusalBody bytes.
  MessageReader<false>::Events events;
  events.on_body = [this](std::string_view b) {
    auto& body = impl_->refusal_body;
    body.append(b.substr(0, kRefusalBody - std::min(kRefusalBody, body.size())));
  };
  events.on_done = [this] { impl_->refusal_done = true; };
  impl_->head = std::make_unique<MessageReader<false>>(static_cast<std::uint32_t>(kHeadLimit),
                                                       std::move(events));
  impl_->head->eager(false);
  read_head(gen);
}

void NodeLink::read_head(std::uint64_t gen) {
  impl_->socket.async_read_some(net::buffer(impl_->in), [self = shared_from_this(), gen](
                                                            error_code ec, std::size_t n) {
    if (self->stopped_ || gen != self->gen_) return;
    auto& impl = *self->impl_;
    impl.head_in.append(reinterpret_cast<const char*>(impl.in.data()), n);
    if (ec) {
      return self->fail(ec == net::error::eof ? "the gateway closed the connection before answering"
                                              : "reading the gateway's answer: " + ec.message());
    }
    self->on_head(gen);
  });
}

void NodeLink::on_head(std::uint64_t gen) {
  auto& impl = *impl_;
  boost::beast::error_code ec;
  const std::size_t used = impl.head->feed(as_bytes(impl.head_in), ec);
  if (ec) return fail("the gateway's answer is not HTTP: " + ec.message());
  if (!impl.head->is_header_done()) {
    impl.head_in.erase(0, used);
    return read_head(gen);
  }
  impl.head_in.erase(0, used);
  const auto& h = impl.head->header();
  if (h.result_int() == 101 && link::wants(h)) return go_up(gen);
  refusal_status_ = h.result_int();
  impl.head->eager(true);
  read_refusal(gen);
}

void NodeLink::read_refusal(std::uint64_t gen) {
  auto& impl = *impl_;
  if (!impl.head_in.empty()) {
    boost::beast::error_code ec;
    const std::size_t used = impl.head->feed(as_bytes(impl.head_in), ec);
    impl.head_in.erase(0, used);
    if (ec) return refused();
    // What the parser leaves waits for more (a chunk line): a refusal's
    // sentence needs no more than a head's worth.
    if (impl.head_in.size() > kHeadLimit) return refused();
  }
  if (impl.refusal_done || impl.refusal_body.size() >= kRefusalBody ||
      impl.refusal_body.find('\n') != std::string::npos)
    return refused();
  impl.socket.async_read_some(
      net::buffer(impl.in), [self = shared_from_this(), gen](error_code ec, std::size_t n) {
        if (self->stopped_ || gen != self->gen_) return;
        auto& impl = *self->impl_;
        impl.head_in.append(reinterpret_cast<const char*>(impl.in.data()), n);
        if (ec) {
          boost::beast::error_code ignored;
          if (!impl.head_in.empty()) impl.head->feed(as_bytes(impl.head_in), ignored);
          impl.head->finish(ignored);  // a body that runs to the close ends here
          return self->refused();
        }
        self->read_refusal(gen);
      });
}

void NodeLink::refused() {
  std::string why = std::to_string(refusal_status_);
  const std::string line = first_line(impl_->refusal_body);
  if (!line.empty()) why += " " + line;
  close_link();
  status_.last_error = "refused: " + why;
  set_state("refused: " + why);
  log_.warn("httptunnel: the gateway ", status_.gateway, " refused the tunnel: ", why);
  // A 4xx (a wrong secret, an id held by another) stays until someone acts:
  // asking again soon would only hammer the gateway.
  // Refused for what it is (a secret another holds, a key taken): asking
  // again soon changes nothing. A gateway that serves no tunnels (404) or
  // is busy (503) may do so soon: the usual backoff.
  if (refusal_status_ == 400 || refusal_status_ == 401 || refusal_status_ == 403)
    backoff_.to_max();
  retry();
}

void NodeLink::go_up(std::uint64_t gen) {
  impl_->handshake.cancel();
  mux_ =
      std::make_unique<MuxSession>(MuxSession::Role::server, options_.limits,
                                   [this](std::int32_t id, std::string authority, Headers headers) {
                                     return on_stream(id, std::move(authority), std::move(headers));
                                   });
  up_ = true;
  up_at_ = heard_ = Clock::now();
  frames_seen_ = 0;
  set_state("up");
  log_.info("httptunnel: tunnel up through the gateway ", status_.gateway);
  const std::string rest = std::exchange(impl_->head_in, {});
  impl_->head.reset();
  if (!rest.empty()) {
    in_mux_ = true;
    const std::string err = mux_->feed(as_bytes(rest));
    in_mux_ = false;
    if (!err.empty()) return fail(err);
  }
  tick(gen);
  do_read(gen);
  flush();
}

StreamHandler NodeLink::on_stream(std::int32_t id, std::string authority, Headers headers) {
  ++status_.streams_served;
  auto s = std::make_shared<Stream>(*this, id, authority);
  streams_[id] = s;
  for (const auto& [name, value] : headers)
    if (name == link::kClientField)
      log_.debug("httptunnel: stream ", id, " for ", authority, " from ", value);
  StreamHandler h = s->handler();
  // A token link serves token requests only, an id link only its named
  // services: a gateway cannot reach the token's backend through an id
  // link, nor a named service through a token link.
  const bool token_link = options_.hello.key.starts_with("token:");
  if (token_link ? authority != link::kTokenAuthority
                 : (authority == link::kTokenAuthority || !options_.services.contains(authority)))
    s->refuse_unknown();
  return h;
}

void NodeLink::do_read(std::uint64_t gen) {
  if (reading_) return;
  reading_ = true;
  impl_->socket.async_read_some(net::buffer(impl_->in),
                                [self = shared_from_this(), gen](error_code ec, std::size_t n) {
                                  self->on_read(gen, ec, n);
                                });
}

void NodeLink::on_read(std::uint64_t gen, const error_code& ec, std::size_t n) {
  if (stopped_ || gen != gen_) return;
  reading_ = false;
  if (ec) {
    return fail(ec == net::error::eof ? "the gateway closed the connection"
                                      : "reading from the gateway: " + ec.message());
  }
  in_mux_ = true;
  const std::string err = mux_->feed({impl_->in.data(), n});
  in_mux_ = false;
  if (!err.empty()) return fail(err);
  flush();
  if (gen == gen_) do_read(gen);
}

void NodeLink::flush() {
  if (!mux_ || !up_ || writing_ || in_mux_) return;
  std::span<const std::uint8_t> out;
  // Handlers run inside output() may queue frames after it gathered none;
  // a second call picks them up.
  for (int i = 0; i < 3; ++i) {
    in_mux_ = true;
    out = mux_->output();
    in_mux_ = false;
    if (!out.empty() || !mux_->wants_output()) break;
  }
  if (out.empty()) {
    if (!mux_->alive()) {
      // Not here: a stream calls flush() in the middle of its own work.
      std::string why = mux_->error().empty() ? "the gateway ended the session" : mux_->error();
      net::post(impl_->io, [self = shared_from_this(), gen = gen_, why] {
        if (!self->stopped_ && gen == self->gen_) self->fail(why);
      });
    }
    return;
  }
  impl_->sending.assign(out.begin(), out.end());
  mux_->output_done(out.size());
  writing_ = true;
  net::async_write(impl_->socket, net::buffer(impl_->sending),
                   [self = shared_from_this(), gen = gen_](error_code ec, std::size_t) {
                     if (self->stopped_ || gen != self->gen_) return;
                     self->writing_ = false;
                     if (ec) return self->fail("writing to the gateway: " + ec.message());
                     self->flush();
                   });
}

void NodeLink::tick(std::uint64_t gen) {
  if (stopped_ || gen != gen_) return;
  const auto now = Clock::now();
  const std::uint64_t frames = mux_->counters().frames_in;
  if (frames != frames_seen_) {
    frames_seen_ = frames;
    heard_ = now;
  } else if (now - heard_ >= options_.ping_timeout) {
    return fail("ping timeout: nothing from the gateway in " +
                std::to_string(options_.ping_timeout.count()) + " s");
  }
  mux_->ping();
  flush();
  // A third of the timeout: two pings may go unanswered before the link
  // is called dead.
  impl_->ping.expires_after(std::chrono::duration_cast<Clock::duration>(options_.ping_timeout) / 3);
  impl_->ping.async_wait([self = shared_from_this(), gen](error_code ec) {
    if (!ec) self->tick(gen);
  });
}

void NodeLink::fail(const std::string& why) {
  if (stopped_) return;
  if (up_)
    backoff_.link_lasted(std::chrono::duration_cast<Backoff::Duration>(Clock::now() - up_at_));
  close_link();
  status_.last_error = why;
  set_state("down: " + why);
  log_.warn("httptunnel: link to the gateway ", status_.gateway, " down: ", why);
  retry();
}

void NodeLink::close_link() {
  // Completions of this attempt find another generation and do nothing.
  ++gen_;
  up_ = reading_ = writing_ = false;
  impl_->handshake.cancel();
  impl_->ping.cancel();
  error_code ec;
  impl_->socket.close(ec);
  auto streams = std::exchange(streams_, {});
  for (auto& [id, s] : streams) s->close();
  mux_.reset();
  impl_->head.reset();
}

void NodeLink::retry() {
  if (stopped_) return;
  const double unit = std::uniform_real_distribution<double>(0.0, 1.0)(impl_->rng);
  impl_->retry.expires_after(backoff_.next(unit));
  impl_->retry.async_wait([self = shared_from_this()](error_code ec) {
    if (!ec && !self->stopped_) self->connect();
  });
}

}  // namespace mnigs::httptunnel
