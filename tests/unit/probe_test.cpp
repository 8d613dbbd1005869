// The health probe: its datagram, the gateway's echo service (only session
// holders are answered, at a bounded rate, never with more bytes than they
// sent) and the subscriber's prober (down after silence, degraded on
// sustained loss or slow round trips, garbage counted and ignored); the
// bounded bulk transfer testGateway measures throughput with. The
// prober runs on a hand-moved clock; its datagrams cross real loopback
// sockets, answered by the echo service or by the test playing a gateway.
#include "probe/bulk.hpp"
#include "probe/echo_service.hpp"
#include "probe/packet.hpp"
#include "probe/prober.hpp"
#include "probe/reach.hpp"
#include "test_util.hpp"

#include <manual_clock.hpp>

#include <gtest/gtest.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>

#include <sys/socket.h>

#include <future>
#include <mutex>
#include <thread>

namespace mnigs::probe {
namespace {

using namespace std::chrono_literals;
using boost::asio::ip::udp;
using test::eventually;

const auto kLoopback = boost::asio::ip::make_address("127.0.0.1");

TEST(ProbePacket, RoundTripsEveryField) {
  Packet p{Type::reply, kUplinkDown, 0xdeadbeef, 0x0102030405060708ULL, 64};
  std::string wire = encode(p);
  ASSERT_EQ(wire.size(), 64u);
  EXPECT_EQ(wire.substr(0, 8), std::string("MNPB\x01\x02\x01\x00", 8));
  EXPECT_EQ(wire.substr(8, 12),
            std::string("\xde\xad\xbe\xef\x01\x02\x03\x04\x05\x06\x07\x08", 12));
  auto back = parse(wire);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->type, Type::reply);
  EXPECT_EQ(back->flags, kUplinkDown);
  EXPECT_EQ(back->sequence, 0xdeadbeefu);
  EXPECT_EQ(back->timestamp, 0x0102030405060708ULL);
  EXPECT_EQ(back->size, 64u);
}

TEST(ProbePacket, SizeIsClampedToTheAllowedRange) {
  EXPECT_EQ(encode(Packet{Type::request, 0, 1, 2, 3}).size(), kHeader);
  EXPECT_EQ(encode(Packet{Type::request, 0, 1, 2, 100000}).size(), kMaxSize);
}

TEST(ProbePacket, RefusesWhatIsNotAProbe) {
  const std::string good = encode(Packet{Type::request, 0, 7, 9, 40});
  ASSERT_TRUE(parse(good));
  auto changed = [&](std::size_t at, char c) {
    std::string s = good;
    s[at] = c;
    return s;
  };
  EXPECT_FALSE(parse(good.substr(0, kHeader - 1))) << "short";
  EXPECT_FALSE(parse(std::string(kMaxSize + 1, '\0').replace(0, 40, good))) << "long";
  EXPECT_FALSE(parse(changed(0, 'X'))) << "magic";
  EXPECT_FALSE(parse(changed(4, 2))) << "version";
  EXPECT_FALSE(parse(changed(5, 3))) << "type";
  EXPECT_FALSE(parse(changed(5, 0))) << "type 0";
  EXPECT_FALSE(parse(changed(7, 1))) << "reserved";
  EXPECT_FALSE(parse(changed(30, 1))) << "padding";
  EXPECT_TRUE(parse(changed(6, '\x80'))) << "unknown flags are ignored";
}

// A UDP socket of the test's own, blocking with a receive timeout.
class TestSocket {
 public:
  TestSocket() : socket_(io_, udp::endpoint(kLoopback, 0)) {
    timeval tv{0, 300000};
    ::setsockopt(socket_.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }
  udp::endpoint endpoint() const { return socket_.local_endpoint(); }
  void send(const std::string& bytes, const udp::endpoint& to) {
    socket_.send_to(boost::asio::buffer(bytes), to);
  }
  // The next datagram and its sender; nullopt after the timeout.
  std::optional<std::pair<std::string, udp::endpoint>> receive() {
    // recvfrom itself: Asio's blocking receive would wait past SO_RCVTIMEO.
    std::array<char, 2048> buf;
    udp::endpoint from;
    socklen_t len = static_cast<socklen_t>(from.capacity());
    ssize_t n = ::recvfrom(socket_.native_handle(), buf.data(), buf.size(), 0, from.data(), &len);
    if (n < 0) return std::nullopt;
    from.resize(len);
    return std::make_pair(std::string(buf.data(), static_cast<std::size_t>(n)), from);
  }

 private:
  boost::asio::io_context io_;
  udp::socket socket_;
};

class EchoServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(echo_.listen({udp::endpoint(kLoopback, 0)}), "");  // port: the kernel's choice
    ASSERT_EQ(echo_.local_endpoints().size(), 1u);
    service_ = echo_.local_endpoints()[0];
    thread_ = std::thread([this] { io_.run(); });
  }
  void TearDown() override {
    echo_.stop();
    work_.reset();
    thread_.join();
  }
  Json::Value status() {
    std::promise<Json::Value> p;
    echo_.status([&](Json::Value v) { p.set_value(v); });
    return p.get_future().get();
  }
  // Holds loopback for session "s1" and waits until the service knows.
  void hold_loopback() {
    echo_.hold("s1", {kLoopback});
    ASSERT_TRUE(eventually([&] { return status()["holders"].asUInt() == 1; }));
  }

  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_{
      io_.get_executor()};
  testing::ManualClock clock_;
  EchoService echo_{io_, clock_};
  udp::endpoint service_;
  std::thread thread_;
};

TEST_F(EchoServiceTest, AnswersAHolderWithTheSameBytesAsAReply) {
  hold_loopback();
  TestSocket sub;
  sub.send(encode(Packet{Type::request, 0, 42, 77, 300}), service_);
  auto got = sub.receive();
  ASSERT_TRUE(got);
  EXPECT_EQ(got->second, service_);
  EXPECT_EQ(got->first.size(), 300u) << "a reply is exactly as long as its request";
  auto p = parse(got->first);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->type, Type::reply);
  EXPECT_EQ(p->sequence, 42u);
  EXPECT_EQ(p->timestamp, 77u);
  EXPECT_EQ(p->flags, 0);

  echo_.set_uplink_down(true);
  sub.send(encode(Packet{Type::request, 0, 43, 77, kHeader}), service_);
  got = sub.receive();
  ASSERT_TRUE(got);
  EXPECT_EQ(parse(got->first)->flags, kUplinkDown);
  EXPECT_EQ(status()["answered"].asUInt(), 2u);
}

TEST_F(EchoServiceTest, NobodyButHoldersIsAnswered) {
  TestSocket stranger;
  stranger.send(encode(Packet{Type::request, 0, 1, 1, kHeader}), service_);
  EXPECT_FALSE(stranger.receive()) << "no session, no answer";
  EXPECT_TRUE(eventually([&] { return status()["notHolder"].asUInt() == 1; }));

  hold_loopback();
  echo_.hold("s1", {});  // the session ended
  ASSERT_TRUE(eventually([&] { return status()["holders"].asUInt() == 0; }));
  stranger.send(encode(Packet{Type::request, 0, 2, 1, kHeader}), service_);
  EXPECT_FALSE(stranger.receive());
  EXPECT_EQ(status()["answered"].asUInt(), 0u);
  EXPECT_EQ(status()["notHolder"].asUInt(), 2u);
}

TEST_F(EchoServiceTest, TwoSessionsOnOneAddressHoldItUntilBothEnd) {
  hold_loopback();
  echo_.hold("s2", {kLoopback});
  echo_.hold("s1", {});
  TestSocket sub;
  sub.send(encode(Packet{Type::request, 0, 1, 1, kHeader}), service_);
  EXPECT_TRUE(sub.receive()) << "s2 still holds the address";
  echo_.hold("s2", {});
  ASSERT_TRUE(eventually([&] { return status()["holders"].asUInt() == 0; }));
}

TEST_F(EchoServiceTest, MalformedDatagramsAndRepliesAreCountedNotAnswered) {
  hold_loopback();
  TestSocket sub;
  sub.send("hello", service_);
  sub.send(encode(Packet{Type::reply, 0, 1, 1, kHeader}), service_);  // a reply is no request
  sub.send(std::string(kMaxSize + 1, '\0').replace(0, kHeader, encode(Packet{})), service_);
  EXPECT_FALSE(sub.receive());
  EXPECT_TRUE(eventually([&] { return status()["malformed"].asUInt() == 3; }));
  EXPECT_EQ(status()["answered"].asUInt(), 0u);
}

TEST_F(EchoServiceTest, AHolderIsAnsweredAtABoundedRate) {
  hold_loopback();
  TestSocket sub;
  const int burst = static_cast<int>(EchoService::kBurst);
  for (int i = 0; i < burst + 50; ++i)
    sub.send(encode(Packet{Type::request, 0, 1, 1, kHeader}), service_);
  ASSERT_TRUE(eventually([&] {
    auto s = status();
    return s["answered"].asUInt() + s["limited"].asUInt() == static_cast<unsigned>(burst + 50);
  }));
  EXPECT_EQ(status()["answered"].asInt(), burst) << "time stood still: the burst, no more";
  EXPECT_EQ(status()["limited"].asInt(), 50);

  clock_.advance(1s);  // a second later, kRate more
  for (int i = 0; i < burst; ++i)
    sub.send(encode(Packet{Type::request, 0, 1, 1, kHeader}), service_);
  ASSERT_TRUE(eventually([&] {
    return status()["limited"].asInt() + status()["answered"].asInt() == 2 * burst + 50;
  }));
  EXPECT_EQ(status()["answered"].asInt(), burst + static_cast<int>(EchoService::kRate));
}

// The prober on the hand-moved clock against a gateway played by the test:
// each clock step of one interval sends one probe, which the test reads and
// answers (or not) as the case needs.
class ProberTest : public ::testing::Test {
 protected:
  void SetUp() override { thread_ = std::thread([this] { io_.run(); }); }
  void TearDown() override {
    on_strand([&] { prober_.reset(); });
    work_.reset();
    thread_.join();
  }
  template <class F>
  void on_strand(F f) {
    std::promise<void> done;
    boost::asio::post(strand_, [&] {
      f();
      done.set_value();
    });
    done.get_future().wait();
  }
  void start(ProberOptions options = {}) {
    on_strand([&] {
      prober_ = std::make_unique<Prober>(strand_, clock_, gateway_.endpoint(), options,
                                         [this](Health h, const std::string& why) {
                                           std::lock_guard lock(mutex_);
                                           changes_.emplace_back(h, why);
                                         });
      ASSERT_EQ(prober_->start(), "");
    });
  }
  // Reads the probe the last step sent; answers it after `delay` on the
  // clock when `answer`, with `flags`.
  std::optional<Packet> step(bool answer, std::chrono::milliseconds delay = 0ms,
                             std::uint8_t flags = 0) {
    auto got = gateway_.receive();
    if (!got) return std::nullopt;
    // The probe is out before the next one is scheduled: moving the clock
    // before that would move it past nothing.
    EXPECT_TRUE(eventually([&] { return clock_.waiting() > 0; }));
    auto p = parse(got->first);
    if (p && answer) {
      if (delay.count()) clock_.advance(delay);
      Packet r = *p;
      r.type = Type::reply;
      r.flags = flags;
      gateway_.send(encode(r), got->second);
      sync_reply(p->sequence);
    }
    clock_.advance(200ms - delay);
    return p;
  }
  // Waits until the prober has taken in the reply to `sequence`.
  void sync_reply(std::uint32_t) {
    std::uint64_t before = received_;
    EXPECT_TRUE(eventually([&] { return figures()["received"].asUInt64() > before; }));
    received_ = figures()["received"].asUInt64();
  }
  Json::Value figures() {
    Json::Value v;
    on_strand([&] { v = prober_->figures(); });
    return v;
  }
  Health health() {
    Health h{};
    on_strand([&] { h = prober_->health(); });
    return h;
  }
  std::vector<std::pair<Health, std::string>> changes() {
    on_strand([] {});  // what was posted before is through
    std::lock_guard lock(mutex_);
    return changes_;
  }

  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_{
      io_.get_executor()};
  boost::asio::strand<boost::asio::io_context::executor_type> strand_{
      boost::asio::make_strand(io_)};
  testing::ManualClock clock_;
  TestSocket gateway_;
  std::unique_ptr<Prober> prober_;
  std::uint64_t received_ = 0;
  std::mutex mutex_;
  std::vector<std::pair<Health, std::string>> changes_;
  std::thread thread_;
};

TEST_F(ProberTest, UpWhileAnsweredThenDownAfterASecondOfSilence) {
  start();
  auto first = step(true);
  ASSERT_TRUE(first);
  EXPECT_EQ(first->type, Type::request);
  EXPECT_TRUE(eventually([&] { return health() == Health::up; }));
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(step(true));
  EXPECT_EQ(health(), Health::up);

  // The gateway goes silent: down 1 s after its last answer, not before.
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(step(false));
  EXPECT_EQ(health(), Health::up) << "0.8 s of silence is not down yet";
  ASSERT_TRUE(step(false));
  EXPECT_EQ(health(), Health::down) << "1 s";
  auto c = changes();
  ASSERT_EQ(c.size(), 2u);
  EXPECT_EQ(c[1].first, Health::down);
  EXPECT_NE(c[1].second.find("no answer to"), std::string::npos) << c[1].second;

  // Back: up only after three answers in a row.
  ASSERT_TRUE(step(true));
  ASSERT_TRUE(step(true));
  EXPECT_EQ(health(), Health::down);
  ASSERT_TRUE(step(true));
  EXPECT_EQ(health(), Health::up);
  EXPECT_EQ(figures()["uplinkDown"].asBool(), false);
}

TEST_F(ProberTest, AGatewayThatNeverAnswersIsDownAfterTwiceTheTime) {
  start();
  for (int i = 0; i < 9; ++i) ASSERT_TRUE(step(false));
  EXPECT_EQ(health(), Health::unknown) << "1.8 s: still waiting for the first answer";
  for (int i = 0; i < 2; ++i) ASSERT_TRUE(step(false));
  EXPECT_EQ(health(), Health::down);
  EXPECT_NE(changes().back().second.find("no answer to any"), std::string::npos);
}

TEST_F(ProberTest, GarbageAndForeignRepliesAreCountedAndChangeNothing) {
  start();
  for (int i = 0; i < 11; ++i) {
    auto got = gateway_.receive();
    ASSERT_TRUE(got);
    auto p = parse(got->first);
    ASSERT_TRUE(p);
    // Junk, the request sent back as is, and a reply without the prober's nonce.
    gateway_.send("not a probe", got->second);
    gateway_.send(got->first, got->second);
    Packet forged = *p;
    forged.type = Type::reply;
    forged.timestamp ^= 1;
    gateway_.send(encode(forged), got->second);
    ASSERT_TRUE(eventually([&] { return figures()["garbage"].asUInt() == 3u * (i + 1); }));
    clock_.advance(200ms);
  }
  EXPECT_EQ(figures()["received"].asUInt(), 0u);
  EXPECT_EQ(health(), Health::down);
}

TEST_F(ProberTest, SustainedLossIsDegradedAndSmallLossIsNot) {
  ProberOptions o;
  o.window = 20;
  start(o);
  // One in ten lost (10 %): up.
  for (int i = 0; i < 30; ++i) ASSERT_TRUE(step(i % 10 != 5));
  EXPECT_EQ(health(), Health::up);
  // One in two lost over a whole window: degraded, with the loss said.
  for (int i = 0; i < 30; ++i) ASSERT_TRUE(step(i % 2 == 0));
  EXPECT_EQ(health(), Health::degraded);
  EXPECT_EQ(changes().back().second.find("loss "), 0u)
      << changes().back().second;
  EXPECT_NEAR(figures()["loss"].asDouble(), 0.5, 0.06);
  // All answered again: up.
  for (int i = 0; i < 25; ++i) ASSERT_TRUE(step(true));
  EXPECT_EQ(health(), Health::up);
}

TEST_F(ProberTest, RoundTripsFarAboveThePathsBestAreDegraded) {
  ProberOptions o;
  o.window = 20;
  start(o);
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(step(true, 20ms));
  EXPECT_EQ(health(), Health::up);
  auto rtt = figures()["rttMs"];
  EXPECT_DOUBLE_EQ(rtt["min"].asDouble(), 20);
  EXPECT_DOUBLE_EQ(rtt["median"].asDouble(), 20);
  EXPECT_DOUBLE_EQ(rtt["jitter"].asDouble(), 0);
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(step(true, 25ms));
  EXPECT_EQ(health(), Health::up) << "25 ms against a best of 20: fine";
  for (int i = 0; i < 15; ++i) ASSERT_TRUE(step(true, 90ms));
  EXPECT_EQ(health(), Health::degraded) << "p95 90 ms > 3 × 20 ms";
  EXPECT_NE(changes().back().second.find("p95 90 ms"), std::string::npos)
      << changes().back().second;
}

TEST_F(ProberTest, TheGatewaysUplinkWordIsKept) {
  start();
  ASSERT_TRUE(step(true, 0ms, kUplinkDown));
  EXPECT_TRUE(figures()["uplinkDown"].asBool());
  EXPECT_EQ(health(), Health::degraded);
  EXPECT_EQ(changes().back().second, "the gateway says it has no uplink");
  ASSERT_TRUE(step(true));
  EXPECT_FALSE(figures()["uplinkDown"].asBool());
  EXPECT_EQ(health(), Health::up);
}

TEST_F(ProberTest, AStoppedProberSendsNothingAndSaysNothing) {
  start();
  ASSERT_TRUE(step(true));
  EXPECT_TRUE(eventually([&] { return health() == Health::up; }));
  ASSERT_TRUE(gateway_.receive()) << "the probe sent before the stop";
  on_strand([&] { prober_->stop(); });
  clock_.advance(5s);
  EXPECT_FALSE(gateway_.receive());
  EXPECT_EQ(changes().size(), 1u);
}

// The bulk service behind a stand-in for the HTTP server's hand-over: a
// loopback listener that reads each request's headers and passes the
// connection on, as HttpServer does for an upgrade path.
class BulkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    thread_ = std::thread([this] { io_.run(); });
    accept_ = std::thread([this] {
      for (;;) {
        boost::system::error_code ec;
        auto s = acceptor_.accept(ec);
        if (ec) return;
        std::string head;
        char c;
        while (head.find("\r\n\r\n") == std::string::npos &&
               s.read_some(boost::asio::buffer(&c, 1), ec) == 1)
          head += c;
        HttpUpgrade up;
        up.method = head.substr(0, head.find(' '));
        auto t = head.find(' ') + 1;
        up.target = head.substr(t, head.find(' ', t) - t);
        up.remote_address = s.remote_endpoint(ec).address().to_string();
        up.fd = s.release(ec);
        bulk_.serve(std::move(up));
      }
    });
  }
  void TearDown() override {
    ::shutdown(acceptor_.native_handle(), SHUT_RDWR);  // wakes the blocked accept()
    accept_.join();
    boost::system::error_code ignored;
    acceptor_.close(ignored);
    echo_.stop();
    work_.reset();
    thread_.join();
  }
  BulkResult run(std::uint64_t down, std::uint64_t up) {
    std::promise<BulkResult> p;
    run_bulk(io_.get_executor(), acceptor_.local_endpoint(), "", down, up, 5s,
             [&](BulkResult r) { p.set_value(r); });
    return p.get_future().get();
  }
  // A request written by hand; what came back before the gateway closed.
  std::string raw(const std::string& request) {
    boost::asio::io_context io;
    boost::asio::ip::tcp::socket s(io);
    s.connect(acceptor_.local_endpoint());
    boost::asio::write(s, boost::asio::buffer(request));
    std::string got;
    boost::system::error_code ec;
    std::array<char, 4096> buf;
    for (std::size_t n; (n = s.read_some(boost::asio::buffer(buf), ec)) > 0 || !ec;)
      got.append(buf.data(), n);
    return got;
  }

  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_{
      io_.get_executor()};
  testing::ManualClock clock_;
  EchoService echo_{io_, clock_};
  BulkService bulk_{io_, echo_};
  boost::asio::io_context accept_io_;
  boost::asio::ip::tcp::acceptor acceptor_{accept_io_, {kLoopback, 0}};
  std::thread thread_, accept_;
};

TEST_F(BulkTest, AHolderGetsAndSendsWhatItAskedFor) {
  echo_.hold("s1", {kLoopback});
  BulkResult r = run(3 << 20, 2 << 20);
  EXPECT_EQ(r.error, "");
  EXPECT_EQ(r.down.bytes, 3u << 20);
  EXPECT_EQ(r.up.bytes, 2u << 20) << "the gateway's count of what arrived";
  EXPECT_GT(r.down.seconds, 0);
  EXPECT_GT(r.up.mbit_per_s(), 0);
}

TEST_F(BulkTest, NobodyElseAndNothingMalformedIsServed) {
  BulkResult r = run(1 << 20, 0);
  EXPECT_NE(r.error.find("403"), std::string::npos) << r.error;
  EXPECT_EQ(r.down.bytes, 0u);
  echo_.hold("s1", {kLoopback});
  const std::string up = "\r\nUpgrade: mnigs-bulk\r\nConnection: Upgrade\r\n\r\n";
  for (const char* target : {"/probe/bulk", "/probe/bulk?down=4194305", "/probe/bulk?down=1&down=2",
                             "/probe/bulk?size=1", "/probe/bulk?down=-1", "/probe/bulk?down=1x"})
    EXPECT_EQ(raw(std::string("GET ") + target + " HTTP/1.1" + up).rfind("HTTP/1.1 400", 0), 0u)
        << target;
  EXPECT_EQ(raw("POST /probe/bulk?down=1 HTTP/1.1" + up).rfind("HTTP/1.1 400", 0), 0u);
  // More than it announced: cut off, no count.
  std::string over = raw("GET /probe/bulk?up=10 HTTP/1.1" + up + std::string(100, 'x'));
  EXPECT_EQ(over, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: mnigs-bulk\r\nConnection: "
                  "Upgrade\r\n\r\n");
}

// Check targets against loopback servers that answer a fixed status line
// (or, with "", accept and say nothing).
class ReachTest : public ::testing::Test {
 protected:
  void SetUp() override { thread_ = std::thread([this] { io_.run(); }); }
  void TearDown() override {
    for (auto& s : servers_) {
      ::shutdown(s->acceptor.native_handle(), SHUT_RDWR);
      s->thread.join();
    }
    work_.reset();
    thread_.join();
  }
  // A server answering every connection with `status_line`; its port.
  std::uint16_t serve(const std::string& status_line) {
    auto s = std::make_unique<Server>();
    s->thread = std::thread([srv = s.get(), status_line] {
      for (;;) {
        boost::system::error_code ec;
        auto c = srv->acceptor.accept(ec);
        if (ec) return;
        if (status_line.empty()) {
          srv->held.push_back(std::move(c));  // silent: held open
          continue;
        }
        std::array<char, 1024> buf;
        c.read_some(boost::asio::buffer(buf), ec);
        boost::asio::write(c, boost::asio::buffer(status_line + "\r\nContent-Length: 0\r\n\r\n"),
                           ec);
      }
    });
    auto port = s->acceptor.local_endpoint().port();
    servers_.push_back(std::move(s));
    return port;
  }
  std::vector<Reach> check(const std::vector<std::string>& targets) {
    std::promise<std::vector<Reach>> p;
    check_reach(io_.get_executor(), targets, 500ms, [&](std::vector<Reach> r) { p.set_value(r); });
    return p.get_future().get();
  }

  struct Server {
    boost::asio::io_context io;
    boost::asio::ip::tcp::acceptor acceptor{io, {kLoopback, 0}};
    std::vector<boost::asio::ip::tcp::socket> held;
    std::thread thread;
  };
  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_{
      io_.get_executor()};
  std::vector<std::unique_ptr<Server>> servers_;
  std::thread thread_;
};

TEST_F(ReachTest, EachFormIsCheckedAndACaptivePortalIsPaymentRequired) {
  const auto ok = std::to_string(serve("HTTP/1.1 204 No Content"));
  const auto portal = std::to_string(serve("HTTP/1.1 302 Found\r\nLocation: http://10.0.0.1/"));
  const auto auth = std::to_string(serve("HTTP/1.1 511 Network Authentication Required"));
  const auto junk = std::to_string(serve("SSH-2.0-OpenSSH_9.2"));
  const auto silent = std::to_string(serve(""));
  auto r = check({"http://127.0.0.1:" + ok + "/generate_204", "http://127.0.0.1:" + portal,
                  "http://127.0.0.1:" + auth + "/", "127.0.0.1:" + ok, "localhost",
                  "http://127.0.0.1:1/", "http://127.0.0.1:" + junk, "http://127.0.0.1:" + silent,
                  "https://127.0.0.1:" + ok, "http://127.0.0.1:" + ok + "/a b", "no-port:"});
  ASSERT_EQ(r.size(), 11u);
  using O = Reach::Outcome;
  EXPECT_EQ(r[0].outcome, O::reachable) << r[0].detail;
  EXPECT_EQ(r[0].detail, "HTTP 204");
  EXPECT_EQ(r[1].outcome, O::payment_required) << r[1].detail;
  EXPECT_EQ(r[2].outcome, O::payment_required) << r[2].detail;
  EXPECT_EQ(r[3].outcome, O::reachable) << r[3].detail;
  EXPECT_EQ(r[4].outcome, O::reachable) << r[4].detail;  // /etc/hosts
  EXPECT_EQ(r[5].outcome, O::unreachable) << r[5].detail;
  EXPECT_EQ(r[6].outcome, O::unreachable) << r[6].detail;
  EXPECT_EQ(r[6].detail, "not an HTTP answer");
  EXPECT_EQ(r[7].outcome, O::unreachable) << r[7].detail;
  EXPECT_EQ(r[7].detail, "no answer within 500 ms");
  EXPECT_EQ(r[8].outcome, O::reachable) << r[8].detail;
  EXPECT_EQ(r[9].outcome, O::invalid) << r[9].detail;
  EXPECT_EQ(r[10].outcome, O::invalid) << r[10].detail;
  EXPECT_EQ(r[10].target, "no-port:");
}

TEST_F(ReachTest, NoTargetsIsAnAnswerToo) { EXPECT_TRUE(check({}).empty()); }

}  // namespace
}  // namespace mnigs::probe
