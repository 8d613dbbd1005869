#include "front.hpp"

#include "message_reader.hpp"
#include "wstunnel.hpp"

#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/rfc7230.hpp>
#include <boost/beast/http/write.hpp>

#include <algorithm>
#include <set>
#include <sstream>

namespace mnigs::httptunnel {

namespace net = boost::asio;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {

// What one read from the client takes at most, and so what a request's
// body can put in the queue towards its channel at once.
constexpr std::size_t kChunk = 64 * 1024;
// A request that failed under its tunnel is sent again at most this often,
// and only when the whole request (head and body) is still in hand.
constexpr int kMaxRetries = 2;
constexpr std::size_t kReplayLimit = 64 * 1024;

std::string hex(std::size_t n) {
  std::ostringstream s;
  s << std::hex << n;
  return s.str();
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

// The host part of a Host header, lowercased, without port or final dot.
std::string host_of(std::string_view host) {
  if (!host.empty() && host.front() == '[') {
    const auto close = host.find(']');
    return lower(host.substr(0, close == std::string_view::npos ? host.size() : close + 1));
  }
  const auto colon = host.find(':');
  std::string h = lower(host.substr(0, colon));
  if (!h.empty() && h.back() == '.') h.pop_back();
  return h;
}

// Whether the client keeps the connection for another request: HTTP/1.1
// unless it says close, HTTP/1.0 only when it says keep-alive.
bool keep_alive(const http::request_header<>& h) {
  http::token_list tokens(h[http::field::connection]);
  if (h.version() >= 11) return !tokens.exists("close");
  return tokens.exists("keep-alive");
}

// Why a request's head is refused (RFC 9112 3.2, 6.1, 6.3), or nullptr:
// no Host, or several, on HTTP/1.1; a Transfer-Encoding that does not end
// in chunked, or one beside a Content-Length.
const char* framing_refusal(const http::request_header<>& h) {
  const auto hosts = h.count(http::field::host);
  if (hosts > 1) return "Bad request: more than one Host field";
  if (hosts == 0 && h.version() >= 11) return "Bad request: no Host field";
  const auto te = h.count(http::field::transfer_encoding);
  if (te == 0) return nullptr;
  if (h.count(http::field::content_length) > 0)
    return "Bad request: both Transfer-Encoding and Content-Length";
  if (te > 1) return "Bad request: more than one Transfer-Encoding field";
  http::token_list codings(h[http::field::transfer_encoding]);
  std::string last;
  for (const auto& c : codings) last = lower({c.data(), c.size()});
  if (last != "chunked") return "Bad request: a Transfer-Encoding that does not end in chunked";
  return nullptr;
}

bool loopback(const tcp::endpoint& e) {
  auto a = e.address();
  if (a.is_v6() && a.to_v6().is_v4_mapped())
    a = net::ip::make_address_v4(net::ip::v4_mapped, a.to_v6());
  return a.is_loopback();
}

}  // namespace

std::string cap_key(net::ip::address a) {
  if (a.is_v6() && a.to_v6().is_v4_mapped())
    a = net::ip::make_address_v4(net::ip::v4_mapped, a.to_v6());
  if (a.is_v4()) return a.to_string();
  auto bytes = a.to_v6().to_bytes();
  std::fill(bytes.begin() + 8, bytes.end(), 0);
  return net::ip::address_v6(bytes).to_string() + "/64";
}

struct Front::Shared {
  Registry& registry;
  Logger& log;
  Hooks hooks;
  std::map<std::string, std::size_t> per_address;
  std::set<std::shared_ptr<Connection>> connections;
  bool stopped = false;
  KeyMetrics metrics;
};

class Front::Connection : public std::enable_shared_from_this<Front::Connection> {
 public:
  Connection(tcp::socket socket, std::shared_ptr<Shared> shared,
             std::shared_ptr<FrontOptions> options, std::shared_ptr<FrontCounters> counters,
             std::string address)
      : socket_(std::move(socket)),
        timer_(socket_.get_executor()),
        shared_(std::move(shared)),
        options_(std::move(options)),
        counters_(std::move(counters)),
        address_(std::move(address)) {
    boost::system::error_code ec;
    peer_ = socket_.remote_endpoint(ec);
  }

  void start() {
    next_request();
    read();
  }

  // Ends it now (stop, or a fatal error), without an answer.
  void close() {
    if (closed_) return;
    closed_ = true;
    disarm();
    drop_channel();
    if (queued_) shared_->registry.cancel(key_, ticket_);
    queued_ = false;
    boost::system::error_code ec;
    socket_.shutdown(tcp::socket::shutdown_both, ec);
    socket_.close(ec);
    auto self = shared_from_this();
    if (auto it = shared_->per_address.find(address_); it != shared_->per_address.end())
      if (--it->second == 0) shared_->per_address.erase(it);
    shared_->connections.erase(self);
  }

 private:
  enum class State {
    head,       // reading a request head
    waiting,    // routed, waiting for a tunnel
    streaming,  // the request goes to its channel, the answer comes back
    upgraded,   // after 101: bytes both ways
    draining,   // the answer is written, then the connection closes
  };

  // ---- reading from the client ----

  void next_request() {
    state_ = State::head;
    request_done_ = response_done_ = head_sent_ = chunked_in_ = chunked_out_ = false;
    upgrade_ = channel_ended_ = has_body_ = false;
    keep_alive_ = true;
    retries_ = 0;
    replay_.clear();
    replayable_ = true;
    resp_in_.clear();
    resp_.reset();
    interim_ = reset_resp_ = bad_interim_ = false;
    to_channel_.clear();
    unacked_ = 0;
    stats_.reset();
    answer_counted_ = false;
    req_ = std::make_unique<MessageReader<true>>(
        options_->header_limit,
        MessageReader<true>::Events{[this] { on_request_head(); },
                                    [this](std::string_view b) { on_request_body(b); },
                                    [this] { on_request_done(); }});
    req_->eager(false);
    arm(options_->head_timeout, [](Connection& c) {
      ++c.counters_->slow_heads;
      c.close();
    });
  }

  bool wants_input() const {
    if (closed_ || !to_channel_.empty()) return false;
    switch (state_) {
      case State::head: return true;
      case State::streaming: return !request_done_;
      case State::upgraded: return true;
      default: return false;
    }
  }

  void read() {
    if (reading_ || !wants_input()) return;
    if (in_.size() >= options_->header_limit + kChunk) return;  // parse first
    reading_ = true;
    const std::size_t have = in_.size();
    in_.resize(have + kChunk);
    socket_.async_read_some(
        net::buffer(in_.data() + have, kChunk),
        [self = shared_from_this(), have](boost::system::error_code ec, std::size_t n) {
          self->reading_ = false;
          self->in_.resize(have + n);
          if (self->closed_) return;
          self->last_progress_ = Clock::now();
          if (ec) return self->on_client_closed();
          self->process();
        });
  }

  void on_client_closed() {
    // Nothing more will come: a request not complete is given up, and an
    // upgraded connection ends its side.
    if (state_ == State::upgraded && channel_) {
      if (!channel_ended_) {
        channel_ended_ = true;
        channel_->end();
      }
      client_eof_ = true;
      return;
    }
    close();
  }

  // Hands what was read to the parser (or, upgraded, to the channel). The
  // only caller of the parser: its callbacks never call back in here.
  void process() {
    if (in_process_) return;
    auto self = shared_from_this();  // a callback may close it
    in_process_ = true;
    process_input();
    in_process_ = false;
    if (handover_) return hand_over_tunnel();
    if (state_ == State::head && !closed_ && in_.size() >= options_->header_limit + kChunk) {
      ++counters_->bad_requests;
      keep_alive_ = false;
      return refuse(431, "Request header too large\n");
    }
    read();
  }

  void process_input() {
    while (!closed_ && !handover_ && !in_.empty()) {
      if (state_ == State::upgraded) {
        to_channel_.append(reinterpret_cast<const char*>(in_.data()), in_.size());
        in_.clear();
        flush_to_channel();
        break;
      }
      if (!(state_ == State::head || (state_ == State::streaming && !request_done_)) ||
          !to_channel_.empty())
        break;
      boost::beast::error_code ec;
      const State before = state_;
      const std::size_t n = req_->feed(in_, ec);
      in_.erase(in_.begin(), in_.begin() + static_cast<std::ptrdiff_t>(n));
      if (ec) {
        ++counters_->bad_requests;
        keep_alive_ = false;  // where the next request would begin is unknown
        const bool too_big = ec == http::error::header_limit;
        return refuse(too_big ? 431 : 400,
                      too_big ? "Request header too large\n"
                              : "Bad request: " + ec.message() + "\n");
      }
      if (n == 0 && state_ == before) break;
    }
  }

  // ---- a request's head: where it goes ----

  void on_request_head() {
    ++counters_->requests;
    head_at_ = Clock::now();
    auto& h = req_->header();
    const std::string target(h.target());
    has_body_ = req_->chunked() || req_->length().value_or(0) > 0;
    chunked_in_ = req_->chunked();
    method_ = h.method();
    keep_alive_ = keep_alive(h);
    // An upgrade only where Connection names it (RFC 9110 7.8); otherwise
    // Upgrade is a hop-by-hop field like any other, and is dropped.
    upgrade_ = h.find(http::field::upgrade) != h.end() && h.version() >= 11 &&
               http::token_list(h[http::field::connection]).exists("upgrade");
    // Forms RFC 9112 says to refuse, so that nothing before or after the
    // gateway can read this request's bounds or its host otherwise.
    if (const char* why = framing_refusal(h)) {
      ++counters_->bad_requests;
      keep_alive_ = false;
      return refuse(400, std::string(why) + "\n");
    }
    if (target == "/_health_check")
      return answer(200, std::string(wstunnel::kHealthBody));
    if (target == "/_stats")
      return answer(200, shared_->hooks.stats ? shared_->hooks.stats(loopback(peer_)) : "");
    if ((target == "/_tunnel" || target.starts_with("/_tunnel?")) && upgrade_ &&
        shared_->hooks.tunnel) {
      handover_ = true;  // once the parser is out of the way (process())
      return;
    }
    if (!options_->domain.empty()) {
      const auto host_field = h[http::field::host];
      const std::string host = host_of({host_field.data(), host_field.size()});
      const std::string suffix = "." + options_->domain;
      if (host.size() > suffix.size() && host.ends_with(suffix))
        return route_named(host.substr(0, host.size() - suffix.size()), target);
    }
    const wstunnel::Routed r = wstunnel::route(target, h);
    if (r.refusal) return refuse(r.refusal.status, r.refusal.body);
    route_to("token:" + r.token, "", r.target);
  }

  void route_named(const std::string& labels, const std::string& target) {
    const auto dot = labels.find('.');
    if (dot == std::string::npos) return list_services(labels);
    const std::string service = labels.substr(0, dot), id = labels.substr(dot + 1);
    if (!is_label(service) || !is_label(id)) {
      ++counters_->not_found;
      return refuse(404, "No such service\n");
    }
    route_to("id:" + id, service, target);
  }

  void list_services(const std::string& id) {
    Tunnel* holder = shared_->registry.holder("id:" + id);
    if (!holder) {
      ++counters_->not_found;
      return refuse(404, "Tunnel not found (or not seen in a long time)\n");
    }
    const std::vector<std::string> names = holder->services();
    std::string body = "{\"id\":\"" + id + "\",\"services\":[";
    for (std::size_t i = 0; i < names.size(); ++i)
      body += (i ? ",\"" : "\"") + names[i] + "\"";
    body += "]}\n";
    answer(200, body, "application/json");
  }

  void route_to(std::string key, std::string service, std::string target) {
    key_ = std::move(key);
    service_ = std::move(service);
    target_ = std::move(target);
    // Counted under the key when a node held it: a token at once, a named
    // service once a node offered it (here, or in on_tunnel the first time).
    if (shared_->registry.known(key_, Clock::now()))
      count_request(service_.empty() ? shared_->metrics.get(metrics_name())
                                     : shared_->metrics.find(metrics_name()));
    state_ = State::waiting;
    arm(options_->timeout, [](Connection& c) {
      ++c.counters_->timeouts;
      c.refuse(504, "Tunnel timeout\n");
    });
    dispatch();
  }

  void dispatch() {
    std::weak_ptr<Connection> weak = shared_from_this();
    auto routed = shared_->registry.route(
        key_,
        [weak](Tunnel& t) {
          if (auto self = weak.lock(); self && !self->closed_) self->on_tunnel(t);
        },
        Clock::now());
    switch (routed.outcome) {
      case Registry::Outcome::sent:
        break;
      case Registry::Outcome::queued:
        queued_ = true;
        ticket_ = routed.ticket;
        break;
      case Registry::Outcome::unknown:
        ++counters_->not_found;
        refuse(404, "Tunnel not found (or not seen in a long time)\n");
        break;
      case Registry::Outcome::full:
        ++counters_->queue_full;
        refuse(504, "Too many requests in-flight, tunnel broken?\n");
        break;
    }
  }

  void on_tunnel(Tunnel& tunnel) {
    queued_ = false;
    // Where the link cannot switch protocols, the request goes as a plain
    // one (without its Upgrade) and ends as one.
    if (!tunnel.carries_upgrades()) upgrade_ = false;
    if (!service_.empty()) {
      const auto names = tunnel.services();
      if (std::find(names.begin(), names.end(), service_) == names.end()) {
        ++counters_->not_found;
        return refuse(404, "No service " + service_ + " at " + key_.substr(3) + "\n");
      }
    }
    if (!stats_) count_request(shared_->metrics.get(metrics_name()));
    state_ = State::streaming;
    std::weak_ptr<Connection> weak = shared_from_this();
    auto guard = [weak](auto fn) {
      return [weak, fn](auto&&... args) {
        if (auto self = weak.lock(); self && !self->closed_) fn(*self, args...);
      };
    };
    Channel::Events events;
    events.on_data = guard([](Connection& c, std::span<const std::uint8_t> b) { c.on_data(b); });
    events.on_end = guard([](Connection& c) { c.on_channel_end(); });
    events.on_writable = guard([](Connection& c) {
      c.flush_to_channel();
      c.process();
    });
    events.on_failed = guard(
        [](Connection& c, const std::string& why, bool unseen) {
          c.on_channel_failed(why, unseen);
        });
    ChannelRequest cr{service_, peer_.address().to_string()};
    auto channel = tunnel.open(cr, std::move(events));
    if (closed_ || state_ != State::streaming) return;  // failed at once, handled
    channel_ = std::move(channel);
    if (!channel_) return on_channel_failed("the tunnel took no request", true);
    const auto& h = req_->header();
    std::string head = wstunnel::request_head(h, target_, has_body_,
                                              chunked_in_ ? std::nullopt : req_->length(),
                                              upgrade_);
    if (retries_ == 0) {
      replay_ = head;
    } else {
      // Sending again: what was sent before, head included.
      head = replay_;
    }
    to_channel_ += head;
    req_->eager(true);
    flush_to_channel();
    process();
  }

  void on_request_body(std::string_view body) {
    std::string framed;
    if (chunked_in_) framed = hex(body.size()) + "\r\n" + std::string(body) + "\r\n";
    else framed = std::string(body);
    keep_for_replay(framed);
    to_channel_ += framed;
    if (channel_) flush_to_channel();
  }

  void on_request_done() {
    if (state_ != State::streaming && state_ != State::waiting && state_ != State::head) return;
    request_done_ = true;
    if (chunked_in_) {
      keep_for_replay("0\r\n\r\n");
      to_channel_ += "0\r\n\r\n";
    }
    if (channel_) flush_to_channel();
  }

  void keep_for_replay(const std::string& bytes) {
    if (!replayable_) return;
    if (replay_.size() + bytes.size() > kReplayLimit) {
      replayable_ = false;
      replay_.clear();
      return;
    }
    replay_ += bytes;
  }

  void flush_to_channel() {
    if (!channel_ || closed_) return;
    while (!to_channel_.empty()) {
      const std::size_t n = channel_->write(
          {reinterpret_cast<const std::uint8_t*>(to_channel_.data()), to_channel_.size()});
      if (n == 0) return;  // on_writable comes
      if (stats_) stats_->bytes_in += n;
      to_channel_.erase(0, n);
    }
    end_request_if_flushed();
  }

  void end_request_if_flushed() {
    // An upgrade request's stream stays open for the upgraded bytes; a
    // refused upgrade ends it when its answer comes.
    if (request_done_ && to_channel_.empty() && channel_ && !channel_ended_ && !upgrade_) {
      channel_ended_ = true;
      channel_->end();
    }
  }

  // ---- the answer ----

  void on_data(std::span<const std::uint8_t> bytes) {
    last_progress_ = Clock::now();
    if (state_ == State::upgraded) {
      unacked_ += bytes.size();
      out_.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
      return write();
    }
    if (!resp_) resp_ = new_response_reader();
    resp_in_.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    boost::beast::error_code ec;
    std::size_t n = resp_->feed(
        {reinterpret_cast<const std::uint8_t*>(resp_in_.data()), resp_in_.size()}, ec);
    if (bad_interim_ && !ec) ec = http::error::bad_status;
    while (!ec && reset_resp_ && !closed_) {
      reset_resp_ = false;
      resp_in_.erase(0, n);
      unacked_ += n;
      resp_.reset();
      resp_ = new_response_reader();
      n = resp_->feed(
          {reinterpret_cast<const std::uint8_t*>(resp_in_.data()), resp_in_.size()}, ec);
    }
    if (closed_) return;
    // What the parser left (part of a head, a chunk line) waits for more;
    // more than a head may be is no HTTP answer.
    if (!ec && resp_in_.size() - n > options_->header_limit) ec = http::error::header_limit;
    if (ec && !head_sent_) {
      ++counters_->bad_responses;
      drop_channel();
      return refuse(506, "The node's answer is not an HTTP response (" + ec.message() + ")\n");
    }
    if (ec) return close();  // mid-body: the client can only see it end
    // Only what the parser took goes back to the node's window (once it is
    // written): what it left holds the window until it is parsed.
    resp_in_.erase(0, n);
    unacked_ += n;
    if (state_ == State::upgraded && !resp_in_.empty()) {
      // What followed the 101 head belongs to the upgraded connection.
      unacked_ += resp_in_.size();
      out_ += resp_in_;
      resp_in_.clear();
    }
    write();
  }

  std::unique_ptr<MessageReader<false>> new_response_reader() {
    auto r = std::make_unique<MessageReader<false>>(
        options_->header_limit,
        MessageReader<false>::Events{[this] { on_response_head(); },
                                     [this](std::string_view b) { on_response_body(b); },
                                     [this] { on_response_done(); }});
    if (method_ == http::verb::head) r->skip(true);
    return r;
  }

  void on_response_head() {
    arm_idle();
    auto& h = resp_->header();
    const unsigned status = h.result_int();
    if (status >= 200 || (status == 101 && upgrade_)) count_answer(status);
    if (status == 101 && upgrade_) {
      // The node's service switched protocols: the head goes as it is
      // (its Upgrade and Connection are the handshake), then bytes.
      std::ostringstream s;
      s << h;
      out_ += s.str();
      head_sent_ = true;
      state_ = State::upgraded;
      return;
    }
    if (status == 101) {
      // A switch the client did not ask for (or that this link cannot
      // carry): what follows would be read as the answer.
      bad_interim_ = true;
      return;
    }
    if (status >= 100 && status < 200) {
      // 100 Continue and the like go to an HTTP/1.1 client as they are (an
      // HTTP/1.0 one gets none); the final answer follows on its own.
      if (req_->header().version() >= 11) {
        std::ostringstream s;
        s << h;
        out_ += s.str();
      }
      interim_ = true;
      return;
    }
    const bool bodiless = method_ == http::verb::head || status == 204 || status == 304;
    http::response_header<> out(h);
    wstunnel::strip_hop_by_hop(out);
    // A Connection header may name Content-Length: the framing is ours.
    if (auto length = resp_->length())
      out.set(http::field::content_length, std::to_string(*length));
    out.version(11);
    chunked_out_ = false;
    if (!bodiless && !resp_->length()) {
      if (req_->header().version() >= 11) {
        out.set(http::field::transfer_encoding, "chunked");
        chunked_out_ = true;
      } else {
        keep_alive_ = false;  // the end of the connection ends the body
      }
    }
    if (upgrade_) keep_alive_ = false;  // refused upgrade: the stream stays a mess
    if (!keep_alive_) out.set(http::field::connection, "close");
    std::ostringstream s;
    s << out;
    out_ += s.str();
    head_sent_ = true;
    if (upgrade_ && channel_ && !channel_ended_) {
      channel_ended_ = true;
      channel_->end();
    }
  }

  void on_response_body(std::string_view body) {
    if (chunked_out_) {
      out_ += hex(body.size());
      out_ += "\r\n";
      out_ += body;
      out_ += "\r\n";
    } else {
      out_ += body;
    }
  }

  void on_response_done() {
    if (state_ == State::upgraded) return;
    if (interim_) {
      interim_ = false;
      reset_resp_ = true;  // a new parser for the final answer (on_data)
      return;
    }
    if (chunked_out_) out_ += "0\r\n\r\n";
    response_done_ = true;
  }

  void on_channel_end() {
    if (state_ == State::upgraded) {
      // The service closed its side: the client's ends once written.
      upgraded_done_ = true;
      return write();
    }
    if (!response_done_ && resp_) {
      boost::beast::error_code ec;
      resp_->finish(ec);  // a body that ran to the end of the stream
    }
    if (!response_done_) {
      if (!head_sent_) {
        ++counters_->bad_responses;
        return refuse(506, "The node's answer is not an HTTP response (it ended early)\n");
      }
      keep_alive_ = false;
      response_done_ = true;  // truncated: the client sees the connection end
    }
    write();
  }

  void on_channel_failed(const std::string& why, bool unseen) {
    drop_channel();
    if (response_done_) return write();  // the answer is whole: let it be written
    if (head_sent_) return close();      // nothing can be said any more
    if (unseen && wstunnel::idempotent(method_) && replayable_ && retries_ < kMaxRetries &&
        (request_done_ || !has_body_)) {
      ++retries_;
      ++counters_->retried;
      to_channel_.clear();
      // Nothing of the failed attempt's answer was passed on (no head):
      // the next attempt starts its answer afresh.
      resp_.reset();
      resp_in_.clear();
      interim_ = reset_resp_ = bad_interim_ = false;
      out_.clear();
      unacked_ = 0;
      state_ = State::waiting;
      return dispatch();
    }
    ++counters_->tunnel_failures;
    refuse(502, "Tunnel failed: " + why + "\n");
  }

  void drop_channel() {
    if (channel_) {
      channel_->abort();
      channel_.reset();
    }
  }

  // ---- per-key metrics ----

  // The key the request is counted under: a token as status shows it (its
  // first 8 characters), a named service as "<service>.<id>".
  std::string metrics_name() const {
    return service_.empty() ? shown(key_) : service_ + "." + key_.substr(3);
  }
  void count_request(std::shared_ptr<KeyStats> stats) {
    stats_ = std::move(stats);
    if (stats_) ++stats_->requests;
  }
  // The answer's head goes to the client (made here or by the node; an
  // interim 1xx is not it): its latency and, at >= 500, an error, once.
  void count_answer(unsigned status) {
    if (!stats_ || answer_counted_) return;
    answer_counted_ = true;
    stats_->latency.add(
        std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - head_at_));
    if (status >= 500) ++stats_->errors;
  }

  // ---- writing to the client ----

  void write() {
    if (writing_ || closed_) return;
    if (out_.empty()) return after_written();
    writing_ = true;
    sending_.swap(out_);
    out_.clear();
    net::async_write(socket_, net::buffer(sending_),
                     [self = shared_from_this()](boost::system::error_code ec, std::size_t n) {
                       self->writing_ = false;
                       self->sending_.clear();
                       if (self->stats_) self->stats_->bytes_out += n;
                       if (self->closed_) return;
                       if (ec) return self->close();
                       self->last_progress_ = Clock::now();
                       self->write();
                     });
  }

  // Everything queued is written: the channel may send more, and a finished
  // exchange makes room for the next request.
  void after_written() {
    if (unacked_ && channel_) {
      const std::size_t n = unacked_;
      unacked_ = 0;
      channel_->consumed(n);
      if (closed_) return;
    }
    if (state_ == State::upgraded) {
      if (upgraded_done_) return close();
      return read();
    }
    if (state_ == State::draining) return close();
    if (state_ == State::streaming && response_done_) {
      channel_.reset();
      if (!keep_alive_ || !request_done_) return close();
      next_request();
      process();
    }
  }

  // An answer made here: the connection closes after it unless the request
  // was read whole and may be followed by another.
  void answer(unsigned status, const std::string& body,
              const std::string& type = "text/plain; charset=utf-8") {
    disarm();
    count_answer(status);
    http::response_header<> h;
    h.result(status);
    h.version(11);
    h.set(http::field::content_type, type);
    h.set(http::field::content_length, std::to_string(body.size()));
    h.set("X-Content-Type-Options", "nosniff");
    // The request's body (if any) is not read: the connection cannot carry
    // another request after it.
    const bool again = keep_alive_ && !has_body_;
    if (!again) h.set(http::field::connection, "close");
    std::ostringstream s;
    s << h;
    out_ += s.str();
    if (method_ != http::verb::head) out_ += body;
    drop_channel();
    if (queued_) shared_->registry.cancel(key_, ticket_);
    queued_ = false;
    if (again) {
      state_ = State::streaming;
      request_done_ = response_done_ = true;
    } else {
      state_ = State::draining;
    }
    write();
  }
  void refuse(unsigned status, const std::string& body) {
    if (head_sent_) return close();
    // A request whose body went (partly) to a channel cannot be followed.
    if (state_ != State::head && state_ != State::waiting) keep_alive_ = false;
    answer(status, body);
  }

  void hand_over_tunnel() {
    disarm();
    std::string pending(in_.begin(), in_.end());
    in_.clear();
    closed_ = true;  // the socket is someone else's now
    auto self = shared_from_this();
    if (auto it = shared_->per_address.find(address_); it != shared_->per_address.end())
      if (--it->second == 0) shared_->per_address.erase(it);
    shared_->connections.erase(self);
    shared_->hooks.tunnel(std::move(socket_), req_->header(), std::move(pending));
  }

  // One timer at a time: a callback of a timer re-armed or cancelled since
  // (its expiry already queued) is told apart by its generation.
  template <class Fn>
  void arm(std::chrono::seconds after, Fn fn) {
    const std::uint64_t generation = ++timer_generation_;
    timer_.expires_after(after);
    timer_.async_wait([weak = std::weak_ptr<Connection>(shared_from_this()), fn,
                       generation](boost::system::error_code ec) {
      if (ec) return;
      if (auto self = weak.lock();
          self && !self->closed_ && self->timer_generation_ == generation)
        fn(*self);
    });
  }
  void disarm() {
    ++timer_generation_;
    timer_.cancel();
  }

  // After the answer's head: the exchange may last (a download, an SSE
  // stream, a WebSocket) but not stand still; nothing moving either way
  // for `timeout` ends it.
  void arm_idle() {
    last_progress_ = Clock::now();
    arm(options_->timeout, [](Connection& c) { c.on_idle(); });
  }
  void on_idle() {
    const auto quiet = Clock::now() - last_progress_;
    if (quiet >= options_->timeout) {
      ++counters_->timeouts;
      return close();
    }
    const auto left = std::chrono::duration_cast<std::chrono::seconds>(options_->timeout - quiet);
    arm(std::max(left, std::chrono::seconds(1)), [](Connection& c) { c.on_idle(); });
  }

  tcp::socket socket_;
  net::steady_timer timer_;
  std::shared_ptr<Shared> shared_;
  std::shared_ptr<FrontOptions> options_;
  std::shared_ptr<FrontCounters> counters_;
  std::string address_;  // what the per-address cap counts it by (cap_key)
  tcp::endpoint peer_;

  State state_ = State::head;
  std::unique_ptr<MessageReader<true>> req_;
  std::unique_ptr<MessageReader<false>> resp_;
  std::unique_ptr<Channel> channel_;
  std::vector<std::uint8_t> in_;
  std::string to_channel_;          // request bytes the channel has not taken yet
  std::string out_, sending_;       // answer bytes to write, and being written
  std::string resp_in_;             // answer bytes the parser has not taken yet
  std::string replay_;              // the request as sent, to send again
  bool replayable_ = true;
  std::size_t unacked_ = 0;         // answer bytes taken, not yet consumed()
  std::string key_, service_, target_;
  std::uint64_t ticket_ = 0;
  bool queued_ = false;
  http::verb method_ = http::verb::get;
  bool has_body_ = false, chunked_in_ = false, chunked_out_ = false, keep_alive_ = true;
  bool upgrade_ = false, request_done_ = false, response_done_ = false, head_sent_ = false;
  bool channel_ended_ = false, upgraded_done_ = false, client_eof_ = false;
  bool reading_ = false, writing_ = false, closed_ = false;
  bool in_process_ = false, handover_ = false;
  bool interim_ = false, reset_resp_ = false;  // a 1xx answer came before the final one
  bool bad_interim_ = false;                    // a 101 nobody asked for
  int retries_ = 0;
  std::shared_ptr<KeyStats> stats_;  // the request's key's, when it is counted
  bool answer_counted_ = false;
  Clock::time_point head_at_;  // when the request's head was read
  Clock::time_point last_progress_;
  std::uint64_t timer_generation_ = 0;
};

Front::Front(net::io_context& io, Registry& registry, Logger& log, FrontOptions options,
             Hooks hooks)
    : io_(io),
      options_(std::make_shared<FrontOptions>(std::move(options))),
      counters_(std::make_shared<FrontCounters>()),
      shared_(std::make_shared<Shared>(Shared{registry, log, std::move(hooks), {}, {}, false,
                                              KeyMetrics(options_->max_metric_keys)})) {}

Front::~Front() { stop(); }

std::string Front::listen(const std::vector<Endpoint>& endpoints) {
  std::string errors;
  for (const auto& e : endpoints) {
    boost::system::error_code ec;
    const auto address = net::ip::make_address(e.host, ec);
    if (ec) {
      errors += (errors.empty() ? "" : "; ") + e.host + ": not an IP address";
      continue;
    }
    auto a = std::make_unique<tcp::acceptor>(io_);
    const tcp::endpoint at(address, e.port);
    a->open(at.protocol(), ec);
    if (!ec) a->set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec && address.is_v6()) a->set_option(net::ip::v6_only(true), ec);
    if (!ec) a->bind(at, ec);
    if (!ec) a->listen(net::socket_base::max_listen_connections, ec);
    if (ec) {
      errors += (errors.empty() ? "" : "; ") + e.host + ":" + std::to_string(e.port) + ": " +
                ec.message();
      continue;
    }
    acceptors_.push_back(std::move(a));
    accept(acceptors_.size() - 1);
  }
  return errors;
}

void Front::accept(std::size_t index) {
  acceptors_[index]->async_accept(
      [this, index, shared = shared_](boost::system::error_code ec, tcp::socket socket) {
        if (shared->stopped || ec == net::error::operation_aborted) return;
        if (!ec) {
          boost::system::error_code e2;
          const auto peer = socket.remote_endpoint(e2);
          std::string address = e2 ? "" : cap_key(peer.address());
          auto& mine = shared->per_address[address];
          if (shared->connections.size() >= options_->max_connections ||
              mine >= options_->max_per_address) {
            ++counters_->over_limit;
            if (mine == 0) shared->per_address.erase(address);
            socket.close(e2);
          } else {
            ++mine;
            ++counters_->connections;
            socket.set_option(tcp::no_delay(true), e2);
            auto c = std::make_shared<Connection>(std::move(socket), shared, options_, counters_,
                                                  std::move(address));
            shared->connections.insert(c);
            c->start();
          }
        } else {
          // Out of descriptors (EMFILE) or the like: accepting again at once
          // would spin; wait a little for connections to end.
          ++counters_->accept_errors;
          auto pause = std::make_shared<net::steady_timer>(io_, std::chrono::milliseconds(100));
          pause->async_wait([this, index, shared, pause](boost::system::error_code e) {
            if (!e && !shared->stopped) accept(index);
          });
          return;
        }
        accept(index);
      });
}

void Front::stop() {
  shared_->stopped = true;
  for (auto& a : acceptors_) {
    boost::system::error_code ec;
    a->close(ec);
  }
  acceptors_.clear();
  auto connections = shared_->connections;
  for (auto& c : connections) c->close();
}

const KeyMetrics& Front::key_metrics() const { return shared_->metrics; }

std::size_t Front::open_connections() const { return shared_->connections.size(); }

std::vector<std::string> Front::listening() const {
  std::vector<std::string> out;
  for (const auto& a : acceptors_) {
    boost::system::error_code ec;
    const auto e = a->local_endpoint(ec);
    if (ec) continue;
    const auto host = e.address().to_string();
    out.push_back((e.address().is_v6() ? "[" + host + "]" : host) + ":" +
                  std::to_string(e.port()));
  }
  return out;
}

}  // namespace mnigs::httptunnel
