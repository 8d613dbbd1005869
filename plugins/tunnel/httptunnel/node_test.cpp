// A node's link over loopback, against the fake gateway and backends of
// node_test_support.hpp (the kept connections: node_keep_test.cpp).
// Covered: named services and token mode (Host, X-Host and its regexp),
// large bodies through small windows, an upgrade, a service down, an
// unknown service, a refused link, a dropped link and a silent one (ping
// timeout).
#include "node_test_support.hpp"

namespace mnigs::httptunnel::node_test {
namespace {

TEST(BackoffTest, DoublesWithJitterUpToTheMaximumAndResetsAfterAStableLink) {
  Backoff b({1000ms, 60000ms, 30000ms});
  EXPECT_EQ(b.next(0.5), 1000ms);
  EXPECT_EQ(b.next(0.5), 2000ms);
  EXPECT_EQ(b.next(0.0), 3000ms);   // 4 s - 25 %
  EXPECT_EQ(b.next(1.0), 10000ms);  // 8 s + 25 %
  for (int i = 0; i < 10; ++i) b.next(0.5);
  EXPECT_EQ(b.next(0.5), 60000ms);
  b.link_lasted(29s);
  EXPECT_EQ(b.next(0.5), 60000ms);
  b.link_lasted(30s);
  EXPECT_EQ(b.next(0.5), 1000ms);
  b.to_max();
  EXPECT_EQ(b.next(0.5), 60000ms);
}

TEST_F(NodeTest, NamedServiceKeepsHostAndPathAndTheAnswerComesBackUnchanged) {
  auto& backend = http_backend([](httplib::Server& s) {
    s.Get("/hello", [](const httplib::Request& req, httplib::Response& res) {
      res.set_header("X-Answer", "yes");
      res.set_content("path=" + req.path + "?x=" + req.get_param_value("x") +
                          " host=" + req.get_header_value("Host") +
                          " connection=" + req.get_header_value("Connection"),
                      "text/plain");
    });
  });
  auto& gw = gateway(FakeGateway::Mode::accept);
  auto o = options(gw.port());
  o.services = {{"hello", backend.port()}};
  start(o);
  auto ex = exchange(gw, "hello", get("/hello?x=1", "hello.tim.example.net"));
  EXPECT_EQ(ex->status, 200);
  EXPECT_TRUE(ex->got_end);
  EXPECT_EQ(ex->code, h2_error::no_error);
  auto r = parse_response(ex->received);
  EXPECT_EQ(r.result_int(), 200);
  EXPECT_EQ(r["X-Answer"], "yes");
  // No Connection field: HTTP/1.1's default, keep-alive.
  EXPECT_EQ(r.body(), "path=/hello?x=1 host=hello.tim.example.net connection=");
  // What the gateway was told.
  ASSERT_FALSE(gw.hellos.empty());
  EXPECT_FALSE(gw.hellos[0].refusal);
  EXPECT_EQ(gw.hellos[0].hello.key, "id:tim");
  EXPECT_EQ(gw.hellos[0].hello.secret, kSecret);
  EXPECT_EQ(gw.hellos[0].hello.services, (std::vector<std::string>{"hello", "down"}));
  EXPECT_EQ(gw.targets[0], link::kPath);
  const auto st = on_loop([&] { return node_->status(); });
  EXPECT_EQ(st.state, "up");
  EXPECT_EQ(st.gateway, "127.0.0.1:" + std::to_string(gw.port()));
  EXPECT_EQ(st.streams_served, 1u);
  EXPECT_GT(st.bytes_to_services, 0u);
  EXPECT_GT(st.bytes_from_services, 0u);
  EXPECT_TRUE(wait_until([&] { return node_->status().streams_open == 0; }));
}

TEST_F(NodeTest, TokenModeSetsHostToTheBackendAndHonoursXHostOnlyWhenItMatches) {
  auto echo_host = [](httplib::Server& s) {
    s.Get("/where", [](const httplib::Request& req, httplib::Response& res) {
      res.set_content(
          "host=" + req.get_header_value("Host") + " x-host=" + req.get_header_value("X-Host"),
          "text/plain");
    });
  };
  auto& main = http_backend(echo_host);
  auto& other = http_backend(echo_host);
  auto& gw = gateway(FakeGateway::Mode::accept);
  auto o = options(gw.port());
  o.hello = {"token:" + kToken, kSecret, {}};
  o.server = "http://127.0.0.1:" + std::to_string(main.port()) + "/";
  o.regexp = std::regex("http://localhost:[0-9]+");
  start(o);
  const std::string token(link::kTokenAuthority);

  auto ex = exchange(gw, token, get("/where", "gateway.example.net"));
  auto r = parse_response(ex->received);
  EXPECT_EQ(r.body(), "host=127.0.0.1:" + std::to_string(main.port()) + " x-host=");

  // A name is resolved; X-Host does not reach the backend.
  const std::string x_host = "http://localhost:" + std::to_string(other.port());
  ex = exchange(gw, token, get("/where", "gateway.example.net", "X-Host: " + x_host + "\r\n"));
  r = parse_response(ex->received);
  EXPECT_EQ(r.body(), "host=localhost:" + std::to_string(other.port()) + " x-host=");

  ex = exchange(gw, token,
                get("/where", "gateway.example.net", "X-Host: http://example.com:80\r\n"));
  r = parse_response(ex->received);
  EXPECT_EQ(r.result_int(), 403);
  EXPECT_EQ(r.body(),
            "X-Host header 'http://example.com:80' does not match regexp in wstunnel cli\n");
  EXPECT_EQ(r[http::field::content_type], "text/plain; charset=utf-8");
  EXPECT_TRUE(ex->got_end);
}

TEST_F(NodeTest, LargeBodiesPassUnchangedThroughSmallWindows) {
  constexpr std::size_t kSize = 4 << 20;
  std::string upload(kSize, '\0'), download(kSize, '\0');
  std::mt19937 rng(11);
  for (auto& c : upload) c = static_cast<char>(rng());
  for (auto& c : download) c = static_cast<char>(rng());
  std::atomic<bool> upload_ok{false};
  auto& backend = http_backend([&](httplib::Server& s) {
    s.Post("/up", [&](const httplib::Request& req, httplib::Response& res) {
      upload_ok = req.body == upload;
      res.set_content(download, "application/octet-stream");
    });
  });
  MuxLimits small;
  small.stream_window = 16 * 1024;
  small.send_buffer = 32 * 1024;
  auto& gw = gateway(FakeGateway::Mode::accept, small);
  auto o = options(gw.port());
  o.services = {{"hello", backend.port()}};
  o.limits = small;
  start(o);
  const std::string head =
      "POST /up HTTP/1.1\r\nHost: hello.tim\r\nContent-Length: " + std::to_string(kSize) +
      "\r\n\r\n";
  auto ex = exchange(gw, "hello", head + upload);
  EXPECT_TRUE(upload_ok);
  auto r = parse_response(ex->received);
  EXPECT_EQ(r.result_int(), 200);
  EXPECT_EQ(r.body().size(), kSize);
  EXPECT_TRUE(r.body() == download);
}

// A service that takes no bytes holds its stream's window and no more: the
// gateway's sender stops, and other streams go on.
TEST_F(NodeTest, AServiceThatDoesNotReadStopsItsSenderOnly) {
  net::io_context idle;
  tcp::acceptor stalled(idle, {net::ip::make_address("127.0.0.1"), 0});  // never accepts
  auto& backend = http_backend([](httplib::Server& s) {
    s.Get("/", [](const httplib::Request&, httplib::Response& res) {
      res.set_content("hi", "text/plain");
    });
  });
  MuxLimits small;
  small.stream_window = 16 * 1024;
  small.send_buffer = 32 * 1024;
  auto& gw = gateway(FakeGateway::Mode::accept, small);
  auto o = options(gw.port());
  o.services = {{"hello", backend.port()}, {"down", stalled.local_endpoint().port()}};
  o.limits = small;
  start(o);
  ASSERT_TRUE(wait_until([&] { return gw.ready() && node_->status().state == "up"; }));
  constexpr std::size_t kSize = 32 << 20;
  const std::string head =
      "POST / HTTP/1.1\r\nHost: down.tim\r\nContent-Length: " + std::to_string(kSize) + "\r\n\r\n";
  auto big = on_loop([&] { return gw.open("down", head + std::string(kSize, 'x')); });
  ASSERT_TRUE(big);
  // Whatever the kernel's buffers take, most of it stays with the sender.
  std::size_t left = 0;
  for (int i = 0; i < 25; ++i) {
    std::this_thread::sleep_for(20ms);
    left = on_loop([&] { return big->to_send.size(); });
  }
  EXPECT_GT(left, kSize / 2) << left;
  auto ex = exchange(gw, "hello", get("/", "hello.tim"));
  EXPECT_EQ(parse_response(ex->received).body(), "hi");
  EXPECT_FALSE(on_loop([&] { return big->closed; }));
}

TEST_F(NodeTest, AnUpgradedConnectionCarriesBytesBothWays) {
  auto& echo = this->echo();
  auto& gw = gateway(FakeGateway::Mode::accept);
  auto o = options(gw.port());
  o.services = {{"hello", echo.port()}};
  start(o);
  ASSERT_TRUE(wait_until([&] { return gw.ready() && node_->status().state == "up"; }));
  const std::string head = get("/ws", "hello.tim", "Connection: Upgrade\r\nUpgrade: echo\r\n");
  auto ex = on_loop([&] { return gw.open("hello", head, true); });
  ASSERT_TRUE(ex);
  ASSERT_TRUE(wait_until([&] { return ex->received.find("\r\n\r\n") != std::string::npos; }));
  EXPECT_TRUE(ex->received.starts_with("HTTP/1.1 101 Switching Protocols\r\n"));
  on_loop([&] {
    ex->received.clear();
    ex->send("ping over the tunnel");
  });
  EXPECT_TRUE(wait_until([&] { return ex->received == "ping over the tunnel"; }));
  // The request went with its Upgrade, not turned into Connection: close.
  const std::string seen = on_loop([&] { return echo.head; });
  EXPECT_NE(seen.find("Upgrade: echo\r\n"), std::string::npos) << seen;
  EXPECT_EQ(seen.find("close"), std::string::npos) << seen;
  // Ending our side is passed on; the service's end comes back.
  on_loop([&] {
    ex->end_when_sent = true;
    ex->send("");
  });
  EXPECT_TRUE(wait_until([&] { return ex->closed; }));
  EXPECT_TRUE(ex->got_end);
}

TEST_F(NodeTest, AServiceThatIsDownIs503WithRetryAfter) {
  auto& gw = gateway(FakeGateway::Mode::accept);
  auto o = options(gw.port());
  o.services = {{"down", closed_port()}};
  start(o);
  auto ex = exchange(gw, "down", get("/", "down.tim"));
  EXPECT_TRUE(ex->received.starts_with("HTTP/1.1 503 ")) << ex->received;
  auto r = parse_response(ex->received);
  EXPECT_EQ(r[http::field::retry_after], "10");
  EXPECT_EQ(r.body(), "Service unavailable: the service down is offline\n");
  // Where it runs and why it failed are for the node's log, not the client.
  EXPECT_EQ(r.body().find(std::to_string(o.services["down"])), std::string::npos) << r.body();
  EXPECT_TRUE(ex->got_end);
}

// httptunnel.healthCheck: each service is asked for the path every
// interval; one that fails is answered 503 at once, without being asked,
// until it passes again; the token backend is checked too.
TEST_F(NodeTest, AServiceThatFailsItsHealthCheckIs503UntilItPassesAgain) {
  std::atomic<bool> healthy{false};
  std::atomic<int> pages{0}, checks{0};
  auto& backend = http_backend([&](httplib::Server& s) {
    s.Get("/health", [&](const httplib::Request& req, httplib::Response& res) {
      ++checks;
      res.status = healthy ? 204 : 500;
      EXPECT_TRUE(req.get_header_value("Host").starts_with("127.0.0.1:"));
    });
    s.Get("/page", [&](const httplib::Request&, httplib::Response& res) {
      ++pages;
      res.set_content("page", "text/plain");
    });
  });
  auto& gw = gateway(FakeGateway::Mode::accept);
  auto o = options(gw.port());
  o.services = {{"hello", backend.port()}, {"down", closed_port()}};
  auto health = on_loop([&] {
    return std::make_shared<HealthChecks>(
        io_, HealthChecks::Options{"/health", 50ms, 2s},
        std::map<std::string, HealthChecks::Target>{
            {"hello", {"127.0.0.1", backend.port(), "127.0.0.1:" +
                       std::to_string(backend.port()), ""}},
            {"down", {"127.0.0.1", closed_port(), "x", ""}}});
  });
  on_loop([&] { health->start(); });
  o.health = health;
  start(o);
  ASSERT_TRUE(wait_until([&] { return !health->failing("hello").empty(); }));
  EXPECT_EQ(on_loop([&] { return health->failing("hello"); }), "answered 500");
  EXPECT_TRUE(wait_until([&] { return health->failing("down").starts_with("connect: "); }))
      << on_loop([&] { return health->failing("down"); });
  auto ex = exchange(gw, "hello", get("/page", "hello.tim"));
  auto r = parse_response(ex->received);
  EXPECT_EQ(r.result_int(), 503) << ex->received;
  EXPECT_EQ(r[http::field::retry_after], "10");
  EXPECT_EQ(r.body(), "Service unavailable: the service hello fails its health check\n");
  EXPECT_EQ(pages, 0);  // not asked

  healthy = true;
  ASSERT_TRUE(wait_until([&] { return health->failing("hello").empty(); }));
  ex = exchange(gw, "hello", get("/page", "hello.tim"));
  EXPECT_EQ(parse_response(ex->received).body(), "page");
  EXPECT_EQ(pages, 1);
  const Json::Value st = on_loop([&] { return health->status(); });
  EXPECT_TRUE(st["hello"]["healthy"].asBool()) << st.toStyledString();
  EXPECT_FALSE(st["down"]["healthy"].asBool()) << st.toStyledString();
  EXPECT_GE(st["hello"]["checks"].asInt(), 2);
  const int before = checks;
  on_loop([&] { health->stop(); });
  std::this_thread::sleep_for(200ms);
  EXPECT_LE(checks - before, 1);  // at most the one under way when stopped
}

TEST_F(NodeTest, AnUnknownServiceIs404InTheStream) {
  auto& gw = gateway(FakeGateway::Mode::accept);
  start(options(gw.port()));
  auto ex = exchange(gw, "printer", get("/", "printer.tim"));
  EXPECT_EQ(ex->status, 200);
  auto r = parse_response(ex->received);
  EXPECT_EQ(r.result_int(), 404);
  EXPECT_EQ(r.body(), "No service printer on this node\n");
  EXPECT_EQ(r[http::field::connection], "close");
}

// An id link serves only its named services, a token link only token
// requests: a gateway reaches nothing else through either.
TEST_F(NodeTest, ALinkServesOnlyWhatItsKeyNames) {
  std::atomic<int> hits{0};
  auto& main = http_backend([&hits](httplib::Server& s) {
    s.Get("/", [&hits](const httplib::Request&, httplib::Response& res) {
      ++hits;
      res.set_content("backend", "text/plain");
    });
  });
  auto& gw = gateway(FakeGateway::Mode::accept);
  auto o = options(gw.port());  // id:tim
  o.server = "http://127.0.0.1:" + std::to_string(main.port());
  start(o);
  auto ex = exchange(gw, std::string(link::kTokenAuthority), get("/", "x"));
  EXPECT_EQ(parse_response(ex->received).result_int(), 404) << ex->received;
  EXPECT_EQ(hits.load(), 0);
}

TEST_F(NodeTest, ARefusalIsShownAndRetriedLater) {
  auto& gw = gateway(FakeGateway::Mode::refuse);
  start(options(gw.port()));
  EXPECT_TRUE(wait_until([&] { return node_->status().state.starts_with("refused"); }));
  const auto st = on_loop([&] { return node_->status(); });
  EXPECT_EQ(st.last_error, "refused: 403 another secret holds this id");
  EXPECT_TRUE(wait_until([&] { return gw.accepted >= 3; }));
  EXPECT_GE(on_loop([&] { return node_->status().reconnects; }), 2u);
}

// What a hostile gateway writes in its refusal reaches logs and status
// without its control characters (a terminal's escape sequences).
TEST_F(NodeTest, ARefusalLosesItsControlCharacters) {
  auto& gw = gateway(FakeGateway::Mode::refuse);
  on_loop([&] { gw.refusal = "no\x1b[2J\x07 way\r\nsecond line"; });
  start(options(gw.port()));
  EXPECT_TRUE(wait_until([&] { return node_->status().state.starts_with("refused"); }));
  EXPECT_EQ(on_loop([&] { return node_->status().last_error; }), "refused: 403 no?[2J? way");
}

TEST_F(NodeTest, ADroppedLinkIsReconnectedAndServesAgain) {
  auto& backend = http_backend([](httplib::Server& s) {
    s.Get("/", [](const httplib::Request&, httplib::Response& res) {
      res.set_content("hi", "text/plain");
    });
  });
  auto& gw = gateway(FakeGateway::Mode::accept);
  auto o = options(gw.port());
  o.services = {{"hello", backend.port()}};
  start(o);
  auto ex = exchange(gw, "hello", get("/", "hello.tim"));
  EXPECT_EQ(parse_response(ex->received).body(), "hi");
  on_loop([&] { gw.drop(); });
  ASSERT_TRUE(wait_until([&] { return gw.accepted >= 2 && gw.ready(); }));
  ex = exchange(gw, "hello", get("/", "hello.tim"));
  EXPECT_EQ(parse_response(ex->received).body(), "hi");
  const auto st = on_loop([&] { return node_->status(); });
  EXPECT_EQ(st.reconnects, 1u);
  EXPECT_NE(st.last_error.find("the gateway"), std::string::npos) << st.last_error;
  EXPECT_EQ(st.streams_served, 2u);
}

TEST_F(NodeTest, ASilentGatewayIsDroppedAfterThePingTimeout) {
  auto& gw = gateway(FakeGateway::Mode::silent);
  auto o = options(gw.port());
  o.ping_timeout = 3s;
  start(o);
  ASSERT_TRUE(wait_until([&] { return node_->status().state == "up"; }));
  EXPECT_TRUE(wait_until([&] { return gw.accepted >= 2; }, 15s));
  const auto st = on_loop([&] { return node_->status(); });
  EXPECT_GE(st.reconnects, 1u);
  EXPECT_NE(st.last_error.find("ping timeout"), std::string::npos) << st.last_error;
}

TEST_F(NodeTest, StopEndsEverythingAndNoHandlerRunsAfter) {
  auto& echo = this->echo();
  auto& gw = gateway(FakeGateway::Mode::accept);
  auto o = options(gw.port());
  o.services = {{"hello", echo.port()}};
  start(o);
  ASSERT_TRUE(wait_until([&] { return gw.ready() && node_->status().state == "up"; }));
  auto ex = on_loop([&] {
    return gw.open("hello", get("/ws", "hello.tim", "Connection: Upgrade\r\nUpgrade: echo\r\n"),
                   true);
  });
  ASSERT_TRUE(
      wait_until([&] { return node_->status().streams_open == 1 && !ex->received.empty(); }));
  on_loop([&] { node_->stop(); });
  const auto st = on_loop([&] { return node_->status(); });
  EXPECT_EQ(st.state, "down: stopped");
  EXPECT_EQ(st.streams_open, 0u);
  // The gateway sees the link go.
  EXPECT_TRUE(wait_until([&] { return !gw.ready(); }));
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(on_loop([&] { return gw.accepted; }), 1);
}

}  // namespace
}  // namespace mnigs::httptunnel::node_test
