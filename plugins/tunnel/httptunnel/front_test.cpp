// The gateway's public front over loopback, with a fake node behind a fake
// tunnel: routing by token and by name, WStunnel's refusals, requests that
// wait for their node, timeouts, bodies that stream through small windows,
// bad answers from a node, and clients that send too much or too slowly.
#include "front.hpp"

#include <gtest/gtest.h>
#include <httplib.h>

#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include <future>
#include <optional>
#include <random>
#include <thread>

namespace mnigs::httptunnel {
namespace {

using namespace std::chrono_literals;
namespace net = boost::asio;

struct NullLogger : Logger {
  bool enabled(LogLevel) const override { return false; }
  void write(LogLevel, std::string_view) override {}
};

const std::string kToken = "0123456789abcdef-token";

// What the fake node does with a request: the raw HTTP/1.1 answer.
using Answer = std::function<std::string(const http::request<http::string_body>&)>;

// A channel to a fake node: parses the request it is given, answers with
// Answer's bytes, handing them out `window` bytes at a time and only as
// fast as they are consumed (as an HTTP/2 stream's window would).
class FakeChannel : public Channel {
 public:
  FakeChannel(net::io_context& io, Events events, Answer answer, std::size_t window,
              std::vector<std::string>* seen_targets)
      : io_(io), events_(std::move(events)), answer_(std::move(answer)), window_(window),
        seen_(seen_targets) {
    parser_.body_limit(std::numeric_limits<std::uint64_t>::max());
    parser_.eager(true);
  }
  std::size_t write(std::span<const std::uint8_t> bytes) override {
    // Takes at most `window` bytes per turn of the loop, so the front's
    // queue fills and on_writable has to bring the rest.
    const std::size_t n = std::min(bytes.size(), window_ - taken_);
    if (n == 0) {
      blocked_ = true;
      return 0;
    }
    taken_ += n;
    boost::beast::error_code ec;
    in_.append(reinterpret_cast<const char*>(bytes.data()), n);
    const std::size_t used = parser_.put(net::buffer(in_), ec);
    in_.erase(0, used);
    post([this] {
      taken_ = 0;
      if (blocked_) {
        blocked_ = false;
        events_.on_writable();
      }
    });
    if (parser_.is_done() && !answered_) {
      answered_ = true;
      if (seen_) seen_->push_back(std::string(parser_.get().target()));
      out_ = answer_(parser_.get());
      post([this] { give(); });
    }
    return n;
  }
  void end() override {}
  void consumed(std::size_t n) override {
    unacked_ -= n;
    post([this] { give(); });
  }
  void abort() override { *alive_ = false; }
  ~FakeChannel() override { *alive_ = false; }

 private:
  void post(std::function<void()> fn) {
    net::post(io_, [alive = alive_, fn = std::move(fn)] {
      if (*alive) fn();
    });
  }
  void give() {
    if (unacked_ > 0 || out_.empty()) {
      if (out_.empty() && unacked_ == 0 && !ended_ && answered_) {
        ended_ = true;
        events_.on_end();
      }
      return;
    }
    const std::size_t n = std::min(out_.size(), window_);
    const std::string piece = out_.substr(0, n);
    out_.erase(0, n);
    unacked_ += n;
    events_.on_data({reinterpret_cast<const std::uint8_t*>(piece.data()), piece.size()});
  }

  net::io_context& io_;
  Events events_;
  Answer answer_;
  std::size_t window_;
  std::vector<std::string>* seen_;
  http::request_parser<http::string_body> parser_;
  std::string in_, out_;
  std::size_t taken_ = 0, unacked_ = 0;
  bool blocked_ = false, answered_ = false, ended_ = false;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

class FakeTunnel : public Tunnel {
 public:
  FakeTunnel(net::io_context& io, Answer answer, std::size_t window = 1 << 20)
      : io_(io), answer_(std::move(answer)), window_(window) {}
  bool has_room() const override { return true; }
  std::string describe() const override { return "fake"; }
  std::unique_ptr<Channel> open(const ChannelRequest& r, Channel::Events events) override {
    services_asked.push_back(r.service);
    return std::make_unique<FakeChannel>(io_, std::move(events), answer_, window_, &targets);
  }
  std::vector<std::string> services() const override { return offered; }
  std::vector<std::string> targets, services_asked, offered;

 private:
  net::io_context& io_;
  Answer answer_;
  std::size_t window_;
};

std::string ok(const std::string& body, const std::string& extra = "") {
  return "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(body.size()) + "\r\n" + extra +
         "\r\n" + body;
}

// The front on a loopback port, its loop on a thread of its own.
class FrontTest : public ::testing::Test {
 protected:
  void start(FrontOptions options = {}) {
    front_ = std::make_unique<Front>(io_, registry_, log_, options, Front::Hooks{
        [](bool local) { return std::string(local ? "local\n" : "remote\n"); }, nullptr});
    ASSERT_EQ(front_->listen({{"127.0.0.1", 0}}), "");
    const std::string at = front_->listening().at(0);
    port_ = static_cast<std::uint16_t>(std::stoi(at.substr(at.rfind(':') + 1)));
    thread_ = std::thread([this] { io_.run(); });
  }
  // Runs fn on the front's loop and waits for it.
  template <class Fn>
  auto on_loop(Fn fn) {
    std::packaged_task<decltype(fn())()> task(fn);
    auto f = task.get_future();
    net::post(io_, [&task] { task(); });
    return f.get();
  }
  void TearDown() override {
    if (!thread_.joinable()) return;
    on_loop([this] {
      front_->stop();
      guard_.reset();
    });
    thread_.join();
  }
  void attach(const std::string& key, Tunnel& t) {
    on_loop([&] { return registry_.attach(key, "secret", t, Registry::Clock::now()); });
  }
  void detach(const std::string& key, Tunnel& t) {
    on_loop([&] { registry_.detach(key, t, Registry::Clock::now()); });
  }
  httplib::Client client() {
    httplib::Client c("127.0.0.1", port_);
    c.set_read_timeout(10, 0);
    return c;
  }
  // Sends raw bytes, returns everything read until the server closes (or
  // `timeout`).
  std::string raw(const std::string& bytes, std::chrono::seconds timeout = 5s) {
    net::io_context io;
    net::ip::tcp::socket s(io);
    s.connect({net::ip::make_address("127.0.0.1"), port_});
    net::write(s, net::buffer(bytes));
    struct timeval tv{static_cast<time_t>(timeout.count()), 0};
    ::setsockopt(s.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    std::string got;
    char buf[4096];
    for (;;) {
      const ssize_t n = ::recv(s.native_handle(), buf, sizeof buf, 0);
      if (n <= 0) break;
      got.append(buf, static_cast<std::size_t>(n));
    }
    return got;
  }

  // A copy of the front's metrics of `name` (as status names it), if any.
  std::optional<KeyStats> key(const std::string& name) {
    return on_loop([&]() -> std::optional<KeyStats> {
      for (const auto& [n, stats] : front_->key_metrics().view())
        if (n == name) return *stats;
      return std::nullopt;
    });
  }
  std::size_t keys_counted() {
    return on_loop([&] { return front_->key_metrics().size(); });
  }

  NullLogger log_;
  net::io_context io_;
  std::optional<net::executor_work_guard<net::io_context::executor_type>> guard_{
      io_.get_executor()};
  Registry registry_{Policy::failover, 20, 1h};
  std::unique_ptr<Front> front_;
  std::thread thread_;
  std::uint16_t port_ = 0;
};

TEST_F(FrontTest, HealthCheckAndStats) {
  start();
  auto c = client();
  auto r = c.Get("/_health_check");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "WSTUNSRV RUNNING\n");
  r = c.Get("/_stats");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, "local\n");
}

TEST_F(FrontTest, TokenInPathAndInHeaderReachTheNodeOnOneConnection) {
  start();
  FakeTunnel node(io_, [](const auto& req) {
    return ok("you asked " + std::string(req.target()) + " for " +
              std::string(req[http::field::host]));
  });
  attach("token:" + kToken, node);
  auto c = client();
  c.set_keep_alive(true);
  auto r = c.Get("/_token/" + kToken + "/some/page?x=1");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "you asked /some/page?x=1 for 127.0.0.1:" + std::to_string(port_));
  r = c.Get("/other", {{"X-Token", kToken}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, "you asked /other for 127.0.0.1:" + std::to_string(port_));
  EXPECT_EQ(on_loop([&] { return front_->counters().connections.load(); }), 1u);
  EXPECT_EQ(node.targets, (std::vector<std::string>{"/some/page?x=1", "/other"}));
}

TEST_F(FrontTest, WstunnelRefusals) {
  start();
  auto c = client();
  auto r = c.Get("/_token/" + kToken);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  EXPECT_EQ(r->body, "Missing token in URI\n");
  r = c.Get("/x");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  EXPECT_EQ(r->body, "Missing X-Token header\n");
  r = c.Get("/x", {{"X-Token", "short"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  r = c.Get("/x", {{"X-Token", kToken}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
  EXPECT_EQ(r->body, "Tunnel not found (or not seen in a long time)\n");
}

TEST_F(FrontTest, ARequestWaitsForItsNodeAndTheQueueIsBounded) {
  registry_.set_queue(2);
  start();
  FakeTunnel first(io_, [](const auto&) { return ok("first"); });
  attach("token:" + kToken, first);
  detach("token:" + kToken, first);
  // Two wait; the third finds the queue full.
  const auto get = [&](const std::string& path) {
    return client().Get(path, {{"X-Token", kToken}});
  };
  auto a = std::async(std::launch::async, get, "/a");
  auto b = std::async(std::launch::async, get, "/b");
  while (on_loop([&] { return registry_.waiting(); }) < 2) std::this_thread::sleep_for(10ms);
  auto full = client().Get("/c", {{"X-Token", kToken}});
  ASSERT_TRUE(full);
  EXPECT_EQ(full->status, 504);
  EXPECT_EQ(full->body, "Too many requests in-flight, tunnel broken?\n");
  FakeTunnel back(io_, [](const auto& req) { return ok("back " + std::string(req.target())); });
  attach("token:" + kToken, back);
  auto ra = a.get(), rb = b.get();
  ASSERT_TRUE(ra);
  ASSERT_TRUE(rb);
  EXPECT_EQ(ra->body, "back /a");
  EXPECT_EQ(rb->body, "back /b");
}

TEST_F(FrontTest, NoAnswerInTimeIsTunnelTimeout) {
  FrontOptions o;
  o.timeout = 1s;
  start(o);
  FakeTunnel away(io_, [](const auto&) { return ok(""); });
  attach("token:" + kToken, away);
  detach("token:" + kToken, away);
  auto r = client().Get("/slow", {{"X-Token", kToken}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 504);
  EXPECT_EQ(r->body, "Tunnel timeout\n");
  EXPECT_EQ(on_loop([&] { return registry_.waiting(); }), 0u);
}

TEST_F(FrontTest, AnAnswerThatIsNotHttpIs506) {
  start();
  FakeTunnel bad(io_, [](const auto&) { return std::string("garbage\r\n\r\n"); });
  attach("token:" + kToken, bad);
  auto r = client().Get("/x", {{"X-Token", kToken}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 506);
  EXPECT_EQ(on_loop([&] { return front_->counters().bad_responses.load(); }), 1u);
  // The gateway's own 506 is an error of the key.
  const auto k = key(shown("token:" + kToken));
  ASSERT_TRUE(k);
  EXPECT_EQ(k->requests, 1u);
  EXPECT_EQ(k->errors, 1u);
}

TEST_F(FrontTest, ASwitchNobodyAskedForIs506) {
  start();
  FakeTunnel node(io_, [](const auto&) {
    return std::string("HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n") + ok("sneaky");
  });
  attach("token:" + kToken, node);
  auto r = client().Get("/x", {{"X-Token", kToken}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 506);
}

// Upgrade means a switch only where Connection names it (RFC 9110 7.8):
// without, it is a hop-by-hop field the node never sees, and a 101 for it
// is one nobody asked for.
TEST_F(FrontTest, UpgradeWithoutConnectionUpgradeIsNoSwitch) {
  start();
  bool had_upgrade = true;
  FakeTunnel node(io_, [&](const http::request<http::string_body>& req) {
    had_upgrade = req.find(http::field::upgrade) != req.end();
    return std::string(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n");
  });
  attach("token:" + kToken, node);
  const std::string answer = raw("GET /x HTTP/1.1\r\nHost: gw\r\nX-Token: " + kToken +
                                 "\r\nUpgrade: websocket\r\nConnection: close\r\n\r\n");
  EXPECT_TRUE(answer.starts_with("HTTP/1.1 506 ")) << answer;
  EXPECT_FALSE(had_upgrade);
}

// A node's chunk line that never ends: what the front holds stays bounded
// and the connection ends.
TEST_F(FrontTest, AnEndlessChunkLineEndsTheConnection) {
  start();
  FakeTunnel node(io_, [](const auto&) {
    return "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1;" +
           std::string(200000, 'a');
  });
  attach("token:" + kToken, node);
  auto r = client().Get("/x", {{"X-Token", kToken}});
  EXPECT_TRUE(!r || r->body.empty());
  while (on_loop([&] { return front_->open_connections(); }) > 0)
    std::this_thread::sleep_for(10ms);
}

// A Connection header that names Content-Length does not unframe the body.
TEST_F(FrontTest, ContentLengthNamedInConnectionStillFramesTheBody) {
  start();
  FakeTunnel node(io_, [](const auto&) { return ok("framed", "Connection: Content-Length\r\n"); });
  attach("token:" + kToken, node);
  auto c = client();
  c.set_keep_alive(true);
  for (int i = 0; i < 2; ++i) {
    auto r = c.Get("/x", {{"X-Token", kToken}});
    ASSERT_TRUE(r);
    EXPECT_EQ(r->body, "framed");
  }
}

// Bodies far larger than every buffer on the way, through a 16 KiB window.
TEST_F(FrontTest, LargeBodiesStreamBothWaysUnchanged) {
  start();
  std::string upload(3 << 20, '\0');
  std::mt19937 rng(7);
  for (auto& ch : upload) ch = static_cast<char>(rng());
  FakeTunnel node(
      io_,
      [](const auto& req) {
        // Sends the body back reversed, chunked (no length).
        std::string body(req.body().rbegin(), req.body().rend());
        std::string out = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
        for (std::size_t at = 0; at < body.size(); at += 10000) {
          const std::string piece = body.substr(at, 10000);
          char len[16];
          std::snprintf(len, sizeof len, "%zx\r\n", piece.size());
          out += len + piece + "\r\n";
        }
        return out + "0\r\n\r\n";
      },
      16 * 1024);
  attach("token:" + kToken, node);
  auto r = client().Post("/_token/" + kToken + "/up", upload, "application/octet-stream");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body.size(), upload.size());
  EXPECT_TRUE(r->body == std::string(upload.rbegin(), upload.rend()));
}

TEST_F(FrontTest, NamedServicesByHost) {
  FrontOptions o;
  o.domain = "tunnel.example.net";
  start(o);
  FakeTunnel node(io_, [](const auto& req) { return ok("svc " + std::string(req.target())); });
  node.offered = {"hello-world", "websockets"};
  attach("id:tim", node);
  auto c = client();
  auto r = c.Get("/page", {{"Host", "hello-world.tim.tunnel.example.net:8000"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, "svc /page");
  EXPECT_EQ(node.services_asked, std::vector<std::string>{"hello-world"});
  r = c.Get("/", {{"Host", "tim.tunnel.example.net"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, "{\"id\":\"tim\",\"services\":[\"hello-world\",\"websockets\"]}\n");
  r = c.Get("/", {{"Host", "printer.tim.tunnel.example.net"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
  EXPECT_EQ(r->body, "No service printer at tim\n");
  r = c.Get("/", {{"Host", "hello-world.bob.tunnel.example.net"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
}

TEST_F(FrontTest, EachTokenAndNamedServiceIsCounted) {
  FrontOptions o;
  o.domain = "tunnel.example.net";
  start(o);
  FakeTunnel by_token(io_, [](const auto& req) {
    if (req.target() == "/fail")
      return std::string("HTTP/1.1 500 Oops\r\nContent-Length: 0\r\n\r\n");
    return ok("token " + std::string(req.target()));
  });
  FakeTunnel by_name(io_, [](const auto& req) { return ok("svc " + std::string(req.target())); });
  by_name.offered = {"hello"};
  attach("token:" + kToken, by_token);
  attach("id:tim", by_name);
  auto c = client();
  for (const std::string path : {"/a", "/b", "/fail"}) {
    auto r = c.Post(path, {{"X-Token", kToken}}, "twelve bytes", "text/plain");
    ASSERT_TRUE(r);
  }
  for (int i = 0; i < 2; ++i) {
    auto r = c.Get("/page", {{"Host", "hello.tim.tunnel.example.net"}});
    ASSERT_TRUE(r);
    EXPECT_EQ(r->body, "svc /page");
  }
  // Tokens, ids and services no node held make no entry.
  EXPECT_EQ(c.Get("/x", {{"X-Token", "fedcba9876543210-other"}})->status, 404);
  EXPECT_EQ(c.Get("/", {{"Host", "printer.tim.tunnel.example.net"}})->status, 404);
  EXPECT_EQ(c.Get("/", {{"Host", "hello.bob.tunnel.example.net"}})->status, 404);
  EXPECT_EQ(keys_counted(), 2u);

  const auto t = key("token:01234567...");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->requests, 3u);
  EXPECT_EQ(t->errors, 1u);  // the node's 500
  EXPECT_GT(t->bytes_in, 3 * std::string("twelve bytes").size());
  EXPECT_GT(t->bytes_out, std::string("token /a").size() + std::string("token /b").size());
  EXPECT_EQ(t->latency.count(), 3u);
  EXPECT_LE(t->latency.quantile_ms(0.5), t->latency.quantile_ms(0.99));
  EXPECT_LE(t->latency.quantile_ms(0.99), t->latency.max_ms());
  const auto n = key("hello.tim");
  ASSERT_TRUE(n);
  EXPECT_EQ(n->requests, 2u);
  EXPECT_EQ(n->errors, 0u);
  EXPECT_GT(n->bytes_out, 2 * std::string("svc /page").size());
  EXPECT_EQ(n->latency.count(), 2u);
}

TEST_F(FrontTest, CountedKeysAreCappedAndTheLeastRecentlyUsedGoes) {
  FrontOptions o;
  o.max_metric_keys = 2;
  start(o);
  FakeTunnel node(io_, [](const auto&) { return ok("x"); });
  const std::vector<std::string> tokens = {"aaaaaaaa-token-one", "bbbbbbbb-token-two",
                                           "cccccccc-token-three"};
  for (const auto& t : tokens) attach("token:" + t, node);
  auto c = client();
  for (const auto& t : tokens) ASSERT_TRUE(c.Get("/", {{"X-Token", t}}));
  EXPECT_EQ(keys_counted(), 2u);
  EXPECT_EQ(on_loop([&] { return front_->key_metrics().dropped(); }), 1u);
  EXPECT_FALSE(key("token:aaaaaaaa..."));
  EXPECT_EQ(key("token:cccccccc...")->requests, 1u);
  // A key in use stays: b is used again, so c goes for a.
  ASSERT_TRUE(c.Get("/", {{"X-Token", tokens[1]}}));
  ASSERT_TRUE(c.Get("/", {{"X-Token", tokens[0]}}));
  EXPECT_EQ(key("token:bbbbbbbb...")->requests, 2u);
  EXPECT_EQ(key("token:aaaaaaaa...")->requests, 1u);
  EXPECT_FALSE(key("token:cccccccc..."));
}

TEST_F(FrontTest, AHeadTooLargeIs431AndASlowHeadIsClosed) {
  FrontOptions o;
  o.head_timeout = 1s;
  start(o);
  const std::string big = "GET / HTTP/1.1\r\nX-Token: " + kToken + "\r\nX-Big: " +
                          std::string(20000, 'a') + "\r\n\r\n";
  EXPECT_TRUE(raw(big).starts_with("HTTP/1.1 431")) << raw(big).substr(0, 40);
  // A head that never ends: closed after head_timeout, nothing answered.
  EXPECT_EQ(raw("GET / HTTP/1.1\r\nX-Tok", 5s), "");
  EXPECT_EQ(on_loop([&] { return front_->counters().slow_heads.load(); }), 1u);
  EXPECT_TRUE(raw("NOT HTTP AT ALL\r\n\r\n").starts_with("HTTP/1.1 400"));
  // The front still serves.
  auto r = client().Get("/_health_check");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
}

TEST_F(FrontTest, AmbiguousFramingAndHostsAreRefused) {
  start();
  for (const std::string& head :
       {std::string("GET /_health_check HTTP/1.1\r\n\r\n"),
        std::string("GET /_health_check HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"),
        std::string("POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n"
                    "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
        std::string("POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n"),
        std::string("POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n")}) {
    const std::string got = raw(head);
    EXPECT_TRUE(got.starts_with("HTTP/1.1 400")) << head << "\n" << got.substr(0, 80);
  }
  // HTTP/1.0 without Host is fine.
  EXPECT_TRUE(raw("GET /_health_check HTTP/1.0\r\n\r\n").starts_with("HTTP/1.1 200"));
}

TEST_F(FrontTest, ConnectionsBeyondThePerAddressLimitAreClosed) {
  FrontOptions o;
  o.max_per_address = 2;
  start(o);
  net::io_context io;
  std::vector<net::ip::tcp::socket> held;
  for (int i = 0; i < 2; ++i) {
    held.emplace_back(io);
    held.back().connect({net::ip::make_address("127.0.0.1"), port_});
  }
  while (on_loop([&] { return front_->open_connections(); }) < 2)
    std::this_thread::sleep_for(10ms);
  EXPECT_EQ(raw("GET /_health_check HTTP/1.1\r\n\r\n"), "");
  EXPECT_EQ(on_loop([&] { return front_->counters().over_limit.load(); }), 1u);
  held.clear();
  while (on_loop([&] { return front_->open_connections(); }) > 0)
    std::this_thread::sleep_for(10ms);
  auto r = client().Get("/_health_check");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
}

TEST(FrontCapKey, AnIpv4AddressOrAnIpv6Slash64) {
  const auto key = [](const char* a) { return cap_key(net::ip::make_address(a)); };
  EXPECT_EQ(key("192.0.2.7"), "192.0.2.7");
  EXPECT_EQ(key("::ffff:192.0.2.7"), "192.0.2.7");
  EXPECT_EQ(key("2001:db8:1:2:aaaa::1"), "2001:db8:1:2::/64");
  EXPECT_EQ(key("2001:db8:1:2:bbbb:cccc:dddd:eeee"), "2001:db8:1:2::/64");
  EXPECT_NE(key("2001:db8:1:3::1"), key("2001:db8:1:2::1"));
  EXPECT_EQ(key("::1"), "::/64");
}

}  // namespace
}  // namespace mnigs::httptunnel
