// tunnel/httptunnel with a WStunnel client, real gateway: what a user of
// WStunnel relies on is that its own clients (wstuncli) work against an
// mnigs gateway unchanged. The client here is written from WStunnel's wire
// format with Boost.Beast, apart from the plugin's code, so that a mistake
// in one is not hidden by the same mistake in the other:
//
// - the client opens `GET /_tunnel` as a WebSocket with its token as the
//   whole value of Origin; a token shorter than 16 characters gets 400;
// - each request comes as one binary message: its id as 4 lowercase hex
//   digits, then the whole HTTP/1.1 request; the answer goes back as one
//   binary message, the same id then the whole HTTP/1.1 response.
//
//   client ---- gw ---- tuncli       link 1: client–gw, link 2: gw–tuncli
//
// The front listens on gw's address on both links; curl asks from client,
// the WStunnel client connects from tuncli.
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "harness/system_test.hpp"
#include "harness/wait.hpp"
#include "httptunnel_lab.hpp"

namespace mnigs::test {
namespace {

namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = boost::asio::ip::tcp;

constexpr int kFrontPort = 8080;
const std::string kToken = "0123456789abcdef-wstunnel";

// WStunnel's side of the tunnel, one message at a time; every operation is
// bounded (10 s) and runs on the caller's thread.
class WstunClient {
 public:
  // Connects from namespace `ns` to host:port and asks for /_tunnel with
  // `origin` as the Origin header. Returns the answer to the upgrade (101
  // when it is taken).
  websocket::response_type connect(const std::string& ns, const std::string& host, int port,
                                   const std::string& origin) {
    // The socket is made by a thread in `ns`, so it lives there.
    run_in_netns_thread(ns, [&] {
      ws_.next_layer().connect(tcp::endpoint(boost::asio::ip::make_address(host), port));
    });
    ws_.set_option(websocket::stream_base::decorator(
        [origin](websocket::request_type& req) { req.set(beast::http::field::origin, origin); }));
    websocket::response_type res;
    bool done = false;
    ws_.async_handshake(res, host + ":" + std::to_string(port), "/_tunnel",
                        [&](beast::error_code) { done = true; });
    run(done);
    ws_.binary(true);
    return res;
  }

  // The next message, or nullopt when none came (within 10 s) or it was
  // not binary.
  std::optional<std::string> read() {
    beast::flat_buffer buffer;
    beast::error_code ec;
    bool done = false;
    ws_.async_read(buffer, [&](beast::error_code e, std::size_t) {
      ec = e;
      done = true;
    });
    if (!run(done) || ec || !ws_.got_binary()) return std::nullopt;
    return beast::buffers_to_string(buffer.data());
  }

  // Sends one binary message; false if it did not go within 10 s.
  bool write(const std::string& message) {
    beast::error_code ec;
    bool done = false;
    ws_.async_write(boost::asio::buffer(message), [&](beast::error_code e, std::size_t) {
      ec = e;
      done = true;
    });
    return run(done) && !ec;
  }

 private:
  bool run(const bool& done) {
    io_.restart();
    for (int i = 0; i < 100 && !done; ++i) io_.run_one_for(std::chrono::milliseconds(100));
    return done;
  }

  boost::asio::io_context io_;  // declared first: outlives the stream
  websocket::stream<tcp::socket> ws_{io_};
};

bool lowercase_hex(const std::string& s) {
  return s.find_first_not_of("0123456789abcdef") == std::string::npos;
}

class HttpTunnelWstunnel : public SystemTest {
 protected:
  void SetUp() override {
    SystemTest::SetUp();
    if (HasFatalFailure()) return;
    topology_.node("client").node("gw").node("tuncli");
    topology_.link("client", "gw").link("gw", "tuncli");
    topology_.up();
    const std::string port = ":" + std::to_string(kFrontPort);
    gw_ = std::make_unique<Node>(
        topology_, "gw",
        NodeOptions().only_discovery("static").set(
            "httptunnel", "listen",
            "[" + yaml_quote(topology_.address("gw", "client") + port) + ", " +
                yaml_quote(topology_.address("gw", "tuncli") + port) + "]"));
    gw_->launch();
  }

  websocket::response_type connect(WstunClient& c, const std::string& token) {
    return c.connect(topology_.ns("tuncli"), topology_.address("gw", "tuncli"), kFrontPort, token);
  }
  std::string front(const std::string& path) const {
    return "http://" + topology_.address("gw", "client") + ":" + std::to_string(kFrontPort) + path;
  }
  unsigned tunnels() const { return httptunnel::status(*gw_)["gateway"]["tunnels"].asUInt(); }

  Topology topology_;  // declared first: destroyed after everything in it
  std::unique_ptr<Node> gw_;
};

// Requests by token reach the WStunnel client framed with their id, and
// the answer it writes under that id is what the HTTP client gets.
TEST_F(HttpTunnelWstunnel, AWstunnelClientServesRequestsByToken) {
  WstunClient tuncli;
  const websocket::response_type upgrade = connect(tuncli, kToken);
  ASSERT_EQ(upgrade.result_int(), 101u) << upgrade;
  ASSERT_TRUE(wait_until([&] { return tunnels() == 1; }, 50, 100ms)) << gw_->log_tail();

  std::vector<std::string> ids;
  // A GET by /_token/ and a POST by X-Token, each answered by the client.
  const std::vector<std::vector<std::string>> asks = {
      {"-H", "X-Test: one", front("/_token/" + kToken + "/some/page?q=1")},
      {"-H", "X-Token: " + kToken, "-d", "payload=7", front("/form")}};
  const std::vector<std::string> lines = {"GET /some/page?q=1 HTTP/1.1\r\n",
                                          "POST /form HTTP/1.1\r\n"};
  for (std::size_t i = 0; i < asks.size(); ++i) {
    std::string answer;
    std::jthread curl([&] { answer = httptunnel::curl(topology_, "client", asks[i]); });
    const std::optional<std::string> message = tuncli.read();
    ASSERT_TRUE(message) << "no request came to the WStunnel client" << gw_->log_tail();
    ASSERT_GE(message->size(), 4u);
    const std::string id = message->substr(0, 4);
    const std::string request = message->substr(4);
    EXPECT_TRUE(lowercase_hex(id)) << id;
    EXPECT_TRUE(request.starts_with(lines[i])) << request;
    if (i == 0) {
      EXPECT_NE(request.find("\r\nX-Test: one\r\n"), std::string::npos) << request;
      EXPECT_TRUE(request.ends_with("\r\n\r\n")) << request;
    } else {
      EXPECT_NE(request.find("\r\nContent-Length: 9\r\n"), std::string::npos) << request;
      EXPECT_TRUE(request.ends_with("\r\n\r\npayload=7")) << request;
    }
    ids.push_back(id);
    const std::string body = "from the WStunnel client, request " + std::to_string(i);
    ASSERT_TRUE(tuncli.write(id +
                             "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                             "Content-Length: " +
                             std::to_string(body.size()) + "\r\n\r\n" + body));
    curl.join();
    EXPECT_EQ(answer, body + "\n200") << gw_->log_tail();
  }
  EXPECT_NE(ids[0], ids[1]);
}

// A token shorter than 16 characters is refused at the upgrade, with
// WStunnel's words, and holds nothing.
TEST_F(HttpTunnelWstunnel, AShortTokenIsRefusedAtTheUpgrade) {
  WstunClient tuncli;
  const websocket::response_type upgrade = connect(tuncli, "0123456789abcde");
  EXPECT_EQ(upgrade.result_int(), 400u) << upgrade;
  EXPECT_EQ(upgrade.body(), "Rendez-vous token is too short (must be 16 chars)\n");
  EXPECT_EQ(tunnels(), 0u);
  EXPECT_EQ(httptunnel::status(*gw_)["gateway"]["upgradesRefused"].asUInt(), 1u);
}

}  // namespace
}  // namespace mnigs::test
