// Unit tests of wss's parts on loopback TCP: the gateway's identity and its
// pin, the handshake that holds the subscriber to the pinned key, and a pair
// of Links that move messages of every size through TLS both ways, with
// socket buffers so small that records are written in pieces. Every wait is
// bounded.
#include "tls.hpp"

#include <gtest/gtest.h>
#include <plugin_fakes.hpp>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "link.hpp"
#include "tls_front.hpp"

namespace mnigs::websocket {
namespace {

namespace net = boost::asio;
using tcp = net::ip::tcp;
using Status = tls::Session::Status;
using namespace std::chrono_literals;

const tls::Identity& identity() {
  static const tls::Identity id = tls::make_identity("mnigs test gateway");
  return id;
}

TEST(TlsIdentity, PinIsTheSha256OfThePublicKeyAndStable) {
  const std::string pin = tls::pin_of(identity().cert_pem);
  EXPECT_TRUE(tls::valid_pin(pin)) << pin;
  EXPECT_EQ(tls::pin_of(identity().cert_pem), pin);
  // Another identity has another key, hence another pin.
  EXPECT_NE(tls::pin_of(tls::make_identity("other").cert_pem), pin);
}

TEST(TlsIdentity, ValidPinIsStrict) {
  EXPECT_FALSE(tls::valid_pin(""));
  EXPECT_FALSE(tls::valid_pin("sha256:"));
  EXPECT_FALSE(tls::valid_pin("sha1:" + std::string(64, 'a')));
  EXPECT_FALSE(tls::valid_pin("sha256:" + std::string(63, 'a')));
  EXPECT_FALSE(tls::valid_pin("sha256:" + std::string(64, 'A')));
  EXPECT_FALSE(tls::valid_pin("sha256:" + std::string(65, 'a')));
  EXPECT_TRUE(tls::valid_pin("sha256:" + std::string(64, '0')));
}

TEST(TlsIdentity, BadPemIsRefusedWithAReason) {
  EXPECT_THROW(tls::pin_of("not a certificate"), std::runtime_error);
  tls::Identity mixed{tls::make_identity("a").key_pem, identity().cert_pem};
  try {
    tls::Context::server(mixed);
    ADD_FAILURE() << "a key with another key's certificate was taken";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("do not go together"), std::string::npos) << e.what();
  }
}

// Two ends of a loopback TCP connection on one io_context.
class TlsPair : public ::testing::Test {
 protected:
  void SetUp() override {
    tcp::acceptor acceptor(io_, {net::ip::make_address("127.0.0.1"), 0});
    client_.emplace(io_);
    client_->connect(acceptor.local_endpoint());
    server_.emplace(acceptor.accept());
    client_->non_blocking(true);
    server_->non_blocking(true);
  }
  // Small send buffers: a 64 KiB frame then takes many writes, and records
  // are cut. (Not the receive buffers: shrunk after the handshake, they
  // would drop loopback's 64 KiB segments for good.)
  void shrink() {
    int small = 8192;
    for (int fd : {client_->native_handle(), server_->native_handle()})
      ::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
  }
  // Both handshakes, run to their end; the statuses they ended with.
  std::pair<Status, Status> handshake(const std::string& pin,
                                      std::shared_ptr<tls::Context> client = nullptr) {
    server_tls_ = std::make_shared<tls::Session>(tls::Context::server(identity()),
                                                 server_->native_handle(), true);
    client_tls_ = std::make_shared<tls::Session>(client ? client : tls::Context::client(),
                                                 client_->native_handle(), false, pin);
    std::optional<Status> s, c;
    auto st = server_tls_;
    auto ct = client_tls_;
    tls::drive(*server_, [st] { return st->handshake(); }, [&s](Status x) { s = x; });
    tls::drive(*client_, [ct] { return ct->handshake(); }, [&c](Status x) {
      c = x;
    });
    for (int i = 0; i < 200 && !(s && c); ++i) pump();
    if (!c) {
      // The client gave up; the server waits for bytes that will not come.
      client_->close();
      for (int i = 0; i < 200 && !s; ++i) pump();
    }
    EXPECT_TRUE(s && c);
    return {s.value_or(Status::want_read), c.value_or(Status::want_read)};
  }

  // Runs the handlers due within 10 ms (also after the loop ran out of work).
  void pump() {
    io_.restart();
    io_.run_for(10ms);
  }

  net::io_context io_;
  std::optional<tcp::socket> client_, server_;
  std::shared_ptr<tls::Session> server_tls_, client_tls_;
};

TEST_F(TlsPair, HandshakeWithThePinnedKey) {
  auto [s, c] = handshake(tls::pin_of(identity().cert_pem));
  EXPECT_EQ(s, Status::ok) << server_tls_->error();
  EXPECT_EQ(c, Status::ok) << client_tls_->error();
  EXPECT_NE(client_tls_->description().find("TLSv1.3"), std::string::npos)
      << client_tls_->description();
}

// A client without AES instructions lists ChaCha20 first, and the gateway
// then chooses it; with them, AES-128-GCM.
TEST_F(TlsPair, TheGatewayFollowsAClientThatPutsChaChaFirst) {
  auto ctx = tls::Context::client();
  ASSERT_EQ(SSL_CTX_set_ciphersuites(ctx->get(), tls::client_suites(false)), 1);
  auto [s, c] = handshake(tls::pin_of(identity().cert_pem), ctx);
  ASSERT_EQ(c, Status::ok) << client_tls_->error();
  EXPECT_NE(client_tls_->description().find("TLS_CHACHA20_POLY1305"), std::string::npos)
      << client_tls_->description();
}

TEST_F(TlsPair, TheGatewayTakesAes128GcmFromAClientWithAesFirst) {
  auto ctx = tls::Context::client();
  ASSERT_EQ(SSL_CTX_set_ciphersuites(ctx->get(), tls::client_suites(true)), 1);
  auto [s, c] = handshake(tls::pin_of(identity().cert_pem), ctx);
  ASSERT_EQ(c, Status::ok) << client_tls_->error();
  EXPECT_NE(client_tls_->description().find("TLS_AES_128_GCM_SHA256"), std::string::npos)
      << client_tls_->description();
}

TEST_F(TlsPair, AnotherKeyIsRefusedBeforeAnythingIsSent) {
  const std::string other = tls::pin_of(tls::make_identity("impostor").cert_pem);
  auto [s, c] = handshake(other);
  EXPECT_EQ(c, Status::failed);
  EXPECT_NE(client_tls_->error().find("not the pinned " + other), std::string::npos)
      << client_tls_->error();
  EXPECT_NE(client_tls_->error().find(tls::pin_of(identity().cert_pem)), std::string::npos)
      << client_tls_->error();
  // The server hears the client's alert.
  EXPECT_EQ(s, Status::failed);
}

TEST_F(TlsPair, PlainHttpOnTheTlsPortFailsTheHandshakeWithAReason) {
  server_tls_ = std::make_shared<tls::Session>(tls::Context::server(identity()),
                                               server_->native_handle(), true);
  const std::string request = "GET /ws/websocket HTTP/1.1\r\nHost: x\r\n\r\n";
  ASSERT_EQ(::send(client_->native_handle(), request.data(), request.size(), 0),
            static_cast<ssize_t>(request.size()));
  std::optional<Status> s;
  auto st = server_tls_;
  tls::drive(*server_, [st] { return st->handshake(); }, [&s](Status x) { s = x; });
  for (int i = 0; i < 200 && !s; ++i) pump();
  ASSERT_TRUE(s);
  EXPECT_EQ(*s, Status::failed);
  EXPECT_NE(server_tls_->error().find("http request"), std::string::npos) << server_tls_->error();
}

// Messages of every size, a few bytes to 64 KiB, both ways at once through
// two Links over TLS, with small socket buffers: each arrives whole, in
// order, unchanged.
TEST_F(TlsPair, LinksCarryEveryMessageSizeBothWays) {
  shrink();
  auto [s, c] = handshake(tls::pin_of(identity().cert_pem));
  ASSERT_EQ(s, Status::ok) << server_tls_->error();
  ASSERT_EQ(c, Status::ok) << client_tls_->error();

  constexpr std::size_t kPayload = 65536 + 64;
  auto pool = std::make_shared<FramePool>(kPayload);
  Link::Options options;
  options.max_message = kPayload;
  options.max_queue = 64u << 20;
  options.liveness.ping_after = 0ms;
  options.liveness.dead_after = 60000ms;
  LinkCounters server_counters, client_counters;
  options.role = Link::Role::server;
  auto server = std::make_shared<Link>(std::move(*server_), options, server_counters, pool,
                                       server_tls_);
  options.role = Link::Role::client;
  auto client = std::make_shared<Link>(std::move(*client_), options, client_counters, pool,
                                       client_tls_);

  // Sizes that straddle the record size and the gathering limit.
  std::vector<std::string> messages;
  const std::size_t sizes[] = {1, 60, 1400, 9000, 16383, 16384, 16385, 40000, 65536, 64, 70};
  for (int round = 0; round < 20; ++round)
    for (std::size_t size : sizes) {
      std::string m(size, '\0');
      for (std::size_t i = 0; i < size; ++i)
        m[i] = static_cast<char>((i * 7 + size + static_cast<std::size_t>(round)) & 0xff);
      messages.push_back(std::move(m));
    }
  std::vector<std::string> at_server, at_client;
  std::string closed;
  auto record = [](std::vector<std::string>& into) {
    return [&into](std::span<std::uint8_t> m) {
      into.emplace_back(reinterpret_cast<const char*>(m.data()), m.size());
    };
  };
  auto on_closed = [&closed](const std::string& why, bool) { closed = why; };
  server->start({}, record(at_server), on_closed);
  client->start({}, record(at_client), on_closed);
  for (const auto& m : messages) {
    for (auto& link : {server, client}) {
      OutFrame f = pool->take();
      std::memcpy(f.payload(), m.data(), m.size());
      link->send(std::move(f), m.size());
    }
  }
  server->flush();
  client->flush();
  for (int i = 0; i < 1000 && (at_server.size() < messages.size() ||
                               at_client.size() < messages.size());
       ++i)
    pump();
  EXPECT_EQ(closed, "");
  ASSERT_EQ(at_server.size(), messages.size());
  ASSERT_EQ(at_client.size(), messages.size());
  for (std::size_t i = 0; i < messages.size(); ++i) {
    EXPECT_EQ(at_server[i], messages[i]) << "message " << i << " to the server";
    EXPECT_EQ(at_client[i], messages[i]) << "message " << i << " to the client";
  }
  EXPECT_EQ(server_counters.dropped_queue_full, 0u);
  client->close(close_normal, "done");
  for (int i = 0; i < 100 && (server->open() || client->open()); ++i) pump();
  EXPECT_FALSE(server->open());
  EXPECT_FALSE(client->open());
}

// The wss port against strangers: one address gets at most
// kMaxPendingPerSource connections in their handshake (the next is closed at
// once and counted), a plain HTTP request fails its handshake and is
// counted, and a real client with the key still gets its request through.
TEST(TlsFrontTest, OneSourceCannotTakeEveryPlaceAndTheRestStillGetsThrough) {
  net::io_context io;
  testing::FakeLogger log;
  auto front = std::make_shared<TlsFront>(io, tls::Context::server(identity()), log);
  std::vector<HttpUpgrade> requests;
  front->start(0, [&](HttpUpgrade request, std::shared_ptr<tls::Session>) {
    ::close(request.fd);
    requests.push_back(std::move(request));
  });
  const tcp::endpoint at(net::ip::make_address("127.0.0.1"), front->port());
  auto pump = [&io] {
    io.restart();
    io.run_for(10ms);
  };
  std::vector<std::unique_ptr<tcp::socket>> idle;
  for (unsigned i = 0; i <= TlsFront::kMaxPendingPerSource; ++i) {
    idle.push_back(std::make_unique<tcp::socket>(io));
    idle.back()->connect(at);
  }
  for (int i = 0; i < 100 && front->counters().busy == 0; ++i) pump();
  EXPECT_EQ(front->counters().accepted, TlsFront::kMaxPendingPerSource + 1);
  EXPECT_EQ(front->counters().busy, 1u);
  // The one refused is closed at once; the others wait for their deadline.
  idle.clear();
  for (int i = 0; i < 100 && front->counters().handshakes_failed < 4; ++i) pump();
  EXPECT_EQ(front->counters().handshakes_failed, 4u);

  {
    tcp::socket plain(io);
    plain.connect(at);
    const std::string get = "GET /ws/websocket HTTP/1.1\r\nHost: x\r\n\r\n";
    net::write(plain, net::buffer(get));
    for (int i = 0; i < 100 && front->counters().handshakes_failed < 5; ++i) pump();
    EXPECT_EQ(front->counters().handshakes_failed, 5u);
  }

  // A client with the key: its request head comes through, with what
  // followed it.
  tcp::socket socket(io);
  socket.connect(at);
  socket.non_blocking(true);
  auto session = std::make_shared<tls::Session>(tls::Context::client(), socket.native_handle(),
                                                false, tls::pin_of(identity().cert_pem));
  std::optional<Status> shook;
  tls::drive(socket, [session] { return session->handshake(); },
             [&shook](Status s) { shook = s; });
  for (int i = 0; i < 200 && !shook; ++i) pump();
  ASSERT_EQ(shook, Status::ok) << session->error();
  std::optional<std::string> sent;
  tls::write_all(socket, session,
                 std::make_shared<const std::string>(
                     "GET /vpn?x=1 HTTP/1.1\r\nHost: gw\r\nUpgrade: websocket\r\n\r\nrest"),
                 [&sent](std::string error) { sent = error; });
  for (int i = 0; i < 200 && requests.empty(); ++i) pump();
  ASSERT_EQ(sent, "");
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].method, "GET");
  EXPECT_EQ(requests[0].target, "/vpn?x=1");
  EXPECT_EQ(requests[0].remote_address, "127.0.0.1");
  EXPECT_EQ(requests[0].pending, "rest");
  front->stop();
  pump();
}

}  // namespace
}  // namespace mnigs::websocket
