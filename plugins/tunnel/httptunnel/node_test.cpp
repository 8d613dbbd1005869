// A node's link over loopback, against a fake gateway written here: an
// acceptor that reads the upgrade request, answers 101 (or a refusal, or
// nothing more), and opens CONNECT streams with a MuxSession of its own.
// Backends are cpp-httplib servers and small Asio servers. Covered: named
// services and token mode (Host, X-Host and its regexp), large bodies
// through small windows, an upgrade, a service down, an unknown service,
// a refused link, a dropped link and a silent one (ping timeout).
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

namespace mnigs::httptunnel {
namespace {

using namespace std::chrono_literals;
namespace net = boost::asio;
using tcp = net::ip::tcp;
namespace http = boost::beast::http;

struct NullLogger : Logger {
  bool enabled(LogLevel) const override { return false; }
  void write(LogLevel, std::string_view) override {}
};

std::span<const std::uint8_t> as_bytes(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

const std::string kSecret = "a-secret-of-some-length";
const std::string kToken = "0123456789abcdef-token";

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

std::string ok(const std::string& body, const std::string& extra = "") {
  return "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(body.size()) + "\r\n" + extra +
         "\r\n" + body;
}

// A port on which nothing listens.
std::uint16_t closed_port() {
  net::io_context io;
  tcp::acceptor a(io, {net::ip::make_address("127.0.0.1"), 0});
  const std::uint16_t port = a.local_endpoint().port();
  a.close();
  return port;
}

http::response<http::string_body> parse_response(const std::string& bytes) {
  http::response_parser<http::string_body> p;
  p.body_limit(std::numeric_limits<std::uint64_t>::max());
  p.eager(true);
  boost::beast::error_code ec;
  p.put(net::buffer(bytes), ec);
  if (!p.is_done()) p.put_eof(ec);
  EXPECT_FALSE(ec) << ec.message() << " in " << bytes.substr(0, 200);
  return p.release();
}

std::string get(const std::string& target, const std::string& host, const std::string& extra = "") {
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

TEST(BackoffTest, DoublesWithJitterUpToTheMaximumAndResetsAfterAStableLink) {
  Backoff b({1000ms, 60000ms, 30000ms});
  EXPECT_EQ(b.next(0.5), 1000ms);
  EXPECT_EQ(b.next(0.5), 2000ms);
  EXPECT_EQ(b.next(0.0), 3000ms);   // 4 s - 25 %
  EXPECT_EQ(b.next(1.0), 10000ms);  // 8 s + 25 %
  for (int i = 0; i < 10; ++i) b.next(0.5);
  EXPECT_EQ(b.next(0.5), 60000ms);
  b.link_lasted(29s);
  EXPECT_EQ(b.next(0.5), 60000ms);
  b.link_lasted(30s);
  EXPECT_EQ(b.next(0.5), 1000ms);
  b.to_max();
  EXPECT_EQ(b.next(0.5), 60000ms);
}

TEST_F(NodeTest, NamedServiceKeepsHostAndPathAndTheAnswerComesBackUnchanged) {
  auto& backend = http_backend([](httplib::Server& s) {
    s.Get("/hello", [](const httplib::Request& req, httplib::Response& res) {
      res.set_header("X-Answer", "yes");
      res.set_content("path=" + req.path + "?x=" + req.get_param_value("x") +
                          " host=" + req.get_header_value("Host") +
                          " connection=" + req.get_header_value("Connection"),
                      "text/plain");
    });
  });
  auto& gw = gateway(FakeGateway::Mode::accept);
  auto o = options(gw.port());
  o.services = {{"hello", backend.port()}};
  start(o);
  auto ex = exchange(gw, "hello", get("/hello?x=1", "hello.tim.example.net"));
  EXPECT_EQ(ex->status, 200);
  EXPECT_TRUE(ex->got_end);
  EXPECT_EQ(ex->code, h2_error::no_error);
  auto r = parse_response(ex->received);
  EXPECT_EQ(r.result_int(), 200);
  EXPECT_EQ(r["X-Answer"], "yes");
  // No Connection field: HTTP/1.1's default, keep-alive.
  EXPECT_EQ(r.body(), "path=/hello?x=1 host=hello.tim.example.net connection=");
  // What the gateway was told.
  ASSERT_FALSE(gw.hellos.empty());
  EXPECT_FALSE(gw.hellos[0].refusal);
  EXPECT_EQ(gw.hellos[0].hello.key, "id:tim");
  EXPECT_EQ(gw.hellos[0].hello.secret, kSecret);
  EXPECT_EQ(gw.hellos[0].hello.services, (std::vector<std::string>{"hello", "down"}));
  EXPECT_EQ(gw.targets[0], link::kPath);
  const auto st = on_loop([&] { return node_->status(); });
  EXPECT_EQ(st.state, "up");
  EXPECT_EQ(st.gateway, "127.0.0.1:" + std::to_string(gw.port()));
  EXPECT_EQ(st.streams_served, 1u);
  EXPECT_GT(st.bytes_to_services, 0u);
  EXPECT_GT(st.bytes_from_services, 0u);
  EXPECT_TRUE(wait_until([&] { return node_->status().streams_open == 0; }));
}

TEST_F(NodeTest, TokenModeSetsHostToTheBackendAndHonoursXHostOnlyWhenItMatches) {
  auto echo_host = [](httplib::Server& s) {
    s.Get("/where", [](const httplib::Request& req, httplib::Response& res) {
      res.set_content(
          "host=" + req.get_header_value("Host") + " x-host=" + req.get_header_value("X-Host"),
          "text/plain");
    });
  };
  auto& main = http_backend(echo_host);
  auto& other = http_backend(echo_host);
  auto& gw = gateway(FakeGateway::Mode::accept);
  auto o = options(gw.port());
  o.hello = {"token:" + kToken, kSecret, {}};
  o.server = "http://127.0.0.1:" + std::to_string(main.port()) + "/";
  o.regexp = std::regex("http://localhost:[0-9]+");
  start(o);
  const std::string token(link::kTokenAuthority);

  auto ex = exchange(gw, token, get("/where", "gateway.example.net"));
  auto r = parse_response(ex->received);
  EXPECT_EQ(r.body(), "host=127.0.0.1:" + std::to_string(main.port()) + " x-host=");

  // A name is resolved; X-Host does not reach the backend.
  const std::string x_host = "http://localhost:" + std::to_string(other.port());
  ex = exchange(gw, token, get("/where", "gateway.example.net", "X-Host: " + x_host + "\r\n"));
  r = parse_response(ex->received);
  EXPECT_EQ(r.body(), "host=localhost:" + std::to_string(other.port()) + " x-host=");

  ex = exchange(gw, token,
                get("/where", "gateway.example.net", "X-Host: http://example.com:80\r\n"));
  r = parse_response(ex->received);
  EXPECT_EQ(r.result_int(), 403);
  EXPECT_EQ(r.body(),
            "X-Host header 'http://example.com:80' does not match regexp in wstunnel cli\n");
  EXPECT_EQ(r[http::field::content_type], "text/plain; charset=utf-8");
  EXPECT_TRUE(ex->got_end);
}

TEST_F(NodeTest, LargeBodiesPassUnchangedThroughSmallWindows) {
  constexpr std::size_t kSize = 4 << 20;
  std::string upload(kSize, '\0'), download(kSize, '\0');
  std::mt19937 rng(11);
  for (auto& c : upload) c = static_cast<char>(rng());
  for (auto& c : download) c = static_cast<char>(rng());
  std::atomic<bool> upload_ok{false};
  auto& backend = http_backend([&](httplib::Server& s) {
    s.Post("/up", [&](const httplib::Request& req, httplib::Response& res) {
      upload_ok = req.body == upload;
      res.set_content(download, "application/octet-stream");
    });
  });
  MuxLimits small;
  small.stream_window = 16 * 1024;
  small.send_buffer = 32 * 1024;
  auto& gw = gateway(FakeGateway::Mode::accept, small);
  auto o = options(gw.port());
  o.services = {{"hello", backend.port()}};
  o.limits = small;
  start(o);
  const std::string head =
      "POST /up HTTP/1.1\r\nHost: hello.tim\r\nContent-Length: " + std::to_string(kSize) +
      "\r\n\r\n";
  auto ex = exchange(gw, "hello", head + upload);
  EXPECT_TRUE(upload_ok);
  auto r = parse_response(ex->received);
  EXPECT_EQ(r.result_int(), 200);
  EXPECT_EQ(r.body().size(), kSize);
  EXPECT_TRUE(r.body() == download);
}

// A service that takes no bytes holds its stream's window and no more: the
// gateway's sender stops, and other streams go on.
TEST_F(NodeTest, AServiceThatDoesNotReadStopsItsSenderOnly) {
  net::io_context idle;
  tcp::acceptor stalled(idle, {net::ip::make_address("127.0.0.1"), 0});  // never accepts
  auto& backend = http_backend([](httplib::Server& s) {
    s.Get("/", [](const httplib::Request&, httplib::Response& res) {
      res.set_content("hi", "text/plain");
    });
  });
  MuxLimits small;
  small.stream_window = 16 * 1024;
  small.send_buffer = 32 * 1024;
  auto& gw = gateway(FakeGateway::Mode::accept, small);
  auto o = options(gw.port());
  o.services = {{"hello", backend.port()}, {"down", stalled.local_endpoint().port()}};
  o.limits = small;
  start(o);
  ASSERT_TRUE(wait_until([&] { return gw.ready() && node_->status().state == "up"; }));
  constexpr std::size_t kSize = 32 << 20;
  const std::string head =
      "POST / HTTP/1.1\r\nHost: down.tim\r\nContent-Length: " + std::to_string(kSize) + "\r\n\r\n";
  auto big = on_loop([&] { return gw.open("down", head + std::string(kSize, 'x')); });
  ASSERT_TRUE(big);
  // Whatever the kernel's buffers take, most of it stays with the sender.
  std::size_t left = 0;
  for (int i = 0; i < 25; ++i) {
    std::this_thread::sleep_for(20ms);
    left = on_loop([&] { return big->to_send.size(); });
  }
  EXPECT_GT(left, kSize / 2) << left;
  auto ex = exchange(gw, "hello", get("/", "hello.tim"));
  EXPECT_EQ(parse_response(ex->received).body(), "hi");
  EXPECT_FALSE(on_loop([&] { return big->closed; }));
}

TEST_F(NodeTest, AnUpgradedConnectionCarriesBytesBothWays) {
  auto& echo = this->echo();
  auto& gw = gateway(FakeGateway::Mode::accept);
  auto o = options(gw.port());
  o.services = {{"hello", echo.port()}};
  start(o);
  ASSERT_TRUE(wait_until([&] { return gw.ready() && node_->status().state == "up"; }));
  const std::string head = get("/ws", "hello.tim", "Connection: Upgrade\r\nUpgrade: echo\r\n");
  auto ex = on_loop([&] { return gw.open("hello", head, true); });
  ASSERT_TRUE(ex);
  ASSERT_TRUE(wait_until([&] { return ex->received.find("\r\n\r\n") != std::string::npos; }));
  EXPECT_TRUE(ex->received.starts_with("HTTP/1.1 101 Switching Protocols\r\n"));
  on_loop([&] {
    ex->received.clear();
    ex->send("ping over the tunnel");
  });
  EXPECT_TRUE(wait_until([&] { return ex->received == "ping over the tunnel"; }));
  // The request went with its Upgrade, not turned into Connection: close.
  const std::string seen = on_loop([&] { return echo.head; });
  EXPECT_NE(seen.find("Upgrade: echo\r\n"), std::string::npos) << seen;
  EXPECT_EQ(seen.find("close"), std::string::npos) << seen;
  // Ending our side is passed on; the service's end comes back.
  on_loop([&] {
    ex->end_when_sent = true;
    ex->send("");
  });
  EXPECT_TRUE(wait_until([&] { return ex->closed; }));
  EXPECT_TRUE(ex->got_end);
}

TEST_F(NodeTest, AConnectionToAServiceIsKeptForTheNextStreams) {
  auto& b = scripted([](const std::string&, int conn, int n) {
    return std::optional<ScriptedBackend::Reply>(ScriptedBackend::Reply{
        ok("conn " + std::to_string(conn) + " request " + std::to_string(n))});
  });
  auto& gw = serve_hello(b.port());
  for (int i = 1; i <= 3; ++i) {
    auto ex = exchange(gw, "hello", get("/x", "hello.tim.example.net"));
    EXPECT_TRUE(ex->got_end);
    EXPECT_EQ(ex->code, h2_error::no_error);
    EXPECT_EQ(ex->received, ok("conn 1 request " + std::to_string(i)));
  }
  const auto st = on_loop([&] { return node_->status(); });
  EXPECT_EQ(st.service_connections, 1u);
  EXPECT_EQ(st.service_reuses, 2u);
  const auto requests = on_loop([&] { return b.requests; });
  ASSERT_EQ(requests.size(), 3u);
  EXPECT_EQ(requests[0].find("Connection:"), std::string::npos) << requests[0];
}

TEST_F(NodeTest, AnswersAreFollowedToWhereTheirFramingEnds) {
  const std::map<std::string, std::string> answers = {
      {"/chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"},
      {"/head", "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n"},
      {"/interim", "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n" +
                       ok("after")},
      {"/none", "HTTP/1.1 204 No Content\r\n\r\n"},
      {"/same", "HTTP/1.1 304 Not Modified\r\nContent-Length: 9\r\n\r\n"},
      {"/trailers", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum\r\n\r\n"
                    "3\r\nabc\r\n0\r\nX-Sum: 3\r\n\r\n"},
      {"/trickled", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                    "4\r\nbyte\r\n3\r\nby \r\n4\r\nbyte\r\n0\r\n\r\n"},
  };
  auto& b = scripted([&](const std::string& req, int, int) {
    const auto target = req.substr(req.find(' ') + 1, req.find(" HTTP/") - req.find(' ') - 1);
    // Trickled: the node reads the answer in many pieces, lines split.
    return std::optional<ScriptedBackend::Reply>(
        ScriptedBackend::Reply{answers.at(target), false, target == "/trickled"});
  });
  auto& gw = serve_hello(b.port());
  for (const auto& [target, answer] : answers) {
    const std::string request =
        target == "/head" ? "HEAD /head HTTP/1.1\r\nHost: hello.tim.example.net\r\n\r\n"
                          : get(target, "hello.tim.example.net");
    auto ex = exchange(gw, "hello", request);
    EXPECT_TRUE(ex->got_end) << target;
    EXPECT_EQ(ex->received, answer) << target;
  }
  const auto st = on_loop([&] { return node_->status(); });
  EXPECT_EQ(st.service_connections, 1u);
  EXPECT_EQ(st.service_reuses, answers.size() - 1);
}

TEST_F(NodeTest, AConnectionIsNotKeptWhenItsAnswerSaysSoOrSaysTooMuch) {
  using Reply = ScriptedBackend::Reply;
  const std::vector<std::pair<std::string, Reply>> answers = {
      {"/close", {ok("a", "Connection: close\r\n"), true}},
      {"/old", {"HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\nb", false}},
      {"/extra", {ok("c") + "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nextra", false}},
      {"/to-close", {"HTTP/1.1 200 OK\r\n\r\nuntil the close", true}},
  };
  auto& b = scripted([&](const std::string&, int conn, int) {
    return std::optional<Reply>(answers.at(static_cast<std::size_t>(conn - 1)).second);
  });
  auto& gw = serve_hello(b.port());
  const std::vector<std::string> expected = {ok("a", "Connection: close\r\n"),
                                             "HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\nb",
                                             ok("c"),  // what followed it is dropped
                                             "HTTP/1.1 200 OK\r\n\r\nuntil the close"};
  for (std::size_t i = 0; i < answers.size(); ++i) {
    auto ex = exchange(gw, "hello", get(answers[i].first, "hello.tim.example.net"));
    EXPECT_TRUE(ex->got_end) << answers[i].first;
    EXPECT_EQ(ex->received, expected[i]) << answers[i].first;
  }
  EXPECT_EQ(on_loop([&] { return b.connections; }), 4);
  EXPECT_EQ(on_loop([&] { return node_->status().service_reuses; }), 0u);
  // The node closed the ones it did not keep.
  EXPECT_TRUE(wait_until([&] { return b.closed_by_peer == 4; }));
}

TEST_F(NodeTest, AKeptConnectionTheServiceClosedIsNotUsedAgain) {
  auto& b = scripted([](const std::string&, int conn, int) {
    // Keep-alive by its answer, closed right after: an idle timeout of 0.
    return std::optional<ScriptedBackend::Reply>(
        ScriptedBackend::Reply{ok("conn " + std::to_string(conn)), true});
  });
  auto& gw = serve_hello(b.port());
  EXPECT_EQ(exchange(gw, "hello", get("/", "hello.tim.example.net"))->received, ok("conn 1"));
  EXPECT_EQ(exchange(gw, "hello", get("/", "hello.tim.example.net"))->received, ok("conn 2"));
  const auto st = on_loop([&] { return node_->status(); });
  EXPECT_EQ(st.service_connections, 2u);
  EXPECT_EQ(st.service_reuses, 0u);
  // Not tried and sent again: seen closed before it was taken, and closed.
  EXPECT_EQ(on_loop([&] { return b.requests.size(); }), 2u);
  EXPECT_TRUE(wait_until([&] { return b.closed_by_peer >= 1; }));
}

TEST_F(NodeTest, AStreamThatCarriesMoreThanItsRequestLeavesNoConnectionBehind) {
  auto& b = scripted([](const std::string& req, int conn, int) {
    return std::optional<ScriptedBackend::Reply>(
        ScriptedBackend::Reply{ok(req.substr(0, 6) + " conn " + std::to_string(conn))});
  });
  auto& gw = serve_hello(b.port());
  // A second request behind a bodyless one, in the same stream: its answer
  // must not wait on a kept connection for another stream.
  auto ex = exchange(gw, "hello",
                     get("/a", "hello.tim.example.net") + get("/b", "hello.tim.example.net"));
  EXPECT_TRUE(ex->received.starts_with(ok("GET /a conn 1"))) << ex->received;
  EXPECT_EQ(exchange(gw, "hello", get("/c", "hello.tim.example.net"))->received,
            ok("GET /c conn 2"));
  EXPECT_EQ(on_loop([&] { return node_->status().service_reuses; }), 0u);
}

TEST_F(NodeTest, AReplayThatCannotConnectIs503) {
  ScriptedBackend* self = nullptr;
  auto& b = scripted([&self](const std::string&, int conn, int n) {
    if (n == 2) {
      self->stop_listening();  // a service restarting: gone for a moment
      return std::optional<ScriptedBackend::Reply>();
    }
    return std::optional<ScriptedBackend::Reply>(
        ScriptedBackend::Reply{ok("conn " + std::to_string(conn))});
  });
  self = &b;
  auto& gw = serve_hello(b.port());
  EXPECT_EQ(exchange(gw, "hello", get("/1", "hello.tim.example.net"))->received, ok("conn 1"));
  auto ex = exchange(gw, "hello", get("/2", "hello.tim.example.net"));
  EXPECT_TRUE(ex->got_end);
  EXPECT_TRUE(ex->received.starts_with("HTTP/1.1 503 Service Unavailable\r\n")) << ex->received;
  EXPECT_NE(ex->received.find("Retry-After: 10\r\n"), std::string::npos);
  EXPECT_TRUE(wait_until([&] { return node_->status().streams_open == 0; }));
}

TEST_F(NodeTest, ARequestAKeptConnectionDropsIsSentAgainOnlyIfItMayBe) {
  // Each connection answers its first request and closes on its second,
  // without a byte: a service's idle timeout meeting a request.
  auto& b = scripted([](const std::string&, int conn, int n) {
    if (n == 2) return std::optional<ScriptedBackend::Reply>();
    return std::optional<ScriptedBackend::Reply>(
        ScriptedBackend::Reply{ok("conn " + std::to_string(conn))});
  });
  auto& gw = serve_hello(b.port());
  EXPECT_EQ(exchange(gw, "hello", get("/1", "hello.tim.example.net"))->received, ok("conn 1"));
  // A GET: sent again, on a new connection.
  auto again = exchange(gw, "hello", get("/2", "hello.tim.example.net"));
  EXPECT_TRUE(again->got_end);
  EXPECT_EQ(again->received, ok("conn 2"));
  // A POST: the service may have acted on it; the stream ends without an
  // answer (the gateway answers with an error) and the POST went once.
  auto post = exchange(gw, "hello",
                       "POST /3 HTTP/1.1\r\nHost: hello.tim.example.net\r\nContent-Length: 3\r\n"
                       "\r\nabc");
  EXPECT_TRUE(post->got_end);
  EXPECT_EQ(post->received, "");
  const auto requests = on_loop([&] { return b.requests; });
  ASSERT_EQ(requests.size(), 4u);
  EXPECT_TRUE(requests[1].starts_with("GET /2 ") && requests[2].starts_with("GET /2 "));
  EXPECT_TRUE(requests[3].starts_with("POST /3 ")) << requests[3];
  const auto st = on_loop([&] { return node_->status(); });
  EXPECT_EQ(st.service_connections, 2u);
  EXPECT_EQ(st.service_reuses, 2u);
}

TEST_F(NodeTest, AServiceThatIsDownIs503WithRetryAfter) {
  auto& gw = gateway(FakeGateway::Mode::accept);
  auto o = options(gw.port());
  o.services = {{"down", closed_port()}};
  start(o);
  auto ex = exchange(gw, "down", get("/", "down.tim"));
  EXPECT_TRUE(ex->received.starts_with("HTTP/1.1 503 ")) << ex->received;
  auto r = parse_response(ex->received);
  EXPECT_EQ(r[http::field::retry_after], "10");
  EXPECT_EQ(r.body(), "Service unavailable: the service down is offline\n");
  // Where it runs and why it failed are for the node's log, not the client.
  EXPECT_EQ(r.body().find(std::to_string(o.services["down"])), std::string::npos) << r.body();
  EXPECT_TRUE(ex->got_end);
}

// httptunnel.healthCheck: each service is asked for the path every
// interval; one that fails is answered 503 at once, without being asked,
// until it passes again; the token backend is checked too.
TEST_F(NodeTest, AServiceThatFailsItsHealthCheckIs503UntilItPassesAgain) {
  std::atomic<bool> healthy{false};
  std::atomic<int> pages{0}, checks{0};
  auto& backend = http_backend([&](httplib::Server& s) {
    s.Get("/health", [&](const httplib::Request& req, httplib::Response& res) {
      ++checks;
      res.status = healthy ? 204 : 500;
      EXPECT_TRUE(req.get_header_value("Host").starts_with("127.0.0.1:"));
    });
    s.Get("/page", [&](const httplib::Request&, httplib::Response& res) {
      ++pages;
      res.set_content("page", "text/plain");
    });
  });
  auto& gw = gateway(FakeGateway::Mode::accept);
  auto o = options(gw.port());
  o.services = {{"hello", backend.port()}, {"down", closed_port()}};
  auto health = on_loop([&] {
    return std::make_shared<HealthChecks>(
        io_, HealthChecks::Options{"/health", 50ms, 2s},
        std::map<std::string, HealthChecks::Target>{
            {"hello", {"127.0.0.1", backend.port(), "127.0.0.1:" +
                       std::to_string(backend.port()), ""}},
            {"down", {"127.0.0.1", closed_port(), "x", ""}}});
  });
  on_loop([&] { health->start(); });
  o.health = health;
  start(o);
  ASSERT_TRUE(wait_until([&] { return !health->failing("hello").empty(); }));
  EXPECT_EQ(on_loop([&] { return health->failing("hello"); }), "answered 500");
  EXPECT_TRUE(wait_until([&] { return health->failing("down").starts_with("connect: "); }))
      << on_loop([&] { return health->failing("down"); });
  auto ex = exchange(gw, "hello", get("/page", "hello.tim"));
  auto r = parse_response(ex->received);
  EXPECT_EQ(r.result_int(), 503) << ex->received;
  EXPECT_EQ(r[http::field::retry_after], "10");
  EXPECT_EQ(r.body(), "Service unavailable: the service hello fails its health check\n");
  EXPECT_EQ(pages, 0);  // not asked

  healthy = true;
  ASSERT_TRUE(wait_until([&] { return health->failing("hello").empty(); }));
  ex = exchange(gw, "hello", get("/page", "hello.tim"));
  EXPECT_EQ(parse_response(ex->received).body(), "page");
  EXPECT_EQ(pages, 1);
  const Json::Value st = on_loop([&] { return health->status(); });
  EXPECT_TRUE(st["hello"]["healthy"].asBool()) << st.toStyledString();
  EXPECT_FALSE(st["down"]["healthy"].asBool()) << st.toStyledString();
  EXPECT_GE(st["hello"]["checks"].asInt(), 2);
  const int before = checks;
  on_loop([&] { health->stop(); });
  std::this_thread::sleep_for(200ms);
  EXPECT_LE(checks - before, 1);  // at most the one under way when stopped
}

TEST_F(NodeTest, AnUnknownServiceIs404InTheStream) {
  auto& gw = gateway(FakeGateway::Mode::accept);
  start(options(gw.port()));
  auto ex = exchange(gw, "printer", get("/", "printer.tim"));
  EXPECT_EQ(ex->status, 200);
  auto r = parse_response(ex->received);
  EXPECT_EQ(r.result_int(), 404);
  EXPECT_EQ(r.body(), "No service printer on this node\n");
  EXPECT_EQ(r[http::field::connection], "close");
}

// An id link serves only its named services, a token link only token
// requests: a gateway reaches nothing else through either.
TEST_F(NodeTest, ALinkServesOnlyWhatItsKeyNames) {
  std::atomic<int> hits{0};
  auto& main = http_backend([&hits](httplib::Server& s) {
    s.Get("/", [&hits](const httplib::Request&, httplib::Response& res) {
      ++hits;
      res.set_content("backend", "text/plain");
    });
  });
  auto& gw = gateway(FakeGateway::Mode::accept);
  auto o = options(gw.port());  // id:tim
  o.server = "http://127.0.0.1:" + std::to_string(main.port());
  start(o);
  auto ex = exchange(gw, std::string(link::kTokenAuthority), get("/", "x"));
  EXPECT_EQ(parse_response(ex->received).result_int(), 404) << ex->received;
  EXPECT_EQ(hits.load(), 0);
}

TEST_F(NodeTest, ARefusalIsShownAndRetriedLater) {
  auto& gw = gateway(FakeGateway::Mode::refuse);
  start(options(gw.port()));
  EXPECT_TRUE(wait_until([&] { return node_->status().state.starts_with("refused"); }));
  const auto st = on_loop([&] { return node_->status(); });
  EXPECT_EQ(st.last_error, "refused: 403 another secret holds this id");
  EXPECT_TRUE(wait_until([&] { return gw.accepted >= 3; }));
  EXPECT_GE(on_loop([&] { return node_->status().reconnects; }), 2u);
}

// What a hostile gateway writes in its refusal reaches logs and status
// without its control characters (a terminal's escape sequences).
TEST_F(NodeTest, ARefusalLosesItsControlCharacters) {
  auto& gw = gateway(FakeGateway::Mode::refuse);
  on_loop([&] { gw.refusal = "no\x1b[2J\x07 way\r\nsecond line"; });
  start(options(gw.port()));
  EXPECT_TRUE(wait_until([&] { return node_->status().state.starts_with("refused"); }));
  EXPECT_EQ(on_loop([&] { return node_->status().last_error; }), "refused: 403 no?[2J? way");
}

TEST_F(NodeTest, ADroppedLinkIsReconnectedAndServesAgain) {
  auto& backend = http_backend([](httplib::Server& s) {
    s.Get("/", [](const httplib::Request&, httplib::Response& res) {
      res.set_content("hi", "text/plain");
    });
  });
  auto& gw = gateway(FakeGateway::Mode::accept);
  auto o = options(gw.port());
  o.services = {{"hello", backend.port()}};
  start(o);
  auto ex = exchange(gw, "hello", get("/", "hello.tim"));
  EXPECT_EQ(parse_response(ex->received).body(), "hi");
  on_loop([&] { gw.drop(); });
  ASSERT_TRUE(wait_until([&] { return gw.accepted >= 2 && gw.ready(); }));
  ex = exchange(gw, "hello", get("/", "hello.tim"));
  EXPECT_EQ(parse_response(ex->received).body(), "hi");
  const auto st = on_loop([&] { return node_->status(); });
  EXPECT_EQ(st.reconnects, 1u);
  EXPECT_NE(st.last_error.find("the gateway"), std::string::npos) << st.last_error;
  EXPECT_EQ(st.streams_served, 2u);
}

TEST_F(NodeTest, ASilentGatewayIsDroppedAfterThePingTimeout) {
  auto& gw = gateway(FakeGateway::Mode::silent);
  auto o = options(gw.port());
  o.ping_timeout = 3s;
  start(o);
  ASSERT_TRUE(wait_until([&] { return node_->status().state == "up"; }));
  EXPECT_TRUE(wait_until([&] { return gw.accepted >= 2; }, 15s));
  const auto st = on_loop([&] { return node_->status(); });
  EXPECT_GE(st.reconnects, 1u);
  EXPECT_NE(st.last_error.find("ping timeout"), std::string::npos) << st.last_error;
}

TEST_F(NodeTest, StopEndsEverythingAndNoHandlerRunsAfter) {
  auto& echo = this->echo();
  auto& gw = gateway(FakeGateway::Mode::accept);
  auto o = options(gw.port());
  o.services = {{"hello", echo.port()}};
  start(o);
  ASSERT_TRUE(wait_until([&] { return gw.ready() && node_->status().state == "up"; }));
  auto ex = on_loop([&] {
    return gw.open("hello", get("/ws", "hello.tim", "Connection: Upgrade\r\nUpgrade: echo\r\n"),
                   true);
  });
  ASSERT_TRUE(
      wait_until([&] { return node_->status().streams_open == 1 && !ex->received.empty(); }));
  on_loop([&] { node_->stop(); });
  const auto st = on_loop([&] { return node_->status(); });
  EXPECT_EQ(st.state, "down: stopped");
  EXPECT_EQ(st.streams_open, 0u);
  // The gateway sees the link go.
  EXPECT_TRUE(wait_until([&] { return !gw.ready(); }));
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(on_loop([&] { return gw.accepted; }), 1);
}

}  // namespace
}  // namespace mnigs::httptunnel
