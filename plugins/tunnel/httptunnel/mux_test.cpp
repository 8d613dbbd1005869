// MuxSession client and server back to back in memory: output() of each is
// fed to the other in random-sized pieces. A few tests talk to the server
// through a bare libnghttp2 client instead, to send what MuxSession never
// would (a GET, an oversized header list, DATA beyond the window).
#include "mux.hpp"

#include <gtest/gtest.h>
#include <nghttp2/nghttp2.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

namespace mnigs::httptunnel {
namespace {

using Bytes = std::vector<std::uint8_t>;

std::span<const std::uint8_t> as_bytes(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

// Byte `pos` of the pseudo-random content named by `seed` (splitmix64), so
// a receiver checks order and content without keeping a copy.
std::uint8_t content_byte(std::uint64_t seed, std::uint64_t pos) {
  std::uint64_t z = seed * 0x9e3779b97f4a7c15ULL + (pos >> 3) + 1;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  z ^= z >> 31;
  return static_cast<std::uint8_t>(z >> ((pos & 7) * 8));
}

// One side of one stream: sends `send_total` bytes of content `send_seed`
// then ends; checks what arrives against `recv_seed`.
struct Endpoint : std::enable_shared_from_this<Endpoint> {
  MuxSession* mux = nullptr;
  std::int32_t id = -1;
  std::uint64_t send_seed = 0;
  std::size_t send_total = 0;
  std::size_t sent = 0;
  bool sending = false;  // server: after respond(200)
  bool write_was_short = false;
  bool end_when_sent = true;  // end() after the last byte
  bool end_sent = false;

  std::uint64_t recv_seed = 0;
  std::size_t received = 0;
  bool content_ok = true;
  bool auto_consume = true;
  std::size_t unconsumed = 0;
  std::size_t max_unconsumed = 0;

  int status = 0;
  Headers response_headers;
  bool got_end = false;
  bool closed = false;
  std::uint32_t close_code = 0xffffffff;
  int writable_calls = 0;
  int calls_after_close = 0;

  void send_more() {
    if (!sending || !mux) return;
    Bytes chunk;
    while (sent < send_total) {
      const std::size_t len = std::min<std::size_t>(send_total - sent, 48 * 1024 + 7);
      chunk.resize(len);
      for (std::size_t i = 0; i < len; ++i) chunk[i] = content_byte(send_seed, sent + i);
      const std::size_t n = mux->write(id, chunk);
      sent += n;
      if (n < len) {
        write_was_short = true;
        return;
      }
    }
    if (end_when_sent && !end_sent) {
      end_sent = true;
      mux->end(id);
    }
  }

  void consume_all() {
    if (unconsumed == 0) return;
    mux->consumed(id, unconsumed);
    unconsumed = 0;
  }

  StreamHandler handler() {
    auto self = shared_from_this();
    StreamHandler h;
    h.on_response = [self](int st, Headers headers) {
      if (self->closed) ++self->calls_after_close;
      self->status = st;
      self->response_headers = std::move(headers);
    };
    h.on_data = [self](std::span<const std::uint8_t> bytes) {
      if (self->closed || self->got_end) ++self->calls_after_close;
      for (std::size_t i = 0; i < bytes.size() && self->content_ok; ++i) {
        if (bytes[i] != content_byte(self->recv_seed, self->received + i)) {
          self->content_ok = false;
        }
      }
      self->received += bytes.size();
      self->unconsumed += bytes.size();
      self->max_unconsumed = std::max(self->max_unconsumed, self->unconsumed);
      if (self->auto_consume) self->consume_all();
    };
    h.on_end = [self] {
      if (self->closed) ++self->calls_after_close;
      self->got_end = true;
    };
    h.on_writable = [self] {
      if (self->closed) ++self->calls_after_close;
      ++self->writable_calls;
      self->send_more();
    };
    h.on_closed = [self](std::uint32_t code) {
      if (self->closed) ++self->calls_after_close;
      self->closed = true;
      self->close_code = code;
    };
    return h;
  }
};

// Moves up to one output() of `from` into `to`, cut at a random point
// (often a tiny piece, to split frames anywhere). False when there was
// nothing to move.
template <typename From, typename To>
bool move_some(From& from, To& to, std::mt19937& rng, bool errors_expected = false) {
  const auto out = from.output();
  if (out.empty()) return false;
  if constexpr (std::is_same_v<From, MuxSession>) {
    EXPECT_LE(out.size(), 64 * 1024 + 16384 + 9);  // 64 KiB gathered + one frame
  }
  std::size_t n = out.size();
  if (rng() % 4 == 0) {
    n = std::min<std::size_t>(n, 1 + rng() % 64);
  } else {
    n = 1 + rng() % n;
  }
  const std::string error = to.feed(out.first(n));
  if (!errors_expected) {
    EXPECT_EQ(error, "");
  }
  from.output_done(n);
  return true;
}

// Until neither side has anything to say; false if that takes more than
// max_rounds (a livelock, or more traffic than the test meant).
template <typename A, typename B>
bool pump(A& a, B& b, std::mt19937& rng, int max_rounds = 400000) {
  for (int round = 0; round < max_rounds; ++round) {
    const bool ab = move_some(a, b, rng);
    const bool ba = move_some(b, a, rng);
    if (!ab && !ba) return true;
  }
  return false;
}

// A client and a server; the server answers each CONNECT through
// `accept`, which by default responds 200 and sends the bytes an
// `x-send` header asks for.
struct Pair {
  explicit Pair(MuxLimits client_limits = {}, MuxLimits server_limits = {})
      : client(MuxSession::Role::client, client_limits),
        server(MuxSession::Role::server, server_limits,
               [this](std::int32_t id, std::string authority, Headers headers) {
                 return on_stream(id, std::move(authority), std::move(headers));
               }) {}

  StreamHandler on_stream(std::int32_t id, std::string authority, Headers headers) {
    auto e = std::make_shared<Endpoint>();
    e->mux = &server;
    e->id = id;
    std::uint64_t index = 0;
    for (const auto& [name, value] : headers) {
      if (name == "x-index") index = std::stoull(value);
      if (name == "x-send") e->send_total = std::stoull(value);
    }
    e->send_seed = 1000 + index;
    e->recv_seed = index;
    seen_authority[id] = authority;
    seen_headers[id] = headers;
    by_index[index] = e;
    StreamHandler h = e->handler();
    if (accept) accept(*e);
    return h;
  }

  // Opens stream `index`: the client sends `up` bytes, asks for `down`.
  std::shared_ptr<Endpoint> open(std::uint64_t index, std::size_t up, std::size_t down,
                                 Headers extra = {}, bool end = true) {
    auto e = std::make_shared<Endpoint>();
    e->mux = &client;
    e->end_when_sent = end;
    e->send_seed = index;
    e->send_total = up;
    e->recv_seed = 1000 + index;
    extra.emplace_back("x-index", std::to_string(index));
    extra.emplace_back("x-send", std::to_string(down));
    e->id = client.open("hello-world", extra, e->handler());
    EXPECT_GT(e->id, 0) << client.last_refusal();
    e->sending = e->id > 0;
    e->send_more();
    return e;
  }

  bool run() { return pump(client, server, rng); }

  MuxSession client;
  MuxSession server;
  std::mt19937 rng{12345};
  std::function<void(Endpoint&)> accept = [this](Endpoint& e) {
    ASSERT_TRUE(server.respond(e.id, 200)) << server.last_refusal();
    e.sending = true;
    e.send_more();
  };
  std::map<std::int32_t, std::string> seen_authority;
  std::map<std::int32_t, Headers> seen_headers;
  std::map<std::uint64_t, std::shared_ptr<Endpoint>> by_index;
};

bool has_header(const Headers& headers, const std::string& name, const std::string& value) {
  return std::find(headers.begin(), headers.end(), std::pair{name, value}) != headers.end();
}

TEST(MuxSession, OneStreamCarriesOneMebibyteEachWayIntact) {
  Pair p;
  const std::size_t kSize = 1024 * 1024;
  auto c = p.open(7, kSize, kSize, {{"x-forwarded-for", "192.0.2.1"}});
  ASSERT_TRUE(p.run());

  ASSERT_EQ(p.seen_authority.size(), 1u);
  EXPECT_EQ(p.seen_authority.begin()->second, "hello-world");
  EXPECT_TRUE(has_header(p.seen_headers.begin()->second, "x-forwarded-for", "192.0.2.1"));
  auto s = p.by_index.at(7);

  EXPECT_EQ(c->status, 200);
  EXPECT_EQ(c->received, kSize);
  EXPECT_TRUE(c->content_ok);
  EXPECT_EQ(s->received, kSize);
  EXPECT_TRUE(s->content_ok);
  EXPECT_TRUE(c->got_end);
  EXPECT_TRUE(s->got_end);
  EXPECT_TRUE(c->closed);
  EXPECT_TRUE(s->closed);
  EXPECT_EQ(c->close_code, h2_error::no_error);
  EXPECT_EQ(s->close_code, h2_error::no_error);
  EXPECT_EQ(c->calls_after_close + s->calls_after_close, 0);
  EXPECT_EQ(p.client.open_streams(), 0u);
  EXPECT_EQ(p.server.open_streams(), 0u);
  EXPECT_TRUE(p.client.alive());
  EXPECT_TRUE(p.server.alive());
  EXPECT_EQ(p.client.counters().streams_opened, 1u);
  EXPECT_EQ(p.server.counters().streams_opened, 1u);
  EXPECT_GT(p.client.counters().bytes_out, kSize);
  EXPECT_EQ(p.client.counters().bytes_out, p.server.counters().bytes_in);
  EXPECT_EQ(p.server.counters().bytes_out, p.client.counters().bytes_in);
}

TEST(MuxSession, HundredConcurrentStreamsOfDifferentSizesArriveIntact) {
  Pair p;
  ASSERT_TRUE(p.run());  // SETTINGS both ways first
  std::vector<std::shared_ptr<Endpoint>> clients;
  auto size = [](std::uint64_t i, std::uint64_t salt) {
    // 0 to 2 MiB, mostly small: (k/99)^3 of 2 MiB.
    const std::uint64_t k = (i * 37 + salt) % 100;
    return static_cast<std::size_t>(2 * 1024 * 1024 * k * k * k / (99 * 99 * 99));
  };
  for (std::uint64_t i = 0; i < 100; ++i) clients.push_back(p.open(i, size(i, 0), size(i, 11)));
  EXPECT_EQ(p.client.open_streams(), 100u);
  ASSERT_TRUE(p.run());

  ASSERT_EQ(p.by_index.size(), 100u);
  for (std::uint64_t i = 0; i < 100; ++i) {
    const auto& c = clients[i];
    const auto& s = p.by_index.at(i);
    SCOPED_TRACE("stream " + std::to_string(i));
    EXPECT_EQ(s->received, size(i, 0));
    EXPECT_TRUE(s->content_ok);
    EXPECT_EQ(c->received, size(i, 11));
    EXPECT_TRUE(c->content_ok);
    EXPECT_TRUE(c->got_end && s->got_end);
    EXPECT_TRUE(c->closed && s->closed);
    EXPECT_EQ(c->close_code, 0u);
    EXPECT_EQ(s->close_code, 0u);
    EXPECT_EQ(c->calls_after_close + s->calls_after_close, 0);
  }
  EXPECT_EQ(p.client.open_streams(), 0u);
  EXPECT_EQ(p.server.open_streams(), 0u);
}

TEST(MuxSession, SlowConsumerStopsTheSenderUntilItConsumes) {
  Pair p;
  const std::size_t kSize = 1024 * 1024;
  p.accept = [&p](Endpoint& e) {
    e.auto_consume = false;
    ASSERT_TRUE(p.server.respond(e.id, 200));
  };
  auto c = p.open(1, kSize, 0);
  ASSERT_TRUE(p.run());
  auto s = p.by_index.at(1);
  const MuxLimits limits;

  // The window is full and so, once the writer tries again, is the
  // client's buffer: writes take nothing.
  EXPECT_EQ(s->received, limits.stream_window);
  EXPECT_TRUE(c->write_was_short);
  c->send_more();
  EXPECT_EQ(p.client.buffered(c->id), limits.send_buffer);
  const std::uint8_t byte = 0;
  ASSERT_EQ(p.client.write(c->id, {&byte, 1}), 0u);
  ASSERT_TRUE(p.run());
  EXPECT_EQ(s->received, limits.stream_window);
  const int woken = c->writable_calls;

  // Consuming opens the window: data flows again and the writer is woken.
  s->consume_all();
  ASSERT_TRUE(p.run());
  EXPECT_GT(s->received, limits.stream_window);
  EXPECT_GT(c->writable_calls, woken);

  s->auto_consume = true;
  s->consume_all();
  ASSERT_TRUE(p.run());
  EXPECT_EQ(s->received, kSize);
  EXPECT_TRUE(s->content_ok);
  EXPECT_TRUE(s->got_end);
  EXPECT_LE(s->max_unconsumed, limits.stream_window);
}

TEST(MuxSession, ConnectionWindowHeldByAClosedStreamReturnsWhenConsumed) {
  MuxLimits limits;
  limits.connection_window = limits.stream_window;
  Pair p({}, limits);
  p.accept = [&p](Endpoint& e) {
    if (e.recv_seed == 1) e.auto_consume = false;
    ASSERT_TRUE(p.server.respond(e.id, 200));
    e.sending = true;
    e.send_more();
  };
  auto c1 = p.open(1, limits.stream_window, 0);
  ASSERT_TRUE(p.run());
  auto s1 = p.by_index.at(1);
  EXPECT_TRUE(s1->closed);
  EXPECT_TRUE(c1->closed);
  EXPECT_EQ(s1->unconsumed, limits.connection_window);

  // The closed stream's bytes still fill the connection window.
  auto c2 = p.open(2, 100000, 0);
  ASSERT_TRUE(p.run());
  auto s2 = p.by_index.at(2);
  EXPECT_EQ(s2->received, 0u);

  s1->consume_all();
  ASSERT_TRUE(p.run());
  EXPECT_EQ(s2->received, 100000u);
  EXPECT_TRUE(s2->content_ok);
  EXPECT_TRUE(c2->closed);
}

TEST(MuxSession, NotFoundEndsTheStreamAtTheClient) {
  Pair p;
  p.accept = [&p](Endpoint& e) {
    ASSERT_TRUE(p.server.respond(e.id, 404, {{"x-reason", "no such service"}}));
  };
  auto c = p.open(3, 10000, 0);
  ASSERT_TRUE(p.run());
  EXPECT_EQ(c->status, 404);
  EXPECT_TRUE(has_header(c->response_headers, "x-reason", "no such service"));
  EXPECT_TRUE(c->got_end);
  EXPECT_TRUE(c->closed);
  EXPECT_EQ(c->close_code, 0u);
  EXPECT_TRUE(p.by_index.at(3)->closed);
  EXPECT_EQ(p.client.open_streams(), 0u);
  EXPECT_EQ(p.server.open_streams(), 0u);
  EXPECT_EQ(p.client.counters().streams_refused, 1u);
  EXPECT_EQ(p.server.counters().streams_refused, 1u);
}

TEST(MuxSession, ServerCannotAnswerTwiceOrWithAnInformationalStatus) {
  Pair p;
  std::int32_t id = 0;
  p.accept = [&](Endpoint& e) {
    id = e.id;
    EXPECT_FALSE(p.server.respond(e.id, 101));
    EXPECT_NE(p.server.last_refusal().find("final status"), std::string::npos);
    EXPECT_TRUE(p.server.respond(e.id, 200));
    EXPECT_FALSE(p.server.respond(e.id, 200));
    EXPECT_NE(p.server.last_refusal().find("answered already"), std::string::npos);
  };
  p.open(1, 0, 0);
  ASSERT_TRUE(p.run());
  EXPECT_GT(id, 0);
}

TEST(MuxSession, ResetFromEitherSideReachesTheOtherWithItsCode) {
  Pair p;
  p.accept = [&p](Endpoint& e) { ASSERT_TRUE(p.server.respond(e.id, 200)); };
  auto c1 = p.open(1, 100000, 0, {}, false);  // never ends: reset by the client
  auto c2 = p.open(2, 0, 0);                  // reset by the server
  ASSERT_TRUE(p.run());
  auto s1 = p.by_index.at(1);
  auto s2 = p.by_index.at(2);
  ASSERT_FALSE(s1->closed);
  ASSERT_FALSE(c2->closed);

  p.client.reset(c1->id, h2_error::cancel);
  p.server.reset(s2->id, h2_error::connect_error);
  EXPECT_EQ(p.client.write(c1->id, as_bytes("late")), 0u);
  ASSERT_TRUE(p.run());
  EXPECT_TRUE(s1->closed);
  EXPECT_EQ(s1->close_code, h2_error::cancel);
  EXPECT_EQ(c1->close_code, h2_error::cancel);
  EXPECT_TRUE(c2->closed);
  EXPECT_EQ(c2->close_code, h2_error::connect_error);
  EXPECT_EQ(s2->close_code, h2_error::connect_error);
  EXPECT_TRUE(s2->got_end);
  EXPECT_FALSE(c2->got_end);
  EXPECT_EQ(
      c1->calls_after_close + s1->calls_after_close + c2->calls_after_close + s2->calls_after_close,
      0);
  EXPECT_EQ(p.client.open_streams(), 0u);
  EXPECT_EQ(p.server.open_streams(), 0u);
  EXPECT_EQ(p.client.counters().streams_reset, 2u);
  EXPECT_EQ(h2_error_name(h2_error::cancel), "CANCEL");
}

// The gateway's way of letting go of a request whose answer it has in
// full, the client's side still open: the stream is ended, not reset, so
// a server counts no reset however many requests pass (libnghttp2 servers
// end a session after 1000 resets).
TEST(MuxSession, LettingGoOfAnsweredStreamsResetsNone) {
  Pair p;
  for (std::uint64_t i = 0; i < 1500; ++i) {
    auto c = p.open(i, 0, 100, {}, /*end=*/false);  // the request side stays open
    ASSERT_TRUE(p.run());
    ASSERT_TRUE(c->got_end) << i;
    ASSERT_FALSE(c->closed) << i;
    p.client.let_go(c->id, h2_error::cancel);
    ASSERT_TRUE(p.run());
    ASSERT_TRUE(c->closed) << i;
    ASSERT_EQ(c->close_code, h2_error::no_error) << i;
  }
  EXPECT_TRUE(p.server.alive()) << p.server.error();
  EXPECT_EQ(p.server.counters().streams_reset, 0u);
  EXPECT_EQ(p.client.open_streams(), 0u);
  EXPECT_EQ(p.server.open_streams(), 0u);

  // A stream whose answer is not all in is cancelled.
  auto c = p.open(9999, 0, 10 * 1024 * 1024, {}, /*end=*/false);
  for (int i = 0; i < 3; ++i) move_some(p.client, p.server, p.rng), move_some(p.server, p.client,
                                                                             p.rng);
  ASSERT_FALSE(c->got_end);
  p.client.let_go(c->id, h2_error::cancel);
  ASSERT_TRUE(p.run());
  EXPECT_EQ(p.by_index.at(9999)->close_code, h2_error::cancel);
}

// Public clients that go away early make the gateway reset their streams,
// as fast as the Internet likes: the node's session must not end over it.
TEST(MuxSession, ManyResetStreamsDoNotEndTheServersSession) {
  Pair p;
  for (std::uint64_t i = 0; i < 1500; ++i) {
    auto c = p.open(i, 0, 0, {}, /*end=*/false);
    ASSERT_TRUE(p.run());
    p.client.reset(c->id, h2_error::cancel);
    ASSERT_TRUE(p.run());
  }
  EXPECT_TRUE(p.server.alive()) << p.server.error();
  EXPECT_TRUE(p.client.alive()) << p.client.error();
  auto last = p.open(5000, 10, 10);
  ASSERT_TRUE(p.run());
  EXPECT_EQ(last->status, 200);
  EXPECT_TRUE(last->got_end);
}

// Streams whose consumers stop (public clients that read slowly) hold
// their stream windows, never the whole link: another stream still gets
// its bytes.
TEST(MuxSession, StalledConsumersDoNotStallTheOtherStreams) {
  Pair p;
  const std::size_t window = MuxLimits{}.stream_window;
  std::vector<std::shared_ptr<Endpoint>> stalled;
  for (std::uint64_t i = 0; i < 24; ++i) {
    auto e = p.open(i, 0, 2 * window);
    e->auto_consume = false;
    stalled.push_back(e);
  }
  ASSERT_TRUE(p.run());
  for (const auto& e : stalled) ASSERT_EQ(e->unconsumed, window);
  auto live = p.open(100, 0, 1024 * 1024);
  ASSERT_TRUE(p.run());
  EXPECT_EQ(live->received, 1024u * 1024u);
  EXPECT_TRUE(live->got_end);
  EXPECT_TRUE(live->content_ok);
}

TEST(MuxSession, ClientOpensNoMoreStreamsThanThePeerAllows) {
  MuxLimits server_limits;
  server_limits.max_concurrent_streams = 4;
  Pair p({}, server_limits);
  p.accept = [&p](Endpoint& e) { ASSERT_TRUE(p.server.respond(e.id, 200)); };
  ASSERT_TRUE(p.run());
  std::vector<std::shared_ptr<Endpoint>> open;
  for (int i = 0; i < 3; ++i) open.push_back(p.open(i, 0, 0));
  EXPECT_TRUE(p.client.can_open());
  open.push_back(p.open(3, 0, 0));
  EXPECT_FALSE(p.client.can_open());
  const std::int32_t refused = p.client.open("hello-world", {}, {});
  EXPECT_EQ(refused, -1);
  EXPECT_NE(p.client.last_refusal().find("as many as the peer allows"), std::string::npos)
      << p.client.last_refusal();
  ASSERT_TRUE(p.run());

  p.client.reset(open[0]->id, h2_error::cancel);
  ASSERT_TRUE(p.run());
  EXPECT_TRUE(p.client.can_open());
  EXPECT_GT(p.client.open("hello-world", {}, {}), 0) << p.client.last_refusal();
  EXPECT_EQ(p.client.counters().streams_refused, 1u);
}

TEST(MuxSession, OpenRefusesInvalidAuthorityAndHeaderFields) {
  MuxSession client(MuxSession::Role::client, {});
  EXPECT_EQ(client.open("", {}, {}), -1);
  EXPECT_NE(client.last_refusal().find("authority"), std::string::npos);
  EXPECT_EQ(client.open("bad host", {}, {}), -1);
  const Headers bad[] = {
      {{":path", "/"}},          {{"X-Upper", "1"}},          {{"connection", "close"}},
      {{"content-length", "5"}}, {{"x-ok", "line\r\nbreak"}}, {{"x-big", std::string(20000, 'a')}}};
  for (const Headers& h : bad) {
    EXPECT_EQ(client.open("hello-world", h, {}), -1) << h[0].first;
    EXPECT_NE(client.last_refusal(), "");
  }
  EXPECT_GT(client.open("hello-world:8080", {{"te", "trailers"}}, {}), 0) << client.last_refusal();
  EXPECT_EQ(client.last_refusal(), "");
}

// A bare libnghttp2 client, to send what MuxSession refuses to.
class RawClient {
 public:
  RawClient() {
    nghttp2_session_callbacks* cbs = nullptr;
    nghttp2_session_callbacks_new(&cbs);
    nghttp2_session_callbacks_set_on_header_callback(
        cbs, [](nghttp2_session*, const nghttp2_frame* frame, const std::uint8_t* name,
                std::size_t namelen, const std::uint8_t* value, std::size_t valuelen, std::uint8_t,
                void* user) {
          auto* self = static_cast<RawClient*>(user);
          if (std::string_view(reinterpret_cast<const char*>(name), namelen) == ":status") {
            self->status[frame->hd.stream_id] =
                std::stoi(std::string(reinterpret_cast<const char*>(value), valuelen));
          }
          return 0;
        });
    nghttp2_session_callbacks_set_on_stream_close_callback(
        cbs, [](nghttp2_session*, std::int32_t id, std::uint32_t code, void* user) {
          static_cast<RawClient*>(user)->closed[id] = code;
          return 0;
        });
    nghttp2_session_client_new(&session_, cbs, this);
    nghttp2_session_callbacks_del(cbs);
    nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, nullptr, 0);
  }
  ~RawClient() { nghttp2_session_del(session_); }

  std::int32_t request(const std::vector<std::pair<std::string, std::string>>& fields,
                       bool end_stream = true) {
    std::vector<nghttp2_nv> nva;
    for (const auto& [n, v] : fields) {
      nva.push_back({reinterpret_cast<std::uint8_t*>(const_cast<char*>(n.data())),
                     reinterpret_cast<std::uint8_t*>(const_cast<char*>(v.data())), n.size(),
                     v.size(), NGHTTP2_NV_FLAG_NONE});
    }
    if (end_stream) {
      return nghttp2_submit_request(session_, nullptr, nva.data(), nva.size(), nullptr, nullptr);
    }
    // A request with a body that never comes: the stream stays open.
    nghttp2_data_provider provider{};
    provider.read_callback = [](nghttp2_session*, std::int32_t, std::uint8_t*, std::size_t,
                                std::uint32_t*, nghttp2_data_source*,
                                void*) -> ssize_t { return NGHTTP2_ERR_DEFERRED; };
    return nghttp2_submit_request(session_, nullptr, nva.data(), nva.size(), &provider, nullptr);
  }

  // Bytes appended after what libnghttp2 produces, unchecked.
  void inject(const Bytes& bytes) { injected_.insert(injected_.end(), bytes.begin(), bytes.end()); }

  std::span<const std::uint8_t> output() {
    if (out_.empty()) {
      const std::uint8_t* data = nullptr;
      ssize_t n;
      while ((n = nghttp2_session_mem_send(session_, &data)) > 0)
        out_.insert(out_.end(), data, data + n);
      out_.insert(out_.end(), injected_.begin(), injected_.end());
      injected_.clear();
    }
    return out_;
  }
  void output_done(std::size_t n) { out_.erase(out_.begin(), out_.begin() + n); }
  std::string feed(std::span<const std::uint8_t> bytes) {
    const ssize_t rv = nghttp2_session_mem_recv(session_, bytes.data(), bytes.size());
    return rv < 0 ? nghttp2_strerror(static_cast<int>(rv)) : "";
  }

  std::map<std::int32_t, int> status;
  std::map<std::int32_t, std::uint32_t> closed;

 private:
  nghttp2_session* session_ = nullptr;
  Bytes out_;
  Bytes injected_;
};

MuxSession::OnStream count_streams(int& calls, MuxSession*& server) {
  return [&calls, &server](std::int32_t id, std::string, Headers) {
    ++calls;
    server->respond(id, 200);
    return StreamHandler{};
  };
}

TEST(MuxSession, ServerRefusesRequestsOtherThanConnect) {
  int calls = 0;
  MuxSession* ptr = nullptr;
  MuxSession server(MuxSession::Role::server, {}, count_streams(calls, ptr));
  ptr = &server;
  RawClient raw;
  std::mt19937 rng(1);
  const std::int32_t get = raw.request(
      {{":method", "GET"}, {":scheme", "https"}, {":path", "/"}, {":authority", "hello-world"}});
  const std::int32_t post = raw.request({{":method", "POST"},
                                         {":scheme", "https"},
                                         {":path", "/upload"},
                                         {":authority", "hello-world"}},
                                        false);
  ASSERT_TRUE(pump(raw, server, rng));
  EXPECT_EQ(raw.status[get], 405);
  EXPECT_EQ(raw.status[post], 405);
  EXPECT_EQ(raw.closed.count(post), 1u);  // told to stop sending its body
  EXPECT_EQ(calls, 0);
  EXPECT_EQ(server.counters().streams_refused, 2u);
  EXPECT_EQ(server.open_streams(), 0u);
  EXPECT_TRUE(server.alive());
}

TEST(MuxSession, ServerRefusesAHeaderListOverTheLimit) {
  int calls = 0;
  MuxSession* ptr = nullptr;
  MuxSession server(MuxSession::Role::server, {}, count_streams(calls, ptr));
  ptr = &server;
  RawClient raw;
  std::mt19937 rng(2);
  const std::int32_t big = raw.request(
      {{":method", "CONNECT"}, {":authority", "hello-world"}, {"x-big", std::string(20000, 'a')}});
  const std::int32_t fine = raw.request({{":method", "CONNECT"}, {":authority", "hello-world"}});
  ASSERT_TRUE(pump(raw, server, rng));
  EXPECT_EQ(raw.status[big], 431);
  EXPECT_EQ(raw.status[fine], 200);
  EXPECT_EQ(calls, 1);
  EXPECT_TRUE(server.alive());
}

TEST(MuxSession, DataBeyondTheStreamWindowIsRefused) {
  // A peer that ignores flow control: the stream is reset with
  // FLOW_CONTROL_ERROR and the consumer never holds more than the window.
  auto e = std::make_shared<Endpoint>();
  e->auto_consume = false;
  e->content_ok = true;
  MuxSession* ptr = nullptr;
  MuxSession server(MuxSession::Role::server, {}, [&](std::int32_t id, std::string, Headers) {
    e->mux = ptr;
    e->id = id;
    ptr->respond(id, 200);
    return e->handler();
  });
  ptr = &server;
  RawClient raw;
  std::mt19937 rng(3);
  const std::int32_t id = raw.request({{":method", "CONNECT"}, {":authority", "x"}}, false);
  ASSERT_TRUE(pump(raw, server, rng));
  ASSERT_EQ(raw.status[id], 200);

  const MuxLimits limits;
  const std::size_t kFrame = 16384;
  for (std::size_t sent = 0; sent <= limits.stream_window; sent += kFrame) {
    Bytes frame(9 + kFrame, 0);
    frame[0] = static_cast<std::uint8_t>(kFrame >> 16);
    frame[1] = static_cast<std::uint8_t>(kFrame >> 8);
    frame[2] = static_cast<std::uint8_t>(kFrame);
    frame[3] = NGHTTP2_DATA;
    frame[8] = static_cast<std::uint8_t>(id);
    raw.inject(frame);
  }
  // e->recv_seed content does not matter here.
  ASSERT_TRUE(pump(raw, server, rng));
  EXPECT_LE(e->received, limits.stream_window);
  EXPECT_TRUE(e->closed);
  EXPECT_EQ(e->close_code, h2_error::flow_control_error);
  EXPECT_EQ(raw.closed[id], NGHTTP2_FLOW_CONTROL_ERROR);
  // Bytes delivered before the reset are still the consumer's to return.
  e->consume_all();
  EXPECT_TRUE(server.alive());
}

TEST(MuxSession, GarbageInsteadOfThePrefaceFailsTheServer) {
  MuxSession server(MuxSession::Role::server, {},
                    [](std::int32_t, std::string, Headers) { return StreamHandler{}; });
  const std::string error = server.feed(as_bytes("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
  EXPECT_NE(error.find("connection preface"), std::string::npos) << error;
  EXPECT_NE(error.find("GET / HTTP/1.1"), std::string::npos) << error;
  EXPECT_FALSE(server.alive());
  EXPECT_EQ(server.error(), error);
  EXPECT_EQ(server.feed(as_bytes("more")), error);
}

TEST(MuxSession, GarbageFromAnHttp1ServerFailsTheClientAndItsStreams) {
  MuxSession client(MuxSession::Role::client, {});
  auto e = std::make_shared<Endpoint>();
  e->mux = &client;
  e->id = client.open("hello-world", {}, e->handler());
  ASSERT_GT(e->id, 0);
  // The client's preface is written before the answer comes.
  while (!client.output().empty()) client.output_done(client.output().size());
  const std::string error =
      client.feed(as_bytes("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"));
  EXPECT_NE(error.find("bad frame from the peer"), std::string::npos) << error;
  EXPECT_FALSE(client.alive());
  EXPECT_TRUE(e->closed);
  EXPECT_NE(e->close_code, 0u);
  EXPECT_EQ(client.open_streams(), 0u);
  EXPECT_EQ(client.open("hello-world", {}, {}), -1);
  EXPECT_NE(client.last_refusal().find("failed"), std::string::npos);
  // The GOAWAY that tells the peer why is still there to write.
  EXPECT_TRUE(client.wants_output());
}

TEST(MuxSession, PingIsAcknowledged) {
  Pair p;
  ASSERT_TRUE(p.run());
  const auto frames = p.client.counters().frames_in;
  p.client.ping();
  EXPECT_EQ(p.client.counters().pings_sent, 1u);
  EXPECT_EQ(p.client.counters().pings_acked, 0u);
  ASSERT_TRUE(p.run());
  EXPECT_EQ(p.client.counters().pings_acked, 1u);
  EXPECT_GT(p.client.counters().frames_in, frames);
}

TEST(MuxSession, ShutdownLetsOpenStreamsFinishAndRefusesNewOnes) {
  Pair p;
  auto c = p.open(1, 5000, 0, {}, false);  // open across the GOAWAY
  const std::size_t up = c->send_total;
  ASSERT_TRUE(p.run());
  p.server.shutdown();
  ASSERT_TRUE(p.run());
  EXPECT_TRUE(p.client.going_away());
  EXPECT_EQ(p.client.open("hello-world", {}, {}), -1);
  EXPECT_NE(p.client.last_refusal().find("going away"), std::string::npos);
  EXPECT_FALSE(c->closed);
  p.client.end(c->id);
  ASSERT_TRUE(p.run());
  EXPECT_TRUE(c->closed);
  EXPECT_EQ(c->close_code, 0u);
  EXPECT_EQ(p.by_index.at(1)->received, up);
  EXPECT_FALSE(p.client.alive());
  EXPECT_FALSE(p.server.alive());
  EXPECT_EQ(p.client.error(), "");
  EXPECT_EQ(p.server.error(), "");
}

TEST(MuxSession, HandlerExceptionFailsTheSession) {
  Pair p;
  p.accept = [&p](Endpoint& e) { ASSERT_TRUE(p.server.respond(e.id, 200)); };
  auto c = p.open(1, 0, 0);
  StreamHandler h;
  h.on_response = [](int, Headers) { throw std::runtime_error("boom"); };
  const std::int32_t id = p.client.open("hello-world", {}, std::move(h));
  ASSERT_GT(id, 0);
  for (int i = 0; i < 1000; ++i) {
    const bool ab = move_some(p.client, p.server, p.rng, true);
    const bool ba = move_some(p.server, p.client, p.rng, true);
    if (!ab && !ba) break;
  }
  EXPECT_FALSE(p.client.alive());
  EXPECT_NE(p.client.error().find("boom"), std::string::npos) << p.client.error();
  EXPECT_TRUE(c->closed);
}

}  // namespace
}  // namespace mnigs::httptunnel
