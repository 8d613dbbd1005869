// Unit tests of a Link against a hostile peer on a loopback TCP connection:
// the test is the peer, writing frames by hand and reading (or not) as a
// test needs. What a gateway relies on: the bytes a link holds are counted
// by what was allocated for them and stay within max_queue; a peer that
// takes nothing while its queue is full is closed and counted; pings get
// at most one pending pong and are answered at a bounded rate; pings beyond
// it keep no link alive. Every loop is bounded in count and time.
#include "link.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <malloc.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

namespace mnigs::websocket {
namespace {

namespace net = boost::asio;
using tcp = net::ip::tcp;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr std::size_t kMaxQueue = 65536;
constexpr std::size_t kPacketBuffer = 65536 + 64;  // the L3 frame pool's payload size
// A control frame may come on top of the limit: one pong or one close.
constexpr std::size_t kControlSlack = 1024;

// A masked client frame (RFC 6455 5.2), FIN set, payload under 64 KiB.
std::string client_frame(int opcode, const std::string& payload) {
  std::string f;
  f += static_cast<char>(0x80 | opcode);
  const std::size_t n = payload.size();
  if (n < 126) {
    f += static_cast<char>(0x80 | n);
  } else {
    f += static_cast<char>(0x80 | 126);
    f += static_cast<char>(n >> 8);
    f += static_cast<char>(n & 0xff);
  }
  const unsigned char key[4] = {0x11, 0x22, 0x33, 0x44};
  f.append(reinterpret_cast<const char*>(key), 4);
  for (std::size_t i = 0; i < n; ++i) f += static_cast<char>(payload[i] ^ key[i % 4]);
  return f;
}

std::size_t heap_in_use() { return mallinfo2().uordblks; }

// The server end of a loopback connection as a Link, and the client end as
// a plain non-blocking socket with a tiny receive buffer.
class LinkTest : public ::testing::Test {
 protected:
  void open(Link::Options options, bool echo) {
    tcp::acceptor acceptor(io_, {net::ip::make_address("127.0.0.1"), 0});
    client_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ASSERT_GE(client_, 0);
    int small = 4096;
    ::setsockopt(client_, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(acceptor.local_endpoint().port());
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::connect(client_, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    ::fcntl(client_, F_SETFL, ::fcntl(client_, F_GETFL) | O_NONBLOCK);
    tcp::socket server = acceptor.accept();
    ::setsockopt(server.native_handle(), SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
    options.role = Link::Role::server;
    options.max_message = kPacketBuffer;
    link_ = std::make_shared<Link>(std::move(server), options, counters_, pool_);
    Link* link = link_.get();
    auto pool = pool_;
    link_->start(
        {},
        [this, link, pool, echo](std::span<std::uint8_t> message) {
          ++messages_;
          if (!echo) return;
          // As the gateway's tun hands back a packet to the sender's own
          // address: in a buffer of the pool, 64 KiB whatever its size.
          OutFrame f = pool->take();
          std::memcpy(f.payload(), message.data(), message.size());
          link->send(std::move(f), message.size());
          link->flush();
        },
        [this](const std::string& reason, bool) {
          closed_ = true;
          reason_ = reason;
        });
  }
  void TearDown() override {
    if (link_) link_->close(close_going_away, "test over");
    io_.run_for(100ms);
    if (client_ >= 0) ::close(client_);
  }

  // Sends what it can of `stream` from `offset` without blocking.
  void send_some(const std::string& stream, std::size_t& offset) {
    if (offset >= stream.size()) return;
    const std::size_t size = std::min<std::size_t>(stream.size() - offset, 65536);
    ssize_t n = ::send(client_, stream.data() + offset, size, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) offset += static_cast<std::size_t>(n);
  }
  // Reads what arrived, up to `limit` bytes; returns how many.
  std::size_t read_some(std::size_t limit) {
    std::size_t total = 0;
    char buf[4096];
    while (total < limit) {
      ssize_t n = ::recv(client_, buf, std::min(sizeof buf, limit - total), MSG_DONTWAIT);
      if (n <= 0) break;
      received_.append(buf, static_cast<std::size_t>(n));
      total += static_cast<std::size_t>(n);
    }
    return total;
  }
  std::size_t pongs_received() const {
    std::size_t n = 0;
    for (std::size_t i = 0; i + 1 < received_.size(); ++i)
      if (static_cast<unsigned char>(received_[i]) == 0x8a && received_[i + 1] == 125) ++n;
    return n;
  }

  net::io_context io_;
  std::shared_ptr<FramePool> pool_ = std::make_shared<FramePool>(kPacketBuffer);
  LinkCounters counters_;
  std::shared_ptr<Link> link_;
  int client_ = -1;
  bool closed_ = false;
  std::string reason_;
  std::uint64_t messages_ = 0;
  std::string received_;
};

Link::Options quiet(std::chrono::milliseconds dead_after) {
  Link::Options o;
  o.max_queue = kMaxQueue;
  o.liveness.ping_after = 0ms;  // no pings of our own: only the peer's traffic
  o.liveness.dead_after = dead_after;
  return o;
}

TEST_F(LinkTest, BuffersAreCountedByTheirAllocatedSize) {
  Link::Options o = quiet(60s);
  o.max_queue = 1 << 20;
  ASSERT_NO_FATAL_FAILURE(open(o, false));
  // A 60-byte packet in a 64 KiB buffer: what is held is a copy of its size.
  link_->send(pool_->take(), 60);
  // What a copy costs: its bytes, room for the frame header, and the frame's
  // bookkeeping (sizeof(OutFrame): less on 32-bit CPUs).
  const std::size_t one = 60u + max_header_size + sizeof(OutFrame);
  EXPECT_EQ(counters_.queued, one);
  // A whole segment keeps its buffer and counts all of it.
  link_->send(pool_->take(), 60000);
  EXPECT_GE(counters_.queued, max_header_size + kPacketBuffer);
  EXPECT_EQ(counters_.dropped_queue_full, 0u);
  // Small packets queue until their buffers' sizes reach the limit, and no
  // further: each counts what the first did, so thousands of them, not what
  // counting payload bytes would let in, nor the 15 whole pool buffers would.
  const std::size_t room = o.max_queue - counters_.queued;
  for (int i = 0; i < 20000; ++i) link_->send(pool_->take(), 60);
  const std::size_t accepted = 20000 - counters_.dropped_queue_full;
  EXPECT_LE(counters_.queued, o.max_queue);
  EXPECT_EQ(accepted, room / one);
  EXPECT_EQ(counters_.queued_peak, counters_.queued);
}

TEST_F(LinkTest, AReaderThatTakesNothingIsClosedAndItsMemoryStaysBounded) {
  const std::size_t heap_before = heap_in_use();
  ASSERT_NO_FATAL_FAILURE(open(quiet(1s), true));
  const std::size_t heap_base = heap_in_use();
  // 20000 packets of 60 bytes after a 10-byte virtio-net header, each sent
  // back to it, and a ping after every fourth; the client reads nothing.
  std::string stream;
  const std::string packet = client_frame(2, std::string(70, 'x'));
  const std::string ping = client_frame(9, std::string(125, 'p'));
  for (int i = 0; i < 20000; ++i) {
    stream += packet;
    if (i % 4 == 0) stream += ping;
  }
  std::size_t offset = 0;
  std::size_t heap_peak = heap_base;
  const auto start = Clock::now();
  while (!closed_ && Clock::now() - start < 10s) {
    send_some(stream, offset);
    io_.run_for(5ms);
    heap_peak = std::max(heap_peak, heap_in_use());
  }
  const auto took = Clock::now() - start;
  ASSERT_TRUE(closed_) << "still open after 10 s; " << messages_ << " messages, "
                       << counters_.queued << " bytes queued";
  EXPECT_NE(reason_.find("slow reader"), std::string::npos) << reason_;
  EXPECT_EQ(counters_.closed_slow, 1u);
  EXPECT_GE(took, 1s) << "closed before its queue was full for dead_after";
  EXPECT_GT(counters_.dropped_queue_full, 0u);
  EXPECT_LE(counters_.queued_peak, kMaxQueue + kControlSlack);
  EXPECT_EQ(counters_.queued, 0u) << "a closed link holds nothing";
  EXPECT_GT(counters_.pings_ignored, 0u);
  // What the process allocated while the link was flooded: its queue, a
  // few spare pool buffers and change; not a 64 KiB buffer per packet.
  EXPECT_LT(heap_peak - heap_base, 4 * kMaxQueue + 4 * kPacketBuffer)
      << "heap before the link " << heap_before << ", with it " << heap_base << ", peak "
      << heap_peak << " after " << messages_ << " messages";
}

TEST_F(LinkTest, AReaderThatKeepsTakingIsNotClosedThoughItsQueueIsFull) {
  ASSERT_NO_FATAL_FAILURE(open(quiet(500ms), true));
  std::string stream;
  const std::string packet = client_frame(2, std::string(1400, 'x'));
  for (int i = 0; i < 4000; ++i) stream += packet;
  std::size_t offset = 0;
  const auto start = Clock::now();
  // Three times dead_after, reading 2 KiB every 20 ms: slow, never stuck.
  while (!closed_ && Clock::now() - start < 1500ms) {
    send_some(stream, offset);
    io_.run_for(20ms);
    read_some(2048);
  }
  EXPECT_FALSE(closed_) << reason_;
  EXPECT_GT(counters_.dropped_queue_full, 0u) << "the queue never filled: the test proves nothing";
  EXPECT_EQ(counters_.closed_slow, 0u);
}

TEST_F(LinkTest, APingFloodGetsOnePendingPongAndAnswersAtABoundedRate) {
  ASSERT_NO_FATAL_FAILURE(open(quiet(60s), false));
  std::string stream;
  const std::string ping = client_frame(9, std::string(125, 'p'));
  for (int i = 0; i < 20000; ++i) stream += ping;
  std::size_t offset = 0;
  const auto start = Clock::now();
  while (offset < stream.size() && Clock::now() - start < 2s) {
    send_some(stream, offset);
    io_.run_for(5ms);
  }
  io_.run_for(50ms);
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  // Pongs never pile up in the queue, whether the client reads or not.
  EXPECT_LE(counters_.queued_peak, 2 * (max_header_size + 125 + sizeof(OutFrame)));
  const std::size_t sent = offset / ping.size();
  EXPECT_GT(sent, 1000u) << "the flood did not get through: the test proves nothing";
  read_some(1 << 20);
  // A burst of 8, then 4 a second.
  EXPECT_LE(pongs_received(), 8 + static_cast<std::size_t>(4 * seconds) + 1)
      << "in " << seconds << " s";
  EXPECT_GE(pongs_received(), 1u);
  EXPECT_GE(counters_.pings_ignored + pongs_received(), sent - 1);
  EXPECT_FALSE(closed_) << reason_;
}

TEST_F(LinkTest, PingsBeyondTheBudgetKeepNoLinkAlive) {
  Link::Options o = quiet(1s);
  o.ping_burst = 1;
  o.ping_refill = 5s;  // one answered ping, then none for longer than dead_after
  ASSERT_NO_FATAL_FAILURE(open(o, false));
  const std::string ping = client_frame(9, "alive?");
  const auto start = Clock::now();
  // 100 pings a second, read as they are answered.
  while (!closed_ && Clock::now() - start < 6s) {
    std::size_t offset = 0;
    send_some(ping, offset);
    io_.run_for(10ms);
    read_some(1 << 16);
  }
  ASSERT_TRUE(closed_) << "a ping flood kept the link alive";
  EXPECT_NE(reason_.find("nothing heard"), std::string::npos) << reason_;
  // Given up 1 s after the answered ping; the close handshake waits 2 s
  // for the peer's close frame, which this peer never sends.
  EXPECT_LT(Clock::now() - start, 4s);
  EXPECT_GT(counters_.pings_ignored, 20u);
}

TEST_F(LinkTest, PingsWithinTheBudgetAreAnsweredAndKeepTheLinkAlive) {
  ASSERT_NO_FATAL_FAILURE(open(quiet(1s), false));
  const std::string ping = client_frame(9, "alive?");
  const auto start = Clock::now();
  int pings = 0;
  // A ping every 300 ms for 2.5 s (dead_after is 1 s), pongs read.
  while (Clock::now() - start < 2500ms) {
    std::size_t offset = 0;
    send_some(ping, offset);
    ++pings;
    io_.run_for(300ms);
    read_some(1 << 16);
  }
  EXPECT_FALSE(closed_) << reason_;
  EXPECT_EQ(counters_.pings_ignored, 0u);
  const std::string pong = std::string("\x8a\x06") + "alive?";
  std::size_t pongs = 0;
  for (std::size_t i = received_.find(pong); i != std::string::npos;
       i = received_.find(pong, i + 1))
    ++pongs;
  EXPECT_EQ(pongs, static_cast<std::size_t>(pings));
}

// The tether's page sends control messages as text beside its packets:
// whole text messages reach the handler; a fragmented one (which this link
// does not reassemble) is dropped and counted; text goes out as one frame.
TEST_F(LinkTest, TextMessagesReachTheirHandlerAndGoOutAsOneFrame) {
  ASSERT_NO_FATAL_FAILURE(open(quiet(60s), false));
  std::vector<std::string> texts;
  link_->on_text([&](std::string_view t) { texts.emplace_back(t); });
  std::string first_half = client_frame(1, "{\"type\":");
  first_half[0] = 0x01;  // text, FIN clear
  const std::string stream = client_frame(1, "{\"type\":\"hello\"}") + first_half +
                             client_frame(0, "\"x\"}") + client_frame(2, "packet");
  std::size_t offset = 0;
  for (int i = 0; i < 100 && (offset < stream.size() || messages_ == 0); ++i) {
    send_some(stream, offset);
    io_.run_for(5ms);
  }
  ASSERT_EQ(texts.size(), 1u);
  EXPECT_EQ(texts[0], "{\"type\":\"hello\"}");
  EXPECT_EQ(counters_.dropped_text, 2u);  // the fragment and its continuation
  EXPECT_EQ(messages_, 1u);               // the packet after them
  link_->send_text("{\"type\":\"open\"}");
  for (int i = 0; i < 100 && received_.size() < 17; ++i) {
    io_.run_for(5ms);
    read_some(1 << 16);
  }
  EXPECT_EQ(received_, std::string("\x81\x0f") + "{\"type\":\"open\"}");
  EXPECT_FALSE(closed_) << reason_;
}

// Chromium sends a binary message over 64 KiB in frames of 64 KiB, the
// last marked final: with reassemble they make one message again, up to
// max_message; beyond, the link closes with 1009.
TEST_F(LinkTest, FragmentedMessagesArePutTogetherUpToTheLimit) {
  Link::Options o = quiet(60s);
  o.reassemble = true;
  ASSERT_NO_FATAL_FAILURE(open(o, false));
  std::vector<std::string> texts;
  link_->on_text([&](std::string_view t) { texts.emplace_back(t); });
  auto fragment = [](int opcode, bool fin, const std::string& payload) {
    std::string f = client_frame(opcode, payload);
    if (!fin) f[0] = static_cast<char>(f[0] & 0x7f);
    return f;
  };
  // 65545 bytes: a 64 KiB segment behind its 10-byte header, split as
  // Chromium splits it; a ping in between, as RFC 6455 allows.
  const std::string big = fragment(2, false, std::string(60000, 'a')) + client_frame(9, "p") +
                          fragment(0, true, std::string(5545, 'b'));
  const std::string text = fragment(1, false, "{\"type\":") + fragment(0, true, "\"x\"}");
  const std::string stream = big + text;
  std::size_t offset = 0;
  for (int i = 0; i < 200 && (offset < stream.size() || texts.empty()); ++i) {
    send_some(stream, offset);
    io_.run_for(5ms);
  }
  EXPECT_EQ(messages_, 1u);
  EXPECT_EQ(counters_.rx_bytes, 65545u);
  ASSERT_EQ(texts.size(), 1u);
  EXPECT_EQ(texts[0], "{\"type\":\"x\"}");
  EXPECT_FALSE(closed_) << reason_;
  // Past max_message (65600): closed.
  const std::string over = fragment(2, false, std::string(60000, 'a')) +
                           fragment(0, true, std::string(6000, 'b'));
  offset = 0;
  // The close handshake waits up to 2 s for this peer's close frame.
  for (int i = 0; i < 800 && !closed_; ++i) {
    send_some(over, offset);
    io_.run_for(5ms);
  }
  EXPECT_TRUE(closed_);
  EXPECT_EQ(messages_, 1u);
}

}  // namespace
}  // namespace mnigs::websocket
