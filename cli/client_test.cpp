// mnigs-cli's JSON-RPC client against a canned HTTP server on loopback: what
// it sends (token, Host, the call), and how each kind of answer, or none,
// becomes the result its commands turn into an exit code.
#include "client.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/write.hpp>
#include <gtest/gtest.h>

#include <signal.h>

#include <cctype>
#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>

namespace mnigs::cli {
namespace {

namespace net = boost::asio;
using tcp = net::ip::tcp;

const std::string kToken(64, 'b');

// Answers one connection with `response` (the whole HTTP response) and keeps
// the request it read. With no response it reads and then keeps the
// connection open, silent, until the client gives up.
class CannedServer {
 public:
  explicit CannedServer(std::string response, const char* address = "127.0.0.1")
      : acceptor_(io_, tcp::endpoint(net::ip::make_address(address), 0)),
        response_(std::move(response)) {
    thread_ = std::thread([this] { serve(); });
  }
  ~CannedServer() {
    if (thread_.joinable()) thread_.join();
  }
  int port() const { return acceptor_.local_endpoint().port(); }
  // Valid once the client's call has returned.
  const std::string& request() const { return request_; }

 private:
  void serve() {
    boost::system::error_code ec;
    tcp::socket socket(io_);
    acceptor_.accept(socket, ec);
    if (ec) return;
    std::string data;
    auto head_end = net::read_until(socket, net::dynamic_buffer(data), "\r\n\r\n", ec);
    if (ec) return;
    std::size_t length = 0;
    const auto lower_head = lower(data.substr(0, head_end));
    auto at = lower_head.find("content-length:");
    if (at != std::string::npos) length = std::strtoul(lower_head.c_str() + at + 15, nullptr, 10);
    while (data.size() < head_end + length) {
      char buf[4096];
      auto n = socket.read_some(net::buffer(buf), ec);
      if (ec) break;
      data.append(buf, n);
    }
    request_ = data;
    if (response_.empty()) {
      // Silent: wait for the client to close.
      char buf[1];
      socket.read_some(net::buffer(buf), ec);
      return;
    }
    net::write(socket, net::buffer(response_), ec);
    socket.shutdown(tcp::socket::shutdown_both, ec);
  }

  static std::string lower(std::string s) {
    for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
  }

  net::io_context io_;
  tcp::acceptor acceptor_;
  std::string response_;
  std::string request_;
  std::thread thread_;
};

std::string http_response(const std::string& status, const std::string& body,
                          const std::string& type = "application/json") {
  return "HTTP/1.1 " + status + "\r\nContent-Type: " + type +
         "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

// A port nothing listens on: one the kernel gave out and took back.
int closed_port() {
  net::io_context io;
  tcp::acceptor a(io, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0));
  return a.local_endpoint().port();
}

class CliClient : public ::testing::Test {
 protected:
  void SetUp() override { ::signal(SIGPIPE, SIG_IGN); }  // as main() does
};

TEST_F(CliClient, SendsTheCallWithTheTokenAndReturnsTheResult) {
  CannedServer server(http_response("200 OK", R"({"jsonrpc":"2.0","id":1,"result":{"n":7}})"));
  Client client("127.0.0.1", server.port(), kToken);
  Json::Value params(Json::objectValue);
  params["section"] = "daemon";
  auto r = client.call("getConfig", params);
  ASSERT_EQ(r.status, CallStatus::ok) << r.message;
  EXPECT_EQ(r.result["n"].asInt(), 7);
  const auto& req = server.request();
  EXPECT_EQ(req.rfind("POST /jsonrpc HTTP/1.1\r\n", 0), 0u) << req;
  EXPECT_NE(req.find("\r\nAuthorization: Bearer " + kToken + "\r\n"), std::string::npos) << req;
  // The address and port it was given, as a browser sends them: what
  // mnigsd's check against DNS rebinding reads.
  EXPECT_NE(req.find("\r\nHost: 127.0.0.1:" + std::to_string(server.port()) + "\r\n"),
            std::string::npos)
      << req;
  EXPECT_NE(req.find("\r\nContent-Type: application/json\r\n"), std::string::npos) << req;
  EXPECT_NE(req.find(R"("method":"getConfig")"), std::string::npos) << req;
  EXPECT_NE(req.find(R"("params":{"section":"daemon"})"), std::string::npos) << req;
}

TEST_F(CliClient, WithoutATokenSendsNoAuthorization) {
  CannedServer server(http_response("200 OK", R"({"jsonrpc":"2.0","id":1,"result":null})"));
  Client client("127.0.0.1", server.port(), "");
  EXPECT_EQ(client.call("status").status, CallStatus::ok);
  EXPECT_EQ(server.request().find("Authorization"), std::string::npos) << server.request();
}

TEST_F(CliClient, ErrorKeepsCodeMessageAndData) {
  CannedServer server(http_response(
      "200 OK",
      R"({"jsonrpc":"2.0","id":1,"error":{"code":-32602,"message":"nothing changed",)"
      R"("data":["gateway.maxConnections must be an integer"]}})"));
  Client client("127.0.0.1", server.port(), kToken);
  auto r = client.call("setConfig");
  ASSERT_EQ(r.status, CallStatus::rpc_error) << r.message;
  EXPECT_EQ(r.error["code"].asInt(), -32602);
  EXPECT_EQ(r.error["message"].asString(), "nothing changed");
  ASSERT_EQ(r.error["data"].size(), 1u);
  EXPECT_EQ(r.error["data"][0].asString(), "gateway.maxConnections must be an integer");
}

TEST_F(CliClient, ErrorWithoutDataHasNone) {
  CannedServer server(http_response(
      "401 Unauthorized",
      R"({"jsonrpc":"2.0","id":1,"error":{"code":-32001,"message":"admin only"}})"));
  Client client("127.0.0.1", server.port(), "");
  auto r = client.call("listSessions");
  ASSERT_EQ(r.status, CallStatus::rpc_error) << r.message;
  EXPECT_EQ(r.error["message"].asString(), "admin only");
  EXPECT_FALSE(r.error.isMember("data"));
}

TEST_F(CliClient, NothingListeningIsNotRunning) {
  const int port = closed_port();
  Client client("127.0.0.1", port, kToken);
  auto r = client.call("status");
  EXPECT_EQ(r.status, CallStatus::not_running);
  EXPECT_EQ(r.message, "no mnigsd answers on 127.0.0.1:" + std::to_string(port));
}

TEST_F(CliClient, NameThatDoesNotResolveIsNotRunning) {
  Client client("no-such-host.invalid", 65533, "");
  auto r = client.call("status");
  EXPECT_EQ(r.status, CallStatus::not_running);
  EXPECT_EQ(r.message, "no mnigsd answers on no-such-host.invalid:65533");
}

TEST_F(CliClient, LocalhostIsResolvedAndSentAsTheHost) {
  // localhost may resolve to ::1 first; the client goes on to 127.0.0.1.
  CannedServer server(http_response("200 OK", R"({"jsonrpc":"2.0","id":1,"result":"up"})"));
  Client client("localhost", server.port(), kToken);
  auto r = client.call("status");
  ASSERT_EQ(r.status, CallStatus::ok) << r.message;
  EXPECT_EQ(r.result.asString(), "up");
  EXPECT_NE(server.request().find("\r\nHost: localhost:" + std::to_string(server.port()) + "\r\n"),
            std::string::npos)
      << server.request();
}

TEST_F(CliClient, AnswerThatIsNotJsonRpcIsATransportError) {
  CannedServer server(http_response("502 Bad Gateway", "<html>nope</html>", "text/html"));
  Client client("127.0.0.1", server.port(), "");
  auto r = client.call("status");
  EXPECT_EQ(r.status, CallStatus::transport_error);
  EXPECT_NE(r.message.find("answered HTTP 502 without a JSON-RPC response"), std::string::npos)
      << r.message;
}

TEST_F(CliClient, SilentServerIsATransportErrorWithinTheTimeout) {
  CannedServer server("");
  Client client("127.0.0.1", server.port(), "", /*timeout_seconds=*/1);
  const auto start = std::chrono::steady_clock::now();
  auto r = client.call("status");
  EXPECT_EQ(r.status, CallStatus::transport_error);
  EXPECT_NE(r.message.find("no answer in time"), std::string::npos) << r.message;
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
}

TEST_F(CliClient, LargeReplyIsRead) {
  // A big listing from one's own daemon is read whole: the client lifts the
  // 64 KiB cap the daemon puts on other nodes' replies.
  const std::string big(6 << 20, 'x');
  CannedServer server(http_response("200 OK", R"({"jsonrpc":"2.0","id":1,"result":")" + big +
                                                  R"("})"));
  Client client("127.0.0.1", server.port(), "");
  auto r = client.call("listNodes");
  ASSERT_EQ(r.status, CallStatus::ok) << r.message;
  EXPECT_EQ(r.result.asString().size(), big.size());
}

}  // namespace
}  // namespace mnigs::cli
