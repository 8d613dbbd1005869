// The fakes and the fixture of the node's tests (node_test.cpp, and
// node_keep_test.cpp for the connections kept to the services): a fake
// gateway written here (an acceptor that reads the upgrade request, answers
// 101, a refusal or nothing more, and opens CONNECT streams with a
// MuxSession of its own), cpp-httplib and small Asio backends, and a
// fixture running the node's link on a loop thread of its own.
#pragma once

#include "node.hpp"

#include <gtest/gtest.h>
#include <httplib.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <atomic>
#include <future>
#include <random>
#include <thread>

namespace mnigs::httptunnel::node_test {

using namespace std::chrono_literals;
namespace net = boost::asio;
using tcp = net::ip::tcp;
namespace http = boost::beast::http;

struct NullLogger : Logger {
  bool enabled(LogLevel) const override { return false; }
  void write(LogLevel, std::string_view) override {}
};

inline std::span<const std::uint8_t> as_bytes(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

inline const std::string kSecret = "a-secret-of-some-length";
inline const std::string kToken = "0123456789abcdef-token";

// ---- the fake gateway ----

// A MuxSession (Role::client) over a socket: reads feed it, its output is
// written one piece at a time.
class Pump : public std::enable_shared_from_this<Pump> {
 public:
  Pump(tcp::socket socket, MuxLimits limits)
      : mux(MuxSession::Role::client, limits), socket_(std::move(socket)) {}

  void start(const std::string& leftover) {
    if (!leftover.empty()) feed(as_bytes(leftover));
    read();
    flush();
  }
  void flush() {
    if (writing_ || busy_ || closed) return;
    std::span<const std::uint8_t> out;
    for (int i = 0; i < 3 && out.empty(); ++i) {
      busy_ = true;
      out = mux.output();
      busy_ = false;
      if (!mux.wants_output()) break;
    }
    if (out.empty()) return;
    sending_.assign(out.begin(), out.end());
    mux.output_done(out.size());
    writing_ = true;
    net::async_write(socket_, net::buffer(sending_),
                     [self = shared_from_this()](boost::system::error_code ec, std::size_t) {
                       self->writing_ = false;
                       if (ec) return self->close();
                       self->flush();
                     });
  }
  void close() {
    closed = true;
    boost::system::error_code ec;
    socket_.close(ec);
  }

  MuxSession mux;
  bool closed = false;

 private:
  void read() {
    socket_.async_read_some(
        net::buffer(in_), [self = shared_from_this()](boost::system::error_code ec, std::size_t n) {
          if (self->closed) return;
          if (ec) return self->close();
          self->feed({self->in_.data(), n});
          self->read();
        });
  }
  void feed(std::span<const std::uint8_t> bytes) {
    busy_ = true;
    mux.feed(bytes);
    busy_ = false;
    flush();
  }

  tcp::socket socket_;
  std::array<std::uint8_t, 16384> in_{};
  std::vector<std::uint8_t> sending_;
  bool writing_ = false, busy_ = false;
};

// One request through the node, as the gateway's front sends it: bytes out
// (ended unless `keep_open`), everything that comes back kept.
// The pump holds the exchange (its stream's handler) and not the other way.
struct Exchange : std::enable_shared_from_this<Exchange> {
  Pump* pump = nullptr;  // valid while the stream is open
  std::int32_t id = -1;
  std::string to_send;
  bool end_when_sent = true, end_sent = false;
  int status = 0;
  std::string received;
  bool got_end = false, closed = false;
  std::uint32_t code = 0;

  void send(const std::string& bytes) {
    to_send += bytes;
    push();
    pump->flush();
  }
  void push() {
    while (!to_send.empty()) {
      const std::size_t n = pump->mux.write(id, as_bytes(to_send));
      if (n == 0) return;
      to_send.erase(0, n);
    }
    if (end_when_sent && !end_sent) {
      end_sent = true;
      pump->mux.end(id);
    }
  }
  StreamHandler handler() {
    auto self = shared_from_this();
    StreamHandler h;
    h.on_response = [self](int st, Headers) { self->status = st; };
    h.on_data = [self](std::span<const std::uint8_t> b) {
      self->received.append(reinterpret_cast<const char*>(b.data()), b.size());
      self->pump->mux.consumed(self->id, b.size());
    };
    h.on_end = [self] { self->got_end = true; };
    h.on_writable = [self] { self->push(); };
    h.on_closed = [self](std::uint32_t c) {
      self->closed = true;
      self->code = c;
    };
    return h;
  }
};

class FakeGateway {
 public:
  enum class Mode { accept, refuse, silent };

  FakeGateway(net::io_context& io, Mode mode, MuxLimits limits = {})
      : io_(io),
        acceptor_(io, {net::ip::make_address("127.0.0.1"), 0}),
        mode_(mode),
        limits_(limits) {
    do_accept();
  }
  std::uint16_t port() const { return acceptor_.local_endpoint().port(); }

  // Loop thread only.
  std::shared_ptr<Exchange> open(const std::string& authority, const std::string& bytes,
                                 bool keep_open = false) {
    auto ex = std::make_shared<Exchange>();
    ex->pump = pump.get();
    ex->end_when_sent = !keep_open;
    ex->id = pump->mux.open(authority, {{"mnigs-client", "192.0.2.1"}}, ex->handler());
    if (ex->id < 0) return nullptr;
    ex->send(bytes);
    return ex;
  }
  bool ready() const { return pump && !pump->closed; }
  void drop() {
    if (pump) pump->close();
    pump.reset();
  }
  void stop() {
    boost::system::error_code ec;
    acceptor_.close(ec);
    drop();
    for (auto& s : held_) s->close(ec);
    held_.clear();
  }

  int accepted = 0;
  std::string refusal = "another secret holds this id\n";  // Mode::refuse's body
  std::vector<link::Read> hellos;
  std::vector<std::string> targets;
  std::shared_ptr<Pump> pump;

 private:
  struct Handshake {
    explicit Handshake(tcp::socket s) : socket(std::move(s)) {}
    tcp::socket socket;
    boost::beast::flat_buffer buffer;
    http::request_parser<http::empty_body> parser;
    std::string answer;
  };

  void do_accept() {
    acceptor_.async_accept([this](boost::system::error_code ec, tcp::socket socket) {
      if (ec) return;
      ++accepted;
      auto h = std::make_shared<Handshake>(std::move(socket));
      http::async_read_header(h->socket, h->buffer, h->parser,
                              [this, h](boost::system::error_code ec, std::size_t) {
                                if (!ec) on_hello(h);
                              });
      do_accept();
    });
  }

  void on_hello(const std::shared_ptr<Handshake>& h) {
    const auto& req = h->parser.get();
    hellos.push_back(link::read(req));
    targets.emplace_back(req.target());
    if (mode_ == Mode::refuse) {
      h->answer = "HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nContent-Length: " +
                  std::to_string(refusal.size()) + "\r\nConnection: close\r\n\r\n" + refusal;
    } else {
      h->answer = link::accept();
    }
    net::async_write(h->socket, net::buffer(h->answer),
                     [this, h](boost::system::error_code ec, std::size_t) {
                       if (ec) return;
                       if (mode_ == Mode::refuse) {
                         h->socket.shutdown(tcp::socket::shutdown_send, ec);
                         h->socket.close(ec);
                       } else if (mode_ == Mode::silent) {
                         // Holds the connection and neither reads nor answers.
                         held_.push_back(std::make_shared<tcp::socket>(std::move(h->socket)));
                       } else {
                         const auto data = h->buffer.data();
                         std::string leftover(static_cast<const char*>(data.data()), data.size());
                         drop();
                         pump = std::make_shared<Pump>(std::move(h->socket), limits_);
                         pump->start(leftover);
                       }
                     });
  }

  net::io_context& io_;
  tcp::acceptor acceptor_;
  Mode mode_;
  MuxLimits limits_;
  std::vector<std::shared_ptr<tcp::socket>> held_;
};

// ---- backends ----

// A cpp-httplib server on a loopback port, on a thread of its own.
class Backend {
 public:
  explicit Backend(std::function<void(httplib::Server&)> routes) {
    routes(server_);
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    while (!server_.is_running()) std::this_thread::sleep_for(1ms);
  }
  ~Backend() {
    server_.stop();
    thread_.join();
  }
  std::uint16_t port() const { return static_cast<std::uint16_t>(port_); }

 private:
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
};

// Answers "101 Switching Protocols" to one request head, then echoes bytes
// until the peer ends its side, then ends its own.
class EchoUpgrade {
 public:
  explicit EchoUpgrade(net::io_context& io)
      : acceptor_(io, {net::ip::make_address("127.0.0.1"), 0}) {
    acceptor_.async_accept([this](boost::system::error_code ec, tcp::socket s) {
      if (ec) return;
      socket_ = std::make_shared<tcp::socket>(std::move(s));
      read();
    });
  }
  std::uint16_t port() const { return acceptor_.local_endpoint().port(); }
  void stop() {
    boost::system::error_code ec;
    acceptor_.close(ec);
    if (socket_) socket_->close(ec);
  }
  std::string head;  // the request head as it arrived

 private:
  void read() {
    socket_->async_read_some(net::buffer(buf_), [this, s = socket_](boost::system::error_code ec,
                                                                    std::size_t n) {
      if (ec) {
        if (ec == net::error::eof) s->shutdown(tcp::socket::shutdown_send, ec);
        return;
      }
      std::string got(buf_.data(), n);
      if (!upgraded_) {
        in_ += got;
        const auto end = in_.find("\r\n\r\n");
        if (end == std::string::npos) return read();
        head = in_.substr(0, end + 4);
        got = "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n" +
              in_.substr(end + 4);
        upgraded_ = true;
      }
      out_ = std::move(got);
      net::async_write(*s, net::buffer(out_), [this](boost::system::error_code ec, std::size_t) {
        if (!ec) read();
      });
    });
  }

  tcp::acceptor acceptor_;
  std::shared_ptr<tcp::socket> socket_;
  std::array<char, 4096> buf_{};
  std::string in_, out_;
  bool upgraded_ = false;
};

// An Asio server that answers each request head (and its Content-Length
// body) with what `script` returns for it: bytes to send, then whether to
// close. An answer of nullopt closes the connection without a byte. Counts
// the connections and keeps every request as it arrived.
class ScriptedBackend {
 public:
  struct Reply {
    std::string bytes;
    bool close = false;
    bool trickle = false;  // a byte per write, each its own segment
  };
  // (the request's head and body, its connection's number from 1, its
  // number on that connection from 1) → the reply.
  using Script = std::function<std::optional<Reply>(const std::string&, int, int)>;

  ScriptedBackend(net::io_context& io, Script script)
      : acceptor_(io, {net::ip::make_address("127.0.0.1"), 0}),
        port_(acceptor_.local_endpoint().port()),
        script_(std::move(script)) {
    accept();
  }
  std::uint16_t port() const { return port_; }
  void stop_listening() {
    boost::system::error_code ec;
    acceptor_.close(ec);
  }
  void stop() {
    boost::system::error_code ec;
    acceptor_.close(ec);
    for (auto& c : conns_) c->socket.close(ec);
  }
  int connections = 0;
  std::vector<std::string> requests;
  int closed_by_peer = 0;  // connections the node closed

 private:
  struct Conn {
    explicit Conn(tcp::socket s) : socket(std::move(s)) {}
    tcp::socket socket;
    std::array<char, 4096> buf{};
    std::string in, out;
    int number = 0, served = 0;
  };

  void accept() {
    acceptor_.async_accept([this](boost::system::error_code ec, tcp::socket s) {
      if (ec) return;
      auto c = std::make_shared<Conn>(std::move(s));
      c->number = ++connections;
      conns_.push_back(c);
      read(c);
      accept();
    });
  }
  void read(const std::shared_ptr<Conn>& c) {
    c->socket.async_read_some(net::buffer(c->buf), [this, c](boost::system::error_code ec,
                                                             std::size_t n) {
      if (ec) {
        if (ec == net::error::eof || ec == net::error::connection_reset) ++closed_by_peer;
        return;
      }
      c->in.append(c->buf.data(), n);
      serve(c);
    });
  }
  void serve(const std::shared_ptr<Conn>& c) {
    const auto end = c->in.find("\r\n\r\n");
    if (end == std::string::npos) return read(c);
    std::size_t body = 0;
    const auto cl = c->in.find("Content-Length: ");
    if (cl != std::string::npos && cl < end) body = std::stoul(c->in.substr(cl + 16));
    if (c->in.size() < end + 4 + body) return read(c);
    const std::string request = c->in.substr(0, end + 4 + body);
    c->in.erase(0, end + 4 + body);
    requests.push_back(request);
    const auto reply = script_(request, c->number, ++c->served);
    boost::system::error_code ignored;
    if (!reply) return c->socket.close(ignored);
    c->out = reply->bytes;
    c->socket.set_option(tcp::no_delay(true), ignored);
    write(c, 0, *reply);
  }
  void write(const std::shared_ptr<Conn>& c, std::size_t from, const Reply& reply) {
    const std::size_t n = reply.trickle ? 1 : c->out.size() - from;
    net::async_write(c->socket, net::buffer(c->out.data() + from, n),
                     [this, c, from, n, reply](boost::system::error_code ec, std::size_t) {
                       if (ec) return;
                       if (from + n < c->out.size()) return write(c, from + n, reply);
                       if (reply.close) {
                         c->socket.shutdown(tcp::socket::shutdown_send, ec);
                         return read(c);  // until the node closes
                       }
                       serve(c);
                     });
  }

  tcp::acceptor acceptor_;
  std::uint16_t port_;
  Script script_;
  std::vector<std::shared_ptr<Conn>> conns_;
};

// A port on which nothing listens.
inline std::uint16_t closed_port() {
  net::io_context io;
  tcp::acceptor a(io, {net::ip::make_address("127.0.0.1"), 0});
  const std::uint16_t port = a.local_endpoint().port();
  a.close();
  return port;
}

inline http::response<http::string_body> parse_response(const std::string& bytes) {
  http::response_parser<http::string_body> p;
  p.body_limit(std::numeric_limits<std::uint64_t>::max());
  p.eager(true);
  boost::beast::error_code ec;
  p.put(net::buffer(bytes), ec);
  if (!p.is_done()) p.put_eof(ec);
  EXPECT_FALSE(ec) << ec.message() << " in " << bytes.substr(0, 200);
  return p.release();
}

inline std::string get(const std::string& target, const std::string& host,
                       const std::string& extra = "") {
  return "GET " + target + " HTTP/1.1\r\nHost: " + host + "\r\n" + extra + "\r\n";
}

// ---- the fixture ----

class NodeTest : public ::testing::Test {
 protected:
  NodeOptions options(std::uint16_t gateway_port) {
    NodeOptions o;
    o.gateway_host = "127.0.0.1";
    o.gateway_port = gateway_port;
    o.hello = {"id:tim", kSecret, {"hello", "down"}};
    o.ping_timeout = 30s;
    o.backoff = {50ms, 200ms, 30s};
    return o;
  }
  template <class Fn>
  auto on_loop(Fn fn) {
    if (!thread_.joinable()) thread_ = std::thread([this] { io_.run(); });
    std::packaged_task<decltype(fn())()> task(fn);
    auto f = task.get_future();
    net::post(io_, [&task] { task(); });
    return f.get();
  }
  void start(NodeOptions o) {
    node_ = std::make_shared<NodeLink>(io_, log_, std::move(o));
    on_loop([this] { node_->start(); });
  }
  template <class Pred>
  bool wait_until(Pred pred, std::chrono::milliseconds timeout = 10s) {
    const auto until = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < until) {
      if (on_loop(pred)) return true;
      std::this_thread::sleep_for(5ms);
    }
    return false;
  }
  // Sends `bytes` on a new stream and waits for it to close; returns the
  // stream's bytes.
  std::shared_ptr<Exchange> exchange(FakeGateway& gw, const std::string& authority,
                                     const std::string& bytes) {
    EXPECT_TRUE(wait_until([&] { return gw.ready() && node_->status().state == "up"; }));
    auto ex = on_loop([&] { return gw.open(authority, bytes); });
    EXPECT_TRUE(ex);
    if (!ex) return std::make_shared<Exchange>();
    EXPECT_TRUE(wait_until([&] { return ex->closed; }));
    return ex;
  }
  // Made on the loop, stopped on it, destroyed once the loop has run out.
  FakeGateway& gateway(FakeGateway::Mode mode, MuxLimits limits = {}) {
    gateways_.push_back(on_loop([&] { return std::make_unique<FakeGateway>(io_, mode, limits); }));
    return *gateways_.back();
  }
  EchoUpgrade& echo() {
    echoes_.push_back(on_loop([&] { return std::make_unique<EchoUpgrade>(io_); }));
    return *echoes_.back();
  }
  // Destroyed after the node: the idle connections it keeps to a
  // cpp-httplib server would hold that server's stop() for seconds.
  Backend& http_backend(std::function<void(httplib::Server&)> routes) {
    backends_.push_back(std::make_unique<Backend>(std::move(routes)));
    return *backends_.back();
  }
  ScriptedBackend& scripted(ScriptedBackend::Script script) {
    scripted_.push_back(
        on_loop([&] { return std::make_unique<ScriptedBackend>(io_, std::move(script)); }));
    return *scripted_.back();
  }
  // A named service "hello" on `port`, the link up.
  FakeGateway& serve_hello(std::uint16_t port) {
    auto& gw = gateway(FakeGateway::Mode::accept);
    auto o = options(gw.port());
    o.services = {{"hello", port}};
    start(o);
    return gw;
  }
  void TearDown() override {
    on_loop([this] {
      if (node_) node_->stop();
      for (auto& g : gateways_) g->stop();
      for (auto& e : echoes_) e->stop();
      for (auto& b : scripted_) b->stop();
      guard_.reset();
    });
    thread_.join();
  }

  NullLogger log_;
  net::io_context io_;
  std::optional<net::executor_work_guard<net::io_context::executor_type>> guard_{
      io_.get_executor()};
  std::thread thread_;
  std::shared_ptr<NodeLink> node_;
  std::vector<std::unique_ptr<FakeGateway>> gateways_;
  std::vector<std::unique_ptr<EchoUpgrade>> echoes_;
  std::vector<std::unique_ptr<ScriptedBackend>> scripted_;
  std::vector<std::unique_ptr<Backend>> backends_;  // after io_: stopped after the node's end
};

}  // namespace mnigs::httptunnel::node_test
