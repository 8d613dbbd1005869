// The connections a node keeps to its services (NodeLink::Stream and
// ServicePool together), against scripted Asio backends: reuse, answers
// followed to where their framing ends, when a connection is not kept, a
// connection the service closed, and requests sent again only when they
// may be.
#include "node_test_support.hpp"

namespace mnigs::httptunnel::node_test {
namespace {

std::string ok(const std::string& body, const std::string& extra = "") {
  return "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(body.size()) + "\r\n" + extra +
         "\r\n" + body;
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

}  // namespace
}  // namespace mnigs::httptunnel::node_test
