// WstunnelLink over loopback, against a WStunnel client written here from
// the wire format alone (a Beast WebSocket client: token in Origin, each
// request a binary message "id + HTTP request", each answer "id + HTTP
// response", empty pings), so a mistake in the link is not mirrored by the
// same mistake in the client. The link is handed over by the real Front,
// as in the gateway; HTTP clients are cpp-httplib, or channels opened on
// the link directly.
#include "front.hpp"
#include "wstunnel.hpp"
#include "wstunnel_link.hpp"

#include <gtest/gtest.h>
#include <httplib.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/websocket.hpp>

#include <condition_variable>
#include <deque>
#include <future>
#include <mutex>
#include <random>
#include <set>
#include <thread>

namespace mnigs::httptunnel {
namespace {

using namespace std::chrono_literals;
namespace net = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = net::ip::tcp;

struct NullLogger : Logger {
  bool enabled(LogLevel) const override { return false; }
  void write(LogLevel, std::string_view) override {}
};

const std::string kToken = "0123456789abcdef-token";

std::string ok(const std::string& body) {
  return "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

http::request<http::string_body> parse(const std::string& raw) {
  http::request_parser<http::string_body> p;
  p.body_limit(std::numeric_limits<std::uint64_t>::max());
  p.eager(true);
  beast::error_code ec;
  p.put(net::buffer(raw), ec);
  EXPECT_FALSE(ec) << ec.message();
  EXPECT_TRUE(p.is_done());
  return p.release();
}

// The client's side of the tunnel, on a loop and thread of its own.
class Client {
 public:
  struct Seen {
    std::string id;       // the message's first 4 bytes
    std::string request;  // the rest: the HTTP request
  };
  struct Reply {
    std::vector<std::string> messages;  // binary messages to send, in order
    bool vanish = false;                // close the socket, no Close frame
  };
  // Runs on the client's thread for each request message, with all seen so
  // far (the new one last).
  using Script = std::function<Reply(const std::vector<Seen>&)>;

  Client(std::uint16_t port, const std::string& token, Script script,
         std::chrono::milliseconds ping_every = 500ms)
      : ws_(io_), ping_timer_(io_), script_(std::move(script)), ping_every_(ping_every) {
    ws_.next_layer().connect({net::ip::make_address("127.0.0.1"), port});
    ws_.set_option(websocket::stream_base::decorator(
        [token](websocket::request_type& r) { r.set(http::field::origin, token); }));
    ws_.handshake("127.0.0.1:" + std::to_string(port), "/_tunnel");
    // As gorilla's NextWriter: a message goes in 4 KiB fragments.
    ws_.auto_fragment(true);
    ws_.write_buffer_bytes(4096);
    ws_.read_message_max(256u << 20);
    read();
    if (ping_every_.count() > 0) ping();
    thread_ = std::thread([this] { io_.run(); });
  }
  ~Client() {
    net::post(io_, [this] { drop(); });
    thread_.join();
  }

  void send_text(std::string text) {
    net::post(io_, [this, text = std::move(text)] {
      out_.push_back({true, text});
      write();
    });
  }
  std::vector<Seen> seen() {
    std::lock_guard l(m_);
    return seen_;
  }
  std::size_t messages() {
    std::lock_guard l(m_);
    return seen_.size();
  }
  // Waits (at most `limit`) for the connection to end; true when it did.
  bool wait_ended(std::chrono::seconds limit = 20s) {
    std::unique_lock l(m_);
    return cv_.wait_for(l, limit, [this] { return ended_; });
  }
  bool ended() {
    std::lock_guard l(m_);
    return ended_;
  }
  // How the connection ended: the read's error and the Close frame's code.
  beast::error_code end_error() {
    std::lock_guard l(m_);
    return end_error_;
  }
  std::uint16_t close_code() {
    std::lock_guard l(m_);
    return close_code_;
  }

 private:
  void read() {
    ws_.async_read(buf_, [this](beast::error_code ec, std::size_t) {
      if (ec) {
        ping_timer_.cancel();
        std::lock_guard l(m_);
        ended_ = true;
        end_error_ = ec;
        close_code_ = ws_.reason().code;
        cv_.notify_all();
        return;
      }
      std::string msg = beast::buffers_to_string(buf_.data());
      buf_.consume(buf_.size());
      EXPECT_TRUE(ws_.got_binary());
      Reply reply;
      {
        std::lock_guard l(m_);
        seen_.push_back({msg.substr(0, 4), msg.size() > 4 ? msg.substr(4) : ""});
        reply = script_(seen_);
      }
      if (reply.vanish) return drop();
      for (auto& m : reply.messages) out_.push_back({false, std::move(m)});
      write();
      read();
    });
  }
  void write() {
    if (writing_ || out_.empty() || dropped_) return;
    writing_ = true;
    ws_.text(out_.front().first);
    ws_.async_write(net::buffer(out_.front().second), [this](beast::error_code ec, std::size_t) {
      writing_ = false;
      out_.pop_front();
      if (!ec) write();
    });
  }
  void ping() {
    ping_timer_.expires_after(ping_every_);
    ping_timer_.async_wait([this](beast::error_code ec) {
      if (ec || dropped_) return;
      ws_.async_ping({}, [this](beast::error_code e) {
        if (!e) ping();
      });
    });
  }
  void drop() {
    dropped_ = true;
    ping_timer_.cancel();
    beast::error_code ec;
    ws_.next_layer().close(ec);
  }

  net::io_context io_;
  websocket::stream<tcp::socket> ws_;
  net::steady_timer ping_timer_;
  beast::flat_buffer buf_;
  Script script_;
  std::chrono::milliseconds ping_every_;
  std::deque<std::pair<bool, std::string>> out_;  // (text, payload)
  bool writing_ = false, dropped_ = false;
  std::mutex m_;
  std::condition_variable cv_;
  std::vector<Seen> seen_;
  bool ended_ = false;
  beast::error_code end_error_;
  std::uint16_t close_code_ = 0;
  std::thread thread_;
};

// Answers each request with "<id>" + ok(<what it asked for>).
Client::Reply echo_target(const std::vector<Client::Seen>& seen) {
  const auto& s = seen.back();
  return {{s.id + ok("you asked " + std::string(parse(s.request).target()))}};
}

// A channel's events, recorded on the loop thread.
struct Collector {
  std::string data;
  bool ended = false, failed = false, unseen = false;
  std::string why;
  bool consume = true;
  Channel* channel = nullptr;
  Channel::Events events() {
    return {[this](std::span<const std::uint8_t> b) {
              data.append(reinterpret_cast<const char*>(b.data()), b.size());
              if (consume && channel) channel->consumed(b.size());
            },
            [this] { ended = true; }, [] {},
            [this](const std::string& w, bool u) {
              failed = true;
              why = w;
              unseen = u;
            }};
  }
};

// The front on a loopback port, its /_tunnel hook making WstunnelLinks
// that attach to the registry under their token.
class WstunnelLinkTest : public ::testing::Test {
 protected:
  void start(WstunnelLinkOptions link_options = {}) {
    link_options_ = link_options;
    Front::Hooks hooks;
    hooks.tunnel = [this](tcp::socket s, http::request_header<> head, std::string pending) {
      on_tunnel(std::move(s), std::move(head), std::move(pending));
    };
    front_ = std::make_unique<Front>(io_, registry_, log_, FrontOptions{}, std::move(hooks));
    ASSERT_EQ(front_->listen({{"127.0.0.1", 0}}), "");
    const std::string at = front_->listening().at(0);
    port_ = static_cast<std::uint16_t>(std::stoi(at.substr(at.rfind(':') + 1)));
    thread_ = std::thread([this] { io_.run(); });
  }
  void on_tunnel(tcp::socket s, http::request_header<> head, std::string pending) {
    const auto announced = wstunnel::announced_token(head);
    if (announced.refusal) return;  // the socket closes
    const std::string key = "token:" + announced.token;
    WstunnelLink::Hooks hooks;
    hooks.on_closed = [this, key](WstunnelLink& l) {
      registry_.detach(key, l, Registry::Clock::now());
      closed_.push_back(l.why());
      links_.erase(l.shared_from_this());
    };
    hooks.on_room = [this, key](WstunnelLink& l) { registry_.room(key, l); };
    auto link = std::make_shared<WstunnelLink>(std::move(s), link_options_, log_, hooks);
    link->start(std::move(head), std::move(pending));
    EXPECT_EQ(registry_.attach(key, "", *link, Registry::Clock::now()), "");
    links_.insert(link);
    all_.push_back(link);
  }
  template <class Fn>
  auto on_loop(Fn fn) {
    std::packaged_task<decltype(fn())()> task(fn);
    auto f = task.get_future();
    net::post(io_, [&task] { task(); });
    return f.get();
  }
  // Polls `pred` on the loop until it holds; false after 20 s.
  template <class Pred>
  bool eventually(Pred pred) {
    for (auto until = std::chrono::steady_clock::now() + 20s;
         std::chrono::steady_clock::now() < until; std::this_thread::sleep_for(10ms))
      if (on_loop(pred)) return true;
    return false;
  }
  // The n-th link made (held here after it closed, for its counters).
  std::shared_ptr<WstunnelLink> link(std::size_t n = 0) {
    EXPECT_TRUE(eventually([&] { return all_.size() > n; }));
    return on_loop([&] { return all_.size() > n ? all_[n] : nullptr; });
  }
  std::unique_ptr<Client> connect(Client::Script script, const std::string& token = kToken,
                                  std::chrono::milliseconds ping_every = 500ms) {
    const std::size_t before = on_loop([&] { return all_.size(); });
    auto c = std::make_unique<Client>(port_, token, std::move(script), ping_every);
    EXPECT_TRUE(eventually([&] { return all_.size() > before; }));
    return c;
  }
  void TearDown() override {
    if (!thread_.joinable()) return;
    on_loop([this] {
      front_->stop();
      auto open = links_;
      for (const auto& l : open) l->close("the gateway stops");
      guard_.reset();
    });
    thread_.join();
    all_.clear();
  }
  httplib::Client http() {
    httplib::Client c("127.0.0.1", port_);
    c.set_read_timeout(20, 0);
    return c;
  }

  NullLogger log_;
  net::io_context io_;
  std::optional<net::executor_work_guard<net::io_context::executor_type>> guard_{
      io_.get_executor()};
  Registry registry_{Policy::failover, 20, 1h};
  WstunnelLinkOptions link_options_;
  std::unique_ptr<Front> front_;
  std::set<std::shared_ptr<WstunnelLink>> links_;
  std::vector<std::shared_ptr<WstunnelLink>> all_;
  std::vector<std::string> closed_;  // why() of each link that closed
  std::thread thread_;
  std::uint16_t port_ = 0;
};

TEST_F(WstunnelLinkTest, RequestsGetTheirAnswersWithIdsCountingUpInLowercaseHex) {
  start();
  auto client = connect(echo_target);
  auto c = http();
  c.set_keep_alive(true);
  for (int i = 1; i <= 11; ++i) {
    auto r = (i % 2) ? c.Get("/_token/" + kToken + "/page/" + std::to_string(i))
                     : c.Get("/page/" + std::to_string(i), {{"X-Token", kToken}});
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body, "you asked /page/" + std::to_string(i));
  }
  const auto seen = client->seen();
  ASSERT_EQ(seen.size(), 11u);
  EXPECT_EQ(seen[0].id, "0001");
  EXPECT_EQ(seen[1].id, "0002");
  EXPECT_EQ(seen[9].id, "000a");
  EXPECT_EQ(seen[10].id, "000b");
  EXPECT_TRUE(seen[0].request.starts_with("GET /page/1 HTTP/1.1\r\n")) << seen[0].request;
  const auto l = link();
  EXPECT_EQ(l->counters().requests.load(), 11u);
  EXPECT_EQ(l->counters().responses.load(), 11u);
  EXPECT_EQ(l->counters().orphans.load(), 0u);
  EXPECT_TRUE(l->describe().starts_with("127.0.0.1:"));
  EXPECT_TRUE(l->describe().ends_with(" wstunnel"));
}

TEST_F(WstunnelLinkTest, LargeBodiesCrossAsOneMessageEachWay) {
  start();
  std::string upload(3 << 20, '\0');
  std::mt19937 rng(11);
  for (auto& ch : upload) ch = static_cast<char>(rng());
  std::string received;
  auto client = connect([&](const std::vector<Client::Seen>& seen) -> Client::Reply {
    const auto req = parse(seen.back().request);
    received = req.body();
    return {{seen.back().id + ok(std::string(req.body().rbegin(), req.body().rend()))}};
  });
  auto r = http().Post("/_token/" + kToken + "/up", upload, "application/octet-stream");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(client->messages(), 1u);
  EXPECT_EQ(received.size(), upload.size());
  EXPECT_TRUE(received == upload);
  EXPECT_EQ(r->body.size(), upload.size());
  EXPECT_TRUE(r->body == std::string(upload.rbegin(), upload.rend()));
  const auto l = link();
  EXPECT_GT(l->counters().bytes_in.load(), upload.size());
  EXPECT_GT(l->counters().bytes_out.load(), upload.size());
}

TEST_F(WstunnelLinkTest, ConcurrentRequestsAreMatchedByIdInWhateverOrderTheyAreAnswered) {
  start();
  auto client = connect([](const std::vector<Client::Seen>& seen) -> Client::Reply {
    if (seen.size() < 2) return {};  // holds the first until the second came
    Client::Reply reply;
    for (auto it = seen.rbegin(); it != seen.rend(); ++it)
      reply.messages.push_back(it->id +
                               ok("answer to " + std::string(parse(it->request).target())));
    return reply;
  });
  auto a = std::async(std::launch::async, [&] { return http().Get("/_token/" + kToken + "/a"); });
  auto b = std::async(std::launch::async, [&] { return http().Get("/_token/" + kToken + "/b"); });
  auto ra = a.get(), rb = b.get();
  ASSERT_TRUE(ra);
  ASSERT_TRUE(rb);
  EXPECT_EQ(ra->body, "answer to /a");
  EXPECT_EQ(rb->body, "answer to /b");
  const auto seen = client->seen();
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_NE(seen[0].id, seen[1].id);
}

TEST_F(WstunnelLinkTest, AnswersNoRequestHoldsAreDroppedAndCounted) {
  start();
  auto client = connect([](const std::vector<Client::Seen>& seen) -> Client::Reply {
    return {{"7777" + ok("stray"), "ab", seen.back().id + ok("real")}};
  });
  auto r = http().Get("/_token/" + kToken + "/x");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "real");
  const auto l = link();
  EXPECT_EQ(l->counters().orphans.load(), 2u);
  EXPECT_FALSE(on_loop([&] { return l->closed(); }));
}

TEST_F(WstunnelLinkTest, AnAnswerThatIsNotHttpIs506) {
  start();
  auto client = connect([](const std::vector<Client::Seen>& seen) -> Client::Reply {
    return {{seen.back().id + "garbage\r\n\r\n"}};
  });
  auto r = http().Get("/_token/" + kToken + "/x");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 506);
  EXPECT_EQ(on_loop([&] { return front_->counters().bad_responses.load(); }), 1u);
}

TEST_F(WstunnelLinkTest, TheClientGoingAwayMidRequestIs502) {
  start();
  auto client = connect([](const std::vector<Client::Seen>&) { return Client::Reply{{}, true}; });
  // A GET could be sent again, but the client saw it: not repeated.
  auto r = http().Get("/_token/" + kToken + "/x");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 502);
  EXPECT_EQ(on_loop([&] { return front_->counters().tunnel_failures.load(); }), 1u);
  EXPECT_EQ(on_loop([&] { return front_->counters().retried.load(); }), 0u);
  EXPECT_TRUE(eventually([&] { return closed_.size() == 1; }));
  EXPECT_EQ(on_loop([&] { return registry_.tunnels(); }), 0u);
}

TEST_F(WstunnelLinkTest, ChannelsLearnOfAFailureLaterAndWhetherTheClientSawThem) {
  start();
  auto client = connect([](const std::vector<Client::Seen>&) { return Client::Reply{{}, true}; });
  auto l = link();
  Collector seen;
  std::unique_ptr<Channel> ch;
  on_loop([&] {
    ch = l->open({}, seen.events());
    seen.channel = ch.get();
    const std::string req = "GET /x HTTP/1.1\r\nHost: h\r\n\r\n";
    EXPECT_EQ(ch->write({reinterpret_cast<const std::uint8_t*>(req.data()), req.size()}),
              req.size());
    ch->end();
    return 0;
  });
  ASSERT_TRUE(eventually([&] { return seen.failed; }));
  EXPECT_FALSE(on_loop([&] { return seen.unseen; }));
  EXPECT_FALSE(on_loop([&] { return l->why(); }).empty());
  // A channel opened on a closed link fails unseen, and not inside open().
  Collector late;
  std::unique_ptr<Channel> ch2;
  EXPECT_FALSE(on_loop([&] {
    ch2 = l->open({}, late.events());
    return late.failed;
  }));
  ASSERT_TRUE(eventually([&] { return late.failed; }));
  EXPECT_TRUE(on_loop([&] { return late.unseen; }));
  on_loop([&] {
    ch.reset();
    ch2.reset();
    return 0;
  });
}

// Reading stops while the channel holds receive_window bytes it did not
// consume, and goes on when it does.
TEST_F(WstunnelLinkTest, AnAnswerWaitsForItsChannelToConsume) {
  WstunnelLinkOptions o;
  o.receive_window = 128 * 1024;
  start(o);
  const std::string body(1 << 20, 'z');
  auto client = connect([&](const std::vector<Client::Seen>& seen) -> Client::Reply {
    return {{seen.back().id + ok(body)}};
  });
  auto l = link();
  Collector got;
  got.consume = false;
  std::unique_ptr<Channel> ch;
  on_loop([&] {
    ch = l->open({}, got.events());
    got.channel = ch.get();
    const std::string req = "GET /big HTTP/1.1\r\nHost: h\r\n\r\n";
    ch->write({reinterpret_cast<const std::uint8_t*>(req.data()), req.size()});
    ch->end();
    return 0;
  });
  ASSERT_TRUE(eventually([&] { return got.data.size() > o.receive_window; }));
  std::this_thread::sleep_for(200ms);
  EXPECT_LE(on_loop([&] { return got.data.size(); }), o.receive_window + 64 * 1024);
  EXPECT_FALSE(on_loop([&] { return got.ended; }));
  // Consumes what came, until the whole answer did.
  ASSERT_TRUE(eventually([&] {
    ch->consumed(got.data.size());
    return got.ended;
  }));
  EXPECT_EQ(on_loop([&] { return got.data; }), ok(body));
  on_loop([&] {
    ch.reset();
    return 0;
  });
}

TEST_F(WstunnelLinkTest, AClientThatNeverPingsIsClosedAfterThePingTimeout) {
  WstunnelLinkOptions o;
  o.ping_timeout = 3s;
  start(o);
  const std::string other = "fedcba9876543210-other";
  auto silent = connect(echo_target, kToken, 0ms);
  auto pinging = connect(echo_target, other, 500ms);
  ASSERT_TRUE(silent->wait_ended());
  EXPECT_EQ(silent->end_error(), websocket::error::closed);
  EXPECT_EQ(silent->close_code(), websocket::close_code::going_away);  // 1001
  const auto closed = link(0), alive = link(1);
  EXPECT_TRUE(on_loop([&] { return closed->closed(); }));
  EXPECT_EQ(on_loop([&] { return closed->why(); }), "no ping from the client for 3 s");
  ASSERT_TRUE(eventually([&] { return closed_.size() == 1; }));
  EXPECT_EQ(on_loop([&] { return registry_.tunnels_of("token:" + kToken); }), 0u);
  // The one that pings stays, and still answers.
  EXPECT_FALSE(pinging->ended());
  EXPECT_FALSE(on_loop([&] { return alive->closed(); }));
  auto r = http().Get("/_token/" + other + "/still");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, "you asked /still");
}

TEST_F(WstunnelLinkTest, ATextMessageClosesTheLink) {
  start();
  auto client = connect(echo_target);
  client->send_text("hello");
  ASSERT_TRUE(client->wait_ended());
  const auto l = link();
  EXPECT_TRUE(on_loop([&] { return l->closed(); }));
  EXPECT_NE(on_loop([&] { return l->why(); }).find("text message"), std::string::npos);
}

}  // namespace
}  // namespace mnigs::httptunnel
