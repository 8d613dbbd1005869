// The HTTP front end on a real loopback socket: limits, status codes,
// keep-alive, concurrency, timeouts, and the admin check with tokens.
#include "auth/password.hpp"
#include "rpc/http_server.hpp"
#include "test_util.hpp"

#include <boost/asio/write.hpp>
#include <gtest/gtest.h>
#include <httplib.h>
#include <json/reader.h>

#include <arpa/inet.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <thread>

namespace mnigs {
namespace {

const std::string kToken(64, 'a');

class HttpServerTest : public ::testing::Test {
 protected:
  void start(Json::Value overrides = Json::Value(Json::objectValue)) {
    // A client writing into a connection the server closed must see EPIPE,
    // not die of SIGPIPE (as mnigsd and mnigs-cli ignore it too).
    ::signal(SIGPIPE, SIG_IGN);
    Schema schema;
    declare_core_keys(schema);
    Json::Value values = defaults(schema);
    values["daemon"]["webuiDir"] = "";
    for (const auto& section : overrides.getMemberNames())
      for (const auto& key : overrides[section].getMemberNames())
        values[section][key] = overrides[section][key];
    config_ = std::make_unique<ConfigHolder>(std::make_shared<const Config>("", values));
    registry_.add("ping", Access::mesh, [](const Json::Value&, const CallInfo& c, Responder r) {
      r.result(c.remote_address);
    });
    registry_.add("secret", Access::admin,
                  [](const Json::Value&, const CallInfo&, Responder r) { r.result("ok"); });
    auth_ = std::make_unique<WebAuth>(
        *config_, password_path(auth_dir_.path()),
        [](std::string_view token) { return token == kToken; }, log_);
    server_ = std::make_unique<HttpServer>(
        io_, *config_, dispatcher_,
        [](std::string_view bearer) {
          return bearer == kToken ? Caller::Token::valid : Caller::Token::invalid;
        },
        log_, auth_.get());
    server_->listen({boost::asio::ip::make_address("127.0.0.1"), 0});
    auto name = server_->listening().at(0);
    port_ = std::stoi(name.substr(name.rfind(':') + 1));
    thread_ = std::thread([this] { io_.run(); });
  }

  void TearDown() override {
    if (server_) boost::asio::post(io_, [this] { server_->stop(); });
    work_.reset();
    io_.stop();
    if (thread_.joinable()) thread_.join();
  }

  httplib::Result post(const std::string& body, httplib::Headers headers = {},
                       const char* type = "application/json") {
    httplib::Client c("127.0.0.1", port_);
    c.set_read_timeout(5, 0);
    return c.Post("/jsonrpc", headers, body, type);
  }

  static Json::Value parse(const std::string& s) {
    Json::Value v;
    std::string errs;
    std::unique_ptr<Json::CharReader> r(Json::CharReaderBuilder().newCharReader());
    r->parse(s.data(), s.data() + s.size(), &v, &errs);
    return v;
  }

  static std::string call(const char* method) {
    return std::string(R"({"jsonrpc":"2.0","id":1,"method":")") + method + "\"}";
  }

  test::RecordingLogger log_;
  boost::asio::io_context io_;
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_{
      io_.get_executor()};
  std::unique_ptr<ConfigHolder> config_;
  test::TempDir auth_dir_;
  std::unique_ptr<WebAuth> auth_;
  MethodRegistry registry_;
  Dispatcher dispatcher_{registry_};
  std::unique_ptr<HttpServer> server_;
  std::thread thread_;
  int port_ = 0;
};

TEST_F(HttpServerTest, AnswersJsonRpcAndReportsCaller) {
  start();
  auto res = post(call("ping"));
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->get_header_value("Content-Type"), "application/json");
  EXPECT_EQ(parse(res->body)["result"], "127.0.0.1");
}

TEST_F(HttpServerTest, OversizedBodyIs413AndServerGoesOn) {
  start(parse(R"({"daemon":{"rpcMaxBodyBytes":2048}})"));
  auto res = post(std::string(4096, ' ') + call("ping"));
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 413);
  EXPECT_NE(parse(res->body)["error"]["message"].asString().find("rpcMaxBodyBytes"),
            std::string::npos);
  auto ok = post(call("ping"));
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200);
}

TEST_F(HttpServerTest, OversizedHeadersAre431) {
  start();
  auto res = post(call("ping"), {{"X-Filler", std::string(16 * 1024, 'x')}});
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 431);
}

TEST_F(HttpServerTest, WrongPathMethodAndContentType) {
  start();
  httplib::Client c("127.0.0.1", port_);
  auto get = c.Get("/jsonrpc");
  ASSERT_TRUE(get);
  EXPECT_EQ(get->status, 405);
  auto missing = c.Post("/other", call("ping"), "application/json");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 405);
  auto page = c.Get("/nothing-here.html");
  ASSERT_TRUE(page);
  EXPECT_EQ(page->status, 404);
  auto form = post(call("ping"), {}, "text/plain");
  ASSERT_TRUE(form);
  EXPECT_EQ(form->status, 415);
}

// A page on another site can POST a typeless body (fetch with mode
// "no-cors" and a Blob, or a beacon) without the browser asking first: it
// cannot read the answer, but a mesh method would still act (a new session
// replacing the visitor's own). Without the JSON type nothing is done.
TEST_F(HttpServerTest, APostWithoutContentTypeIs415AndNothingIsCalled) {
  std::atomic<int> calls = 0;
  registry_.add("count", Access::mesh, [&calls](const Json::Value&, const CallInfo&, Responder r) {
    r.result(++calls);
  });
  start();
  boost::asio::io_context io;
  boost::asio::ip::tcp::socket socket(io);
  socket.connect({boost::asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port_)});
  const std::string body = call("count");
  const std::string request = "POST /jsonrpc HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                              "Origin: http://elsewhere.example\r\nConnection: close\r\n"
                              "Content-Length: " +
                              std::to_string(body.size()) + "\r\n\r\n" + body;
  boost::asio::write(socket, boost::asio::buffer(request));
  std::string answer;
  boost::system::error_code ec;
  char buf[4096];
  for (int i = 0; i < 64 && !ec; ++i) {  // bounded: the answer is small
    const auto n = socket.read_some(boost::asio::buffer(buf), ec);
    answer.append(buf, n);
  }
  EXPECT_TRUE(answer.starts_with("HTTP/1.1 415 ")) << answer;
  EXPECT_NE(answer.find("Content-Type: application/json"), std::string::npos);
  EXPECT_EQ(calls, 0);
  // The same with the type is answered.
  auto ok = post(call("count"));
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200);
  EXPECT_EQ(calls, 1);
}

TEST_F(HttpServerTest, MalformedJsonGetsParseErrorOver200) {
  start();
  auto res = post("{\"jsonrpc\":");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(parse(res->body)["error"]["code"], rpc_error::parse_error);
}

TEST_F(HttpServerTest, KeepAliveReusesOneConnection) {
  start();
  httplib::Client c("127.0.0.1", port_);
  c.set_keep_alive(true);
  for (int i = 0; i < 5; ++i) {
    auto res = c.Post("/jsonrpc", call("ping"), "application/json");
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 200);
  }
  EXPECT_EQ(server_->connections(), 1u);
}

TEST_F(HttpServerTest, ManyConcurrentClients) {
  start();
  constexpr int kClients = 32, kCalls = 20;
  std::atomic<int> ok{0};
  std::vector<std::thread> clients;
  for (int i = 0; i < kClients; ++i)
    clients.emplace_back([&] {
      httplib::Client c("127.0.0.1", port_);
      c.set_keep_alive(true);
      c.set_read_timeout(10, 0);
      for (int j = 0; j < kCalls; ++j) {
        auto res = c.Post("/jsonrpc", call("ping"), "application/json");
        if (res && res->status == 200 && parse(res->body).isMember("result")) ++ok;
      }
    });
  for (auto& t : clients) t.join();
  EXPECT_EQ(ok.load(), kClients * kCalls);
}

TEST_F(HttpServerTest, ConnectionsBeyondTheCapGet503) {
  start(parse(R"({"daemon":{"rpcMaxClients":1}})"));
  httplib::Client first("127.0.0.1", port_);
  first.set_keep_alive(true);
  ASSERT_TRUE(first.Post("/jsonrpc", call("ping"), "application/json"));
  auto second = post(call("ping"));
  ASSERT_TRUE(second);
  EXPECT_EQ(second->status, 503);
}

TEST_F(HttpServerTest, IdleClientIsDisconnectedAfterTimeout) {
  start(parse(R"({"daemon":{"rpcTimeout":1}})"));
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port_));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  const char partial[] = "POST /jsonrpc HTTP/1.1\r\nHost: x\r\n";  // and then nothing
  ASSERT_GT(::write(fd, partial, sizeof partial - 1), 0);
  timeval tv{10, 0};  // bounded: the server must close long before this
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  char buf[256];
  ssize_t n = ::read(fd, buf, sizeof buf);
  EXPECT_EQ(n, 0) << "the server did not close a stalled connection";
  ::close(fd);
}

TEST_F(HttpServerTest, AdminNeedsNetworkOrToken) {
  start(parse(R"({"daemon":{"authorizedNetworks":["192.0.2.0/24"]}})"));
  auto refused = post(call("secret"));
  ASSERT_TRUE(refused);
  EXPECT_EQ(parse(refused->body)["error"]["code"], rpc_error::unauthorized);
  auto wrong = post(call("secret"), {{"Authorization", "Bearer " + std::string(64, 'b')}});
  EXPECT_EQ(parse(wrong->body)["error"]["code"], rpc_error::unauthorized);
  auto good = post(call("secret"), {{"Authorization", "Bearer " + kToken}});
  EXPECT_EQ(parse(good->body)["result"], "ok");
  // Mesh methods answer without a token.
  EXPECT_TRUE(parse(post(call("ping"))->body).isMember("result"));
}

TEST_F(HttpServerTest, RebindingHostNameLosesNetworkBasedAdmin) {
  // A page on evil.example whose name was made to resolve to 127.0.0.1:
  // Origin and Host agree, but name no address of ours.
  std::atomic<bool> page = false;
  registry_.add("who", Access::mesh, [&page](const Json::Value&, const CallInfo& c, Responder r) {
    page = c.cross_origin;
    r.result(true);
  });
  start();
  const std::string host = "evil.example:" + std::to_string(port_);
  auto res = post(call("secret"), {{"Host", host}, {"Origin", "http://" + host}});
  ASSERT_TRUE(res);
  EXPECT_EQ(parse(res->body)["error"]["code"], rpc_error::unauthorized);
  // To the mesh methods it is a page, which may not replace a session.
  post(call("who"), {{"Host", host}, {"Origin", "http://" + host}});
  EXPECT_TRUE(page);
  post(call("who"), {{"Host", "127.0.0.1:" + std::to_string(port_)}});
  EXPECT_FALSE(page);
  auto local = post(call("secret"), {{"Host", "localhost:" + std::to_string(port_)}});
  EXPECT_EQ(parse(local->body)["result"], "ok");
}

TEST_F(HttpServerTest, ForeignOriginLosesNetworkBasedAdmin) {
  start();  // loopback is authorized
  auto same = post(call("secret"), {{"Origin", "http://127.0.0.1:" + std::to_string(port_)}});
  EXPECT_EQ(parse(same->body)["result"], "ok");
  auto foreign = post(call("secret"), {{"Origin", "http://evil.example"}});
  EXPECT_EQ(parse(foreign->body)["error"]["code"], rpc_error::unauthorized);
  // Nor with the token: a page's site may read what it is answered.
  auto with_token = post(call("secret"), {{"Origin", "http://evil.example"},
                                          {"Authorization", "Bearer " + kToken}});
  EXPECT_EQ(parse(with_token->body)["error"]["code"], rpc_error::unauthorized);
  EXPECT_NE(parse(with_token->body)["error"]["message"].asString().find("another origin"),
            std::string::npos);
}

// The tether page on a phone, served by a laptop, calls the gateway's mesh
// methods: the browser asks first (a preflight), then may read the answer.
TEST_F(HttpServerTest, PagesOfOtherOriginsReachMeshMethodsOnly) {
  std::atomic<bool> cross = false;
  registry_.add("who", Access::mesh, [&cross](const Json::Value&, const CallInfo& c, Responder r) {
    cross = c.cross_origin;
    r.result(c.admin);
  });
  start();  // loopback is authorized
  const std::string page = "http://192.168.7.1:8090";
  httplib::Client c("127.0.0.1", port_);
  auto pre = c.Options("/jsonrpc", {{"Origin", page},
                                    {"Access-Control-Request-Method", "POST"},
                                    {"Access-Control-Request-Headers", "content-type"}});
  ASSERT_TRUE(pre);
  EXPECT_EQ(pre->status, 204);
  EXPECT_EQ(pre->get_header_value("Access-Control-Allow-Origin"), page);
  EXPECT_EQ(pre->get_header_value("Access-Control-Allow-Methods"), "POST");
  EXPECT_EQ(pre->get_header_value("Access-Control-Allow-Headers"), "Content-Type");
  EXPECT_FALSE(pre->has_header("Access-Control-Allow-Credentials"));
  // The admin token may not be sent from there.
  auto token = c.Options("/jsonrpc", {{"Origin", page},
                                      {"Access-Control-Request-Method", "POST"},
                                      {"Access-Control-Request-Headers",
                                       "content-type, authorization"}});
  ASSERT_TRUE(token);
  EXPECT_EQ(token->status, 403);
  EXPECT_FALSE(token->has_header("Access-Control-Allow-Origin"));

  auto mesh = post(call("who"), {{"Origin", page}});
  ASSERT_TRUE(mesh);
  EXPECT_EQ(mesh->get_header_value("Access-Control-Allow-Origin"), page);
  EXPECT_EQ(parse(mesh->body)["result"], false);  // not admin, though from loopback
  EXPECT_TRUE(cross);
  auto admin = post(call("secret"), {{"Origin", page}});
  EXPECT_EQ(parse(admin->body)["error"]["code"], rpc_error::unauthorized);
  // The same origin needs no CORS and keeps its rights.
  auto same = post(call("who"), {{"Origin", "http://127.0.0.1:" + std::to_string(port_)}});
  EXPECT_FALSE(same->has_header("Access-Control-Allow-Origin"));
  EXPECT_EQ(parse(same->body)["result"], true);
  EXPECT_FALSE(cross);
}

// Only pages served from an address of daemon.rpcCorsOrigins: not a site
// on the Internet, not a name (any site has one), not with the list empty.
TEST_F(HttpServerTest, PagesFromElsewhereCannotReadAnswers) {
  start();
  httplib::Client c("127.0.0.1", port_);
  for (const char* page : {"http://203.0.113.9", "http://evil.example", "null",
                           "http://192.168.7.1.evil.example", "http://[fe80::1%25eth0]"}) {
    SCOPED_TRACE(page);
    auto pre = c.Options("/jsonrpc", {{"Origin", page}, {"Access-Control-Request-Method", "POST"}});
    ASSERT_TRUE(pre);
    EXPECT_EQ(pre->status, 403);
    EXPECT_NE(pre->body.find("daemon.rpcCorsOrigins"), std::string::npos);
    auto res = post(call("ping"), {{"Origin", page}});
    ASSERT_TRUE(res);
    EXPECT_FALSE(res->has_header("Access-Control-Allow-Origin"));
  }
}

TEST_F(HttpServerTest, AnEmptyRpcCorsOriginsAnswersNoPageOfAnotherOrigin) {
  start(parse(R"({"daemon":{"rpcCorsOrigins":[]}})"));
  httplib::Client c("127.0.0.1", port_);
  auto pre = c.Options("/jsonrpc", {{"Origin", "http://192.168.7.1:8090"},
                                    {"Access-Control-Request-Method", "POST"}});
  ASSERT_TRUE(pre);
  EXPECT_EQ(pre->status, 403);
}

TEST_F(HttpServerTest, ProxiedRequestLosesNetworkBasedAdmin) {
  // nginx on this host relays a stranger's request from loopback, often with
  // Host rewritten to the address it calls.
  start();
  const std::string host = "127.0.0.1:" + std::to_string(port_);
  for (const char* header : {"Forwarded", "X-Forwarded-For", "X-Forwarded-Host", "X-Real-IP",
                             "Via"}) {
    SCOPED_TRACE(header);
    auto res = post(call("secret"), {{"Host", host}, {header, "198.51.100.7"}});
    ASSERT_TRUE(res);
    EXPECT_EQ(parse(res->body)["error"]["code"], rpc_error::unauthorized);
    auto with_token = post(call("secret"), {{"Host", host},
                                            {header, "198.51.100.7"},
                                            {"Authorization", "Bearer " + kToken}});
    EXPECT_EQ(parse(with_token->body)["result"], "ok");
  }
  EXPECT_EQ(parse(post(call("secret"), {{"Host", host}})->body)["result"], "ok");
}

// A connection from `from` (an address of 127.0.0.0/8) that stays open.
struct HeldConnection {
  HeldConnection(boost::asio::io_context& io, const char* from, int port) : socket(io) {
    socket.open(boost::asio::ip::tcp::v4());
    socket.bind({boost::asio::ip::make_address(from), 0});
    socket.connect({boost::asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)});
  }
  // Sends a ping and reads the answer until the server closes or it is whole.
  std::string exchange() {
    const std::string body = R"({"jsonrpc":"2.0","id":1,"method":"ping"})";
    const std::string request = "POST /jsonrpc HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                                "Content-Type: application/json\r\nConnection: close\r\n"
                                "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" +
                                body;
    boost::system::error_code ec;
    boost::asio::write(socket, boost::asio::buffer(request), ec);
    std::string out;
    char buf[4096];
    for (int i = 0; i < 64; ++i) {  // bounded: the answer is small
      const auto n = socket.read_some(boost::asio::buffer(buf), ec);
      out.append(buf, n);
      if (ec) break;
    }
    return out;
  }
  // Sends part of a request's headers, as a client that dribbles them.
  void send_partial() {
    boost::asio::write(socket, boost::asio::buffer(std::string("POST /jsonrpc HTTP/1.1\r\n")));
  }
  // True once the server has closed the connection (within 10 s).
  bool closed_by_server() {
    timeval tv{10, 0};
    ::setsockopt(socket.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    char buf[256];
    return ::recv(socket.native_handle(), buf, sizeof buf, 0) <= 0 && errno != EAGAIN;
  }
  boost::asio::ip::tcp::socket socket;
};

TEST_F(HttpServerTest, OneSourceCannotTakeEveryConnection) {
  start(parse(R"({"daemon":{"rpcMaxClients":100,"rpcMaxClientsPerSource":2}})"));
  boost::asio::io_context client_io;
  HeldConnection a(client_io, "127.0.0.2", port_), b(client_io, "127.0.0.2", port_);
  HeldConnection third(client_io, "127.0.0.2", port_);
  const auto refused = third.exchange();
  EXPECT_NE(refused.find("503"), std::string::npos) << refused;
  EXPECT_NE(refused.find("daemon.rpcMaxClientsPerSource"), std::string::npos) << refused;
  // Another address, and the local CLI's, still get in.
  HeldConnection other(client_io, "127.0.0.3", port_);
  EXPECT_NE(other.exchange().find("200 OK"), std::string::npos);
  HeldConnection local(client_io, "127.0.0.1", port_);
  EXPECT_NE(local.exchange().find("200 OK"), std::string::npos);
}

TEST_F(HttpServerTest, TheLastConnectionsAreKeptForTheLocalCli) {
  // 8 connections: 2 (a quarter) kept for 127.0.0.1 and ::1.
  start(parse(R"({"daemon":{"rpcMaxClients":8,"rpcMaxClientsPerSource":100,"rpcEvictAfter":0}})"));
  boost::asio::io_context client_io;
  std::vector<std::unique_ptr<HeldConnection>> held;
  for (int i = 0; i < 6; ++i)
    held.push_back(std::make_unique<HeldConnection>(client_io, "127.0.0.2", port_));
  HeldConnection seventh(client_io, "127.0.0.4", port_);
  const auto refused = seventh.exchange();
  EXPECT_NE(refused.find("503"), std::string::npos) << refused;
  EXPECT_NE(refused.find("daemon.rpcMaxClients"), std::string::npos) << refused;
  HeldConnection local(client_io, "127.0.0.1", port_);
  EXPECT_NE(local.exchange().find("200 OK"), std::string::npos);
}

// Every place taken by mesh clients that send nothing, or their headers a
// byte at a time: a newcomer from a source holding fewer gets the place of
// the connection that has waited longest (daemon.rpcEvictAfter at least) in
// the source holding the most, instead of a 503 for the whole
// daemon.rpcTimeout. Sources holding as many cannot take places from it.
TEST_F(HttpServerTest, ASourceWithFewerConnectionsGetsThePlaceOfOneThatSendsNothing) {
  start(parse(R"({"daemon":{"rpcMaxClients":8,"rpcMaxClientsPerSource":100,"rpcEvictAfter":1}})"));
  boost::asio::io_context client_io;
  HeldConnection dribbling(client_io, "127.0.0.2", port_);
  dribbling.send_partial();
  ASSERT_TRUE(test::eventually([&] { return server_->connections() == 1; }));
  // 6 places for the mesh (2 kept for loopback): 4 from .2, 2 from .3.
  std::vector<std::unique_ptr<HeldConnection>> silent;
  for (const char* from : {"127.0.0.2", "127.0.0.2", "127.0.0.2", "127.0.0.3", "127.0.0.3"})
    silent.push_back(std::make_unique<HeldConnection>(client_io, from, port_));
  ASSERT_TRUE(test::eventually([&] { return server_->connections() == 6; }));
  std::this_thread::sleep_for(std::chrono::milliseconds(1200));  // past rpcEvictAfter

  HeldConnection greedy(client_io, "127.0.0.2", port_);
  const std::string refused = greedy.exchange();
  EXPECT_NE(refused.find("503"), std::string::npos) << refused;
  EXPECT_EQ(server_->evicted(), 0u);

  HeldConnection newcomer(client_io, "127.0.0.4", port_);
  EXPECT_NE(newcomer.exchange().find("200 OK"), std::string::npos);
  EXPECT_TRUE(dribbling.closed_by_server()) << "the longest-waiting connection is still open";
  EXPECT_EQ(server_->evicted(), 1u);
}

// A refused connection takes no place, even while it stays open: a stream
// of them cannot use up the places kept for the local CLI.
TEST_F(HttpServerTest, RefusedConnectionsTakeNoPlace) {
  start(parse(R"({"daemon":{"rpcMaxClients":8,"rpcMaxClientsPerSource":2,"rpcEvictAfter":0}})"));
  boost::asio::io_context client_io;
  HeldConnection a(client_io, "127.0.0.2", port_), b(client_io, "127.0.0.2", port_);
  ASSERT_TRUE(test::eventually([&] { return server_->connections() == 2; }));
  std::vector<std::unique_ptr<HeldConnection>> refused;  // open, never read
  for (int i = 0; i < 30; ++i)
    refused.push_back(std::make_unique<HeldConnection>(client_io, "127.0.0.2", port_));
  EXPECT_EQ(server_->connections(), 2u);
  HeldConnection other(client_io, "127.0.0.3", port_);
  EXPECT_NE(other.exchange().find("200 OK"), std::string::npos);
  HeldConnection local(client_io, "127.0.0.1", port_);
  EXPECT_NE(local.exchange().find("200 OK"), std::string::npos);
}

TEST_F(HttpServerTest, WebFilesComeOnlyFromInsideTheWebUiDirectory) {
  namespace fs = std::filesystem;
  test::TempDir dir;
  const fs::path webui = fs::path(dir.path()) / "webui", data = webui / "data", outside = fs::path(dir.path()) / "x";
  fs::create_directories(data);
  fs::create_directories(outside);
  std::ofstream(webui / "index.html") << "<p>ui</p>";
  std::ofstream(outside / "secret.txt") << "secret";
  std::ofstream(data / "admin.token") << "token";
  fs::create_symlink(outside / "secret.txt", webui / "link.txt");
  fs::create_directory_symlink(outside, webui / "linkdir");
  Json::Value overrides(Json::objectValue);
  overrides["daemon"]["webuiDir"] = webui.string();
  overrides["daemon"]["dataDir"] = data.string();
  start(overrides);
  httplib::Client c("127.0.0.1", port_);
  auto ok = c.Get("/");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200);
  EXPECT_EQ(ok->body, "<p>ui</p>");
  EXPECT_NE(ok->get_header_value("Content-Security-Policy").find("frame-ancestors 'self'"),
            std::string::npos);
  EXPECT_EQ(ok->get_header_value("X-Frame-Options"), "SAMEORIGIN");
  for (const char* path : {"/link.txt", "/linkdir/secret.txt", "/data/admin.token", "/data/",
                           "/../x/secret.txt", "/linkdir", "/missing.html"}) {
    auto res = c.Get(path);
    ASSERT_TRUE(res) << path;
    EXPECT_EQ(res->status, 404) << path;
    EXPECT_EQ(res->body.find("secret"), std::string::npos) << path;
    EXPECT_EQ(res->body.find("token\""), std::string::npos) << path;
  }
}

TEST_F(HttpServerTest, WebUiMayBeFramedBySameHostPagesOnlyWhenConfigured) {
  test::TempDir dir;
  std::ofstream(std::filesystem::path(dir.path()) / "index.html") << "<p>ui</p>";
  Json::Value overrides(Json::objectValue);
  overrides["daemon"]["webuiDir"] = dir.path();
  overrides["daemon"]["webuiFrameSameHost"] = true;
  start(overrides);
  httplib::Client c("127.0.0.1", port_);
  auto csp_for = [&](const std::string& host) {
    auto res = c.Get("/", {{"Host", host}});
    EXPECT_TRUE(res && res->status == 200) << host;
    return res ? std::pair(res->get_header_value("Content-Security-Policy"),
                           res->get_header_value("X-Frame-Options"))
               : std::pair(std::string(), std::string());
  };
  // LuCI on the router's ports 80 and 443 frames the UI on :65533.
  auto [csp, xfo] = csp_for("192.168.1.1:65533");
  EXPECT_NE(csp.find("frame-ancestors 'self' http://192.168.1.1 https://192.168.1.1"),
            std::string::npos)
      << csp;
  EXPECT_EQ(xfo, "");
  EXPECT_NE(csp_for("router.lan").first.find("http://router.lan https://router.lan"),
            std::string::npos);
  // Nothing that is not a plain name or IPv4 address reaches the header.
  for (const char* host : {"[fd00::1]:65533", "evil.com;script-src *", "a b", "x:", "x:99999a",
                           "*"}) {
    auto [bad_csp, bad_xfo] = csp_for(host);
    EXPECT_TRUE(bad_csp.ends_with("frame-ancestors 'self'")) << host << ": " << bad_csp;
    EXPECT_EQ(bad_xfo, "SAMEORIGIN") << host;
  }
}

// ------------------------------------------------------------ web UI logins

TEST_F(HttpServerTest, APasswordLoginMakesAdminOnlyWithItsCsrfHeader) {
  write_password_hash(password_path(auth_dir_.path()), hash_password("the right one"));
  start(parse(R"({"daemon":{"authorizedNetworks":[]}})"));
  httplib::Client c("127.0.0.1", port_);
  auto refused = post(call("secret"));
  ASSERT_TRUE(refused);
  EXPECT_EQ(parse(refused->body)["error"]["data"]["login"], "required");
  EXPECT_NE(parse(refused->body)["error"]["message"].asString().find("POST /login"),
            std::string::npos);

  auto head = c.Head("/session");
  ASSERT_TRUE(head);
  EXPECT_EQ(head->status, 200);
  EXPECT_TRUE(head->body.empty());
  auto before = c.Get("/session");
  ASSERT_TRUE(before);
  EXPECT_EQ(before->status, 200);
  EXPECT_EQ(before->get_header_value("Cache-Control"), "no-store");
  auto state = parse(before->body);
  EXPECT_EQ(state["admin"], false);
  EXPECT_EQ(state["login"], "none");
  EXPECT_EQ(state["via"], "none");
  EXPECT_EQ(state["passwordSet"], true);
  EXPECT_FALSE(state.isMember("csrf"));
  EXPECT_GT(state["time"].asInt64(), 1'700'000'000);

  auto wrong = c.Post("/login", R"({"password":"the wrong one"})", "application/json");
  ASSERT_TRUE(wrong);
  EXPECT_EQ(wrong->status, 401);
  EXPECT_EQ(parse(wrong->body)["error"], "wrong password");
  EXPECT_FALSE(wrong->has_header("Set-Cookie"));

  auto login = c.Post("/login", R"({"password":"the right one"})", "application/json");
  ASSERT_TRUE(login);
  ASSERT_EQ(login->status, 200) << login->body;
  const std::string set_cookie = login->get_header_value("Set-Cookie");
  EXPECT_TRUE(set_cookie.starts_with("mnigs_session=")) << set_cookie;
  for (const char* part : {"; HttpOnly", "; SameSite=Strict", "; Path=/", "; Max-Age=43200"})
    EXPECT_NE(set_cookie.find(part), std::string::npos) << part << " in " << set_cookie;
  const std::string cookie = set_cookie.substr(0, set_cookie.find(';'));
  const std::string csrf = parse(login->body)["csrf"].asString();
  ASSERT_EQ(csrf.size(), 64u);
  EXPECT_EQ(login->body.find(cookie.substr(cookie.find('=') + 1)), std::string::npos);

  auto admin = post(call("secret"), {{"Cookie", cookie}, {"X-Mnigs-CSRF", csrf}});
  EXPECT_EQ(parse(admin->body)["result"], "ok");
  // The cookie alone, as another site's form or script would send it.
  auto no_csrf = post(call("secret"), {{"Cookie", cookie}});
  EXPECT_EQ(parse(no_csrf->body)["error"]["data"]["login"], "csrf");
  auto bad_csrf =
      post(call("secret"), {{"Cookie", cookie}, {"X-Mnigs-CSRF", std::string(64, '0')}});
  EXPECT_EQ(parse(bad_csrf->body)["error"]["data"]["login"], "csrf");
  // The cookie and header from a page of another origin: still no admin.
  auto foreign = post(call("secret"), {{"Cookie", cookie},
                                       {"X-Mnigs-CSRF", csrf},
                                       {"Origin", "http://192.168.1.9"}});
  EXPECT_EQ(parse(foreign->body)["error"]["code"], rpc_error::unauthorized);

  auto after = c.Get("/session", {{"Cookie", cookie}});
  state = parse(after->body);
  EXPECT_EQ(state["admin"], true);
  EXPECT_EQ(state["via"], "login");
  EXPECT_EQ(state["login"], "valid");
  EXPECT_EQ(state["csrf"], csrf);
  EXPECT_EQ(state["expiresIn"], 3600);

  auto logout_no_csrf = c.Post("/logout", {{"Cookie", cookie}}, "", "application/json");
  EXPECT_EQ(logout_no_csrf->status, 403);
  auto logout =
      c.Post("/logout", {{"Cookie", cookie}, {"X-Mnigs-CSRF", csrf}}, "", "application/json");
  EXPECT_EQ(logout->status, 200);
  EXPECT_NE(logout->get_header_value("Set-Cookie").find("Max-Age=0"), std::string::npos);
  auto ended = post(call("secret"), {{"Cookie", cookie}, {"X-Mnigs-CSRF", csrf}});
  EXPECT_EQ(parse(ended->body)["error"]["data"]["login"], "expired");
  EXPECT_EQ(parse(c.Get("/session", {{"Cookie", cookie}})->body)["login"], "expired");
}

TEST_F(HttpServerTest, TheAdminTokenLogsInToo) {
  start(parse(R"({"daemon":{"authorizedNetworks":[]}})"));
  httplib::Client c("127.0.0.1", port_);
  EXPECT_EQ(parse(c.Get("/session")->body)["passwordSet"], false);
  auto no_password = c.Post("/login", R"({"password":"anything"})", "application/json");
  EXPECT_EQ(no_password->status, 409);
  auto login = c.Post("/login", "{\"token\":\"" + kToken + "\"}", "application/json");
  ASSERT_EQ(login->status, 200) << login->body;
  const std::string set_cookie = login->get_header_value("Set-Cookie");
  auto admin = post(call("secret"), {{"Cookie", set_cookie.substr(0, set_cookie.find(';'))},
                                     {"X-Mnigs-CSRF", parse(login->body)["csrf"].asString()}});
  EXPECT_EQ(parse(admin->body)["result"], "ok");
}

TEST_F(HttpServerTest, LoginRefusesOtherOriginsAndBadBodies) {
  write_password_hash(password_path(auth_dir_.path()), hash_password("the right one"));
  start(parse(R"({"daemon":{"authorizedNetworks":[]}})"));
  httplib::Client c("127.0.0.1", port_);
  const std::string right = R"({"password":"the right one"})";
  auto foreign = c.Post("/login", {{"Origin", "http://192.168.1.9"}}, right, "application/json");
  EXPECT_EQ(foreign->status, 403);
  EXPECT_FALSE(foreign->has_header("Set-Cookie"));
  EXPECT_FALSE(foreign->has_header("Access-Control-Allow-Origin"));
  auto foreign_session = c.Get("/session", {{"Origin", "http://192.168.1.9"}});
  EXPECT_EQ(foreign_session->status, 403);
  EXPECT_FALSE(foreign_session->has_header("Access-Control-Allow-Origin"));
  // A form post (no preflight) is not JSON.
  EXPECT_EQ(c.Post("/login", "password=the+right+one", "application/x-www-form-urlencoded")->status,
            415);
  for (const std::string& body :
       {std::string("not json"), std::string("[]"), std::string(R"({"password":5})"),
        std::string(R"({"password":"a","token":"b"})"), std::string("{}"),
        R"({"password":")" + std::string(2000, 'a') + "\"}"}) {
    auto res = c.Post("/login", body, "application/json");
    ASSERT_TRUE(res) << body;
    EXPECT_EQ(res->status, 400) << body;
    EXPECT_FALSE(res->has_header("Set-Cookie")) << body;
  }
  EXPECT_EQ(c.Get("/login")->status, 405);
  EXPECT_EQ(c.Options("/login")->status, 405);
  EXPECT_EQ(c.Post("/session", "{}", "application/json")->status, 405);
  EXPECT_EQ(auth_->sessions(), 0u);
  EXPECT_EQ(auth_->counters().failures.load(), 0u);  // none of these was a guess
}

TEST_F(HttpServerTest, GuessingGets429WithRetryAfter) {
  write_password_hash(password_path(auth_dir_.path()), hash_password("the right one"));
  start(parse(R"({"daemon":{"authorizedNetworks":[]}})"));
  httplib::Client c("127.0.0.1", port_);
  for (unsigned i = 0; i < WebAuth::kFreeFailures; ++i)
    ASSERT_EQ(c.Post("/login", R"({"password":"guess"})", "application/json")->status, 401);
  auto locked = c.Post("/login", R"({"password":"the right one"})", "application/json");
  ASSERT_TRUE(locked);
  EXPECT_EQ(locked->status, 429);
  EXPECT_EQ(locked->get_header_value("Retry-After"), "1");
  EXPECT_EQ(parse(locked->body)["retryAfter"], 1);
  EXPECT_FALSE(locked->has_header("Set-Cookie"));
}

}  // namespace
}  // namespace mnigs
