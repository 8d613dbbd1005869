// The daemon's JSON-RPC client against small servers on loopback: what it
// sends, results, errors, silence, refusals, garbage and replies too big.
#include "peer/rpc_client.hpp"

#include <fake_peer.hpp>
#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <json/reader.h>
#include <json/writer.h>

#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace mnigs {
namespace {

using namespace std::chrono_literals;
namespace net = boost::asio;
namespace http = boost::beast::http;
using tcp = net::ip::tcp;
using testing::Answer;
using testing::FakePeer;
using testing::http_reply;
using testing::Request;
using testing::result_body;

// Runs one call to completion on the test's io_context, counting how often
// `done` runs and timing it.
struct Outcome {
  int calls = 0;
  RpcReply reply;
  std::chrono::milliseconds took{0};
};

Outcome call(const std::string& host, std::uint16_t port, std::chrono::milliseconds timeout,
             const RpcCallOptions& options, const std::string& method = "nodeInfo",
             Json::Value params = Json::Value()) {
  net::io_context io;
  Outcome out;
  auto start = std::chrono::steady_clock::now();
  call_rpc(io.get_executor(), host, port, method, std::move(params), timeout, options,
           [&](RpcReply r) {
             ++out.calls;
             out.reply = std::move(r);
             out.took = std::chrono::duration_cast<std::chrono::milliseconds>(
                 std::chrono::steady_clock::now() - start);
           });
  EXPECT_EQ(out.calls, 0) << "done ran inside call_rpc()";
  // run() returns once the call holds no more work: a second `done` would
  // have run by then.
  io.run_for(timeout + 10s);
  return out;
}

Outcome call(const std::string& host, std::uint16_t port, std::chrono::milliseconds timeout,
             const std::string& method = "nodeInfo", Json::Value params = Json::Value()) {
  return call(host, port, timeout, RpcCallOptions{}, method, std::move(params));
}

const char* kind(RpcReply::Kind k) {
  switch (k) {
    case RpcReply::Kind::result: return "result";
    case RpcReply::Kind::error: return "error";
    default: return "transport";
  }
}

TEST(RpcClient, SendsAJsonRpcPostAndDeliversTheResultOnItsExecutor) {
  Json::Value info(Json::objectValue);
  info["gateway"] = true;
  info["name"] = "roof";
  FakePeer peer("127.0.0.1",
                [&](const Request&) { return Answer{http_reply(200, result_body(info))}; });
  ASSERT_EQ(peer.error(), "");

  net::io_context io;
  auto strand = net::make_strand(io);
  int calls = 0;
  bool on_strand = false;
  RpcReply got;
  Json::Value params(Json::objectValue);
  params["suite"] = "static.forwarding.free";
  call_rpc(strand, "127.0.0.1", peer.port(), "requestConnection", params, 5s, [&](RpcReply r) {
    ++calls;
    on_strand = strand.running_in_this_thread();
    got = std::move(r);
  });
  io.run_for(15s);
  ASSERT_EQ(calls, 1);
  EXPECT_TRUE(on_strand) << "done ran outside the executor it was given";
  EXPECT_EQ(got.kind, RpcReply::Kind::result) << got.message;
  EXPECT_TRUE(got.ok());
  EXPECT_EQ(got.result, info);

  auto requests = peer.requests();
  ASSERT_EQ(requests.size(), 1u);
  const Request& req = requests[0];
  EXPECT_EQ(req.method(), http::verb::post);
  EXPECT_EQ(req.target(), "/jsonrpc");
  EXPECT_EQ(req[http::field::host], "127.0.0.1");
  EXPECT_EQ(req[http::field::content_type], "application/json");
  Json::Value body;
  std::string errs;
  std::unique_ptr<Json::CharReader> reader(Json::CharReaderBuilder().newCharReader());
  ASSERT_TRUE(reader->parse(req.body().data(), req.body().data() + req.body().size(), &body,
                            &errs))
      << req.body();
  EXPECT_EQ(body["jsonrpc"], "2.0");
  EXPECT_EQ(body["method"], "requestConnection");
  EXPECT_EQ(body["params"], params);
  EXPECT_TRUE(body.isMember("id"));
}

TEST(RpcClient, NoParamsSendsNoParamsMember) {
  FakePeer peer("127.0.0.1",
                [](const Request&) { return Answer{http_reply(200, result_body(1))}; });
  ASSERT_EQ(peer.error(), "");
  auto out = call("127.0.0.1", peer.port(), 5s, "nodeInfo");
  EXPECT_EQ(out.calls, 1);
  EXPECT_TRUE(out.reply.ok()) << out.reply.message;
  auto requests = peer.requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].body().find("params"), std::string::npos) << requests[0].body();
}

TEST(RpcClient, AJsonRpcErrorIsThePeersVerdict) {
  FakePeer peer("127.0.0.1", [](const Request&) {
    return Answer{http_reply(
        200, R"({"jsonrpc":"2.0","id":1,"error":{"code":-32001,"message":"gateway full"}})")};
  });
  ASSERT_EQ(peer.error(), "");
  auto out = call("127.0.0.1", peer.port(), 5s, "requestConnection");
  EXPECT_EQ(out.calls, 1);
  EXPECT_EQ(out.reply.kind, RpcReply::Kind::error)
      << kind(out.reply.kind) << " " << out.reply.message;
  EXPECT_FALSE(out.reply.ok());
  EXPECT_EQ(out.reply.code, -32001);
  EXPECT_EQ(out.reply.message, "gateway full");
}

TEST(RpcClient, ASilentPeerTimesOutAtTheDeadlineOnce) {
  FakePeer peer("127.0.0.1", [](const Request&) { return Answer{"", {}, false}; });
  ASSERT_EQ(peer.error(), "");
  auto out = call("127.0.0.1", peer.port(), 300ms);
  EXPECT_EQ(out.calls, 1);
  EXPECT_EQ(out.reply.kind, RpcReply::Kind::transport);
  EXPECT_NE(out.reply.message.find("no answer in time"), std::string::npos) << out.reply.message;
  EXPECT_NE(out.reply.message.find("nodeInfo on 127.0.0.1:" + std::to_string(peer.port())),
            std::string::npos)
      << out.reply.message;
  EXPECT_GE(out.took, 290ms);
  EXPECT_LT(out.took, 2300ms);
  EXPECT_EQ(peer.requests().size(), 1u) << "the request did reach the peer";
}

// The deadline covers the whole call, not each read: a peer that answers a
// byte at a time cannot hold the caller past it.
TEST(RpcClient, ATricklingPeerCannotStretchTheDeadline) {
  FakePeer peer("127.0.0.1", [](const Request&) {
    return Answer{http_reply(200, result_body(std::string(200, 'x'))), 20ms};
  });
  ASSERT_EQ(peer.error(), "");
  auto out = call("127.0.0.1", peer.port(), 400ms);
  EXPECT_EQ(out.calls, 1);
  EXPECT_EQ(out.reply.kind, RpcReply::Kind::transport) << kind(out.reply.kind);
  EXPECT_NE(out.reply.message.find("no answer in time"), std::string::npos) << out.reply.message;
  EXPECT_GE(out.took, 390ms);
  EXPECT_LT(out.took, 2400ms);
}

TEST(RpcClient, ConnectionRefusedIsATransportError) {
  std::uint16_t port;
  {
    net::io_context io;
    tcp::acceptor a(io, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0));
    port = a.local_endpoint().port();
  }  // closed: nothing listens there now
  auto out = call("127.0.0.1", port, 5s);
  EXPECT_EQ(out.calls, 1);
  EXPECT_EQ(out.reply.kind, RpcReply::Kind::transport);
  EXPECT_NE(out.reply.message.find("nodeInfo on 127.0.0.1:" + std::to_string(port)),
            std::string::npos)
      << out.reply.message;
  EXPECT_NE(out.reply.message.find("refused"), std::string::npos) << out.reply.message;
  EXPECT_LT(out.took, 4s) << "a refusal is reported at once, not at the deadline";
}

TEST(RpcClient, AHostNameIsRefusedWithoutAConnection) {
  auto out = call("localhost", 1, 5s);
  EXPECT_EQ(out.calls, 1);
  EXPECT_EQ(out.reply.kind, RpcReply::Kind::transport);
  EXPECT_EQ(out.reply.message, "\"localhost\" is not an IP address");
}

TEST(RpcClient, RepliesThatAreNotJsonRpcAreTransportErrors) {
  struct Case {
    const char* what;
    std::string reply;
    const char* says;
  };
  auto cut = [](const std::string& s) { return s.substr(0, s.size() - 5); };
  const std::vector<Case> cases = {
      {"not JSON", http_reply(200, "<html>hello</html>"), "answered HTTP 200"},
      {"JSON but not an object", http_reply(200, "[1,2]"), "answered HTTP 200"},
      {"an object without result or error", http_reply(200, R"({"jsonrpc":"2.0","id":1})"),
       "answered HTTP 200"},
      {"busy before JSON-RPC", http_reply(503, "busy"), "answered HTTP 503"},
      {"a result with a failure status", http_reply(500, result_body(true)), "answered HTTP 500"},
      {"not HTTP", "SSH-2.0-OpenSSH_9.6\r\n", "failed"},
      {"cut short", cut(http_reply(200, result_body(true))), "failed"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);
    FakePeer peer("127.0.0.1", [&](const Request&) { return Answer{c.reply}; });
    ASSERT_EQ(peer.error(), "");
    auto out = call("127.0.0.1", peer.port(), 5s);
    EXPECT_EQ(out.calls, 1);
    EXPECT_EQ(out.reply.kind, RpcReply::Kind::transport) << kind(out.reply.kind);
    EXPECT_NE(out.reply.message.find(c.says), std::string::npos) << out.reply.message;
    EXPECT_LT(out.took, 4s) << "reported when it happened, not at the deadline";
  }
}

// By default the client reads at most 64 KiB of body (the daemon's calls to
// other nodes get answers of a few KiB) and Beast's default 8 KiB of header;
// past either it hangs up and reports, whether or not the size was
// announced. The peer writes each reply at once, so the header and the start
// of the body reach the client together.
TEST(RpcClient, RepliesTooBigAreRefused) {
  const std::string huge = result_body(std::string((64 << 10) + 16, 'x'));
  struct Case {
    const char* what;
    std::string reply;
  };
  const std::vector<Case> cases = {
      {"body over 64 KiB, Content-Length", http_reply(200, huge)},
      {"body over 64 KiB, read to the end",
       "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n" + huge},
      // Nothing is set aside for what a peer merely announces.
      {"a terabyte announced", "HTTP/1.1 200 OK\r\nContent-Length: 1000000000000\r\n\r\n{\"a\""},
      {"header over 8 KiB", http_reply(200, result_body(true),
                                       "X-Padding: " + std::string(16 << 10, 'p') + "\r\n")},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);
    FakePeer peer("127.0.0.1", [&](const Request&) { return Answer{c.reply}; });
    ASSERT_EQ(peer.error(), "");
    auto out = call("127.0.0.1", peer.port(), 10s);
    EXPECT_EQ(out.calls, 1);
    EXPECT_EQ(out.reply.kind, RpcReply::Kind::transport) << kind(out.reply.kind);
    EXPECT_NE(out.reply.message.find("limit"), std::string::npos) << out.reply.message;
    EXPECT_LT(out.took, 9s) << "refused at the limit, not at the deadline";
  }
}

// What jsoncpp would spend on a reply is bounded before it parses: a reply
// of a few KiB holding many values, or nested deep, is refused with a reason.
TEST(RpcClient, RepliesWithTooManyValuesOrTooDeepAreRefused) {
  std::string many = "[0";
  for (int i = 0; i < 5000; ++i) many += ",0";
  many += "]";
  const std::string deep = std::string(40, '[') + std::string(40, ']');
  for (const auto& [result, says] :
       std::vector<std::pair<std::string, std::string>>{{many, "more than 4096 values"},
                                                        {deep, "nested deeper than 16"}}) {
    SCOPED_TRACE(says);
    FakePeer peer("127.0.0.1", [&](const Request&) {
      return Answer{http_reply(200, R"({"jsonrpc":"2.0","id":1,"result":)" + result + "}")};
    });
    ASSERT_EQ(peer.error(), "");
    auto out = call("127.0.0.1", peer.port(), 5s);
    EXPECT_EQ(out.reply.kind, RpcReply::Kind::transport) << kind(out.reply.kind);
    EXPECT_NE(out.reply.message.find(says), std::string::npos) << out.reply.message;
  }
}

TEST(RpcClient, ALargeReplyUnderItsLimitIsReadWhole) {
  const std::string big(256 << 10, 'g');  // a long gateway list, say
  FakePeer peer("127.0.0.1", [&](const Request&) {
    return Answer{http_reply(200, result_body(big))};
  });
  ASSERT_EQ(peer.error(), "");
  RpcCallOptions options;
  options.max_reply_bytes = 1 << 20;
  auto out = call("127.0.0.1", peer.port(), 5s, options);
  EXPECT_EQ(out.calls, 1);
  ASSERT_TRUE(out.reply.ok()) << out.reply.message;
  EXPECT_EQ(out.reply.result.asString(), big);
}

TEST(RpcClient, SpeaksToIpv6Loopback) {
  FakePeer peer("::1", [](const Request&) { return Answer{http_reply(200, result_body("v6"))}; });
  if (!peer.error().empty()) GTEST_SKIP() << "no IPv6 loopback here: " << peer.error();
  auto out = call("::1", peer.port(), 5s);
  EXPECT_EQ(out.calls, 1);
  ASSERT_TRUE(out.reply.ok()) << out.reply.message;
  EXPECT_EQ(out.reply.result, "v6");
  auto requests = peer.requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0][http::field::host], "[::1]") << "RFC 7230: an IPv6 literal is bracketed";

  // Errors name the address the way it is written in a URL.
  std::uint16_t port;  // the peer above still listens: use a port nothing listens on
  {
    net::io_context io;
    tcp::acceptor a(io, tcp::endpoint(net::ip::make_address("::1"), 0));
    port = a.local_endpoint().port();
  }
  auto refused = call("::1", port, 5s);
  EXPECT_EQ(refused.reply.kind, RpcReply::Kind::transport);
  EXPECT_NE(refused.reply.message.find("nodeInfo on [::1]:" + std::to_string(port)),
            std::string::npos)
      << refused.reply.message;
}

}  // namespace
}  // namespace mnigs
