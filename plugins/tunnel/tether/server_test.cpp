// Unit tests of the laptop's web server on a loopback socket: the page is
// served with its policy, and the WebSocket is taken only from the page's
// own origin with the pairing code; every other device on the Wi-Fi, or a
// page of another site, is refused and nothing is handed on.
#include "server.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <future>
#include <thread>

#include "plugin_fakes.hpp"

namespace mnigs::tether {
namespace {

namespace net = boost::asio;
using tcp = net::ip::tcp;

TEST(Origin, OnlyThePagesOwnOriginByAddress) {
  const std::string host = "192.168.7.10:6354";
  const std::string same = "http://192.168.7.10:6354";
  EXPECT_EQ(origin_refusal(&same, &host), "");
  const std::string upper = "HTTP://192.168.7.10:6354";
  EXPECT_EQ(origin_refusal(&upper, &host), "");
  const std::string other = "http://evil.example";
  EXPECT_NE(origin_refusal(&other, &host), "");
  EXPECT_NE(origin_refusal(nullptr, &host), "");
  const std::string null_origin = "null";
  EXPECT_NE(origin_refusal(&null_origin, &host), "");
  // A name made to resolve to the laptop: Origin and Host agree, but the
  // page is not the laptop's.
  const std::string named = "evil.example:6354", named_origin = "http://evil.example:6354";
  EXPECT_NE(origin_refusal(&named_origin, &named), "");
  const std::string v6 = "[fd00::10]:6354", v6_origin = "http://[fd00::10]:6354";
  EXPECT_EQ(origin_refusal(&v6_origin, &v6), "");
}

TEST(Origin, TheCodeIsOneSubprotocol) {
  EXPECT_EQ(offered_code({{"Sec-WebSocket-Protocol", "mnigs-tether, mnigs-pair.12345678"}}),
            "12345678");
  EXPECT_EQ(offered_code({{"Sec-WebSocket-Protocol", "mnigs-tether"}}), "");
  EXPECT_EQ(offered_code({{"Sec-WebSocket-Protocol", "mnigs-pair.1, mnigs-pair.2"}}), "");
  EXPECT_EQ(offered_code({{"Sec-WebSocket-Protocol", "mnigs-pair."}}), "");
}

class ServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_shared<Server>(
        io_, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0), pairing_,
        [this](tcp::socket s, std::string pending, std::string remote) {
          handed_ = remote;
          socket_.emplace(std::move(s));
          pending_ = std::move(pending);
          ++pages_;
        },
        log_);
    port_ = server_->name().substr(server_->name().rfind(':') + 1);
    net::post(io_, [this] { server_->start(); });
    thread_ = std::thread([this] { io_.run(); });
  }
  void TearDown() override {
    net::post(io_, [this] {
      server_->stop();
      socket_.reset();
    });
    work_.reset();
    thread_.join();
  }
  // Sends `request` on a new connection; what came back until the server
  // closed, or the head of a 101.
  std::string ask(const std::string& request) {
    net::io_context io;
    tcp::socket s(io);
    s.connect({net::ip::make_address("127.0.0.1"), static_cast<unsigned short>(std::stoi(port_))});
    net::write(s, net::buffer(request));
    std::string got;
    boost::system::error_code ec;
    char buf[4096];
    for (int i = 0; i < 64 && !ec; ++i) {  // bounded: answers are small
      const auto n = s.read_some(net::buffer(buf), ec);
      got.append(buf, n);
      if (got.starts_with("HTTP/1.1 101") && got.find("\r\n\r\n") != std::string::npos) break;
    }
    return got;
  }
  std::string upgrade(const std::string& origin, const std::string& protocols) {
    const std::string host = "127.0.0.1:" + port_;
    return ask("GET /tether HTTP/1.1\r\nHost: " + host +
               "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n" +
               (origin.empty() ? "" : "Origin: " + origin + "\r\n") +
               "Sec-WebSocket-Protocol: " + protocols + "\r\n\r\n");
  }
  std::string own_origin() const { return "http://127.0.0.1:" + port_; }

  net::io_context io_;
  std::optional<net::executor_work_guard<net::io_context::executor_type>> work_{io_.get_executor()};
  testing::FakeLogger log_;
  Pairing pairing_;
  std::shared_ptr<Server> server_;
  std::string port_;
  std::thread thread_;
  std::atomic<int> pages_ = 0;
  std::string handed_, pending_;
  std::optional<tcp::socket> socket_;
};

TEST_F(ServerTest, ThePageIsServedWithItsPolicy) {
  const std::string page = ask("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
  EXPECT_TRUE(page.starts_with("HTTP/1.1 200")) << page.substr(0, 200);
  EXPECT_NE(page.find("Content-Security-Policy: default-src 'none'"), std::string::npos);
  EXPECT_NE(page.find("frame-ancestors 'none'"), std::string::npos);
  EXPECT_NE(page.find("<script src=\"tether.js\">"), std::string::npos);
  const std::string js = ask("GET /tether.js HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
  EXPECT_NE(js.find("text/javascript"), std::string::npos);
  EXPECT_NE(js.find("mnigs-pair."), std::string::npos);
  EXPECT_TRUE(ask("GET /admin.token HTTP/1.1\r\nHost: x\r\n\r\n").starts_with("HTTP/1.1 404"));
  EXPECT_TRUE(
      ask("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n").starts_with("HTTP/1.1 405"));
}

TEST_F(ServerTest, ThePagesOwnOriginWithTheCodeIsTakenAndNothingElse) {
  const std::string code = pairing_.code();
  const std::string good = "mnigs-tether, mnigs-pair." + code;
  EXPECT_TRUE(upgrade("http://evil.example", good).starts_with("HTTP/1.1 403"));
  EXPECT_TRUE(upgrade("", good).starts_with("HTTP/1.1 403"));
  EXPECT_TRUE(upgrade(own_origin(), "mnigs-tether").starts_with("HTTP/1.1 401"));
  EXPECT_TRUE(upgrade(own_origin(), "mnigs-pair." + code).starts_with("HTTP/1.1 400"));
  const std::string wrong = code == "00000000" ? "11111111" : "00000000";
  EXPECT_TRUE(
      upgrade(own_origin(), "mnigs-tether, mnigs-pair." + wrong).starts_with("HTTP/1.1 403"));
  EXPECT_EQ(pages_, 0);
  const std::string ok = upgrade(own_origin(), good);
  ASSERT_TRUE(ok.starts_with("HTTP/1.1 101")) << ok;
  EXPECT_NE(ok.find("Sec-WebSocket-Protocol: mnigs-tether\r\n"), std::string::npos);
  EXPECT_EQ(ok.find(code), std::string::npos);  // the code is not echoed
  for (int i = 0; i < 100 && pages_ == 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_EQ(pages_, 1);
  EXPECT_EQ(handed_, "127.0.0.1");
  EXPECT_EQ(server_->counters().refused, 5u);
  EXPECT_EQ(server_->counters().paired, 1u);
}

TEST_F(ServerTest, GuessingIsSlowedDown) {
  const std::string code = pairing_.code();
  const std::string wrong = code == "00000000" ? "11111111" : "00000000";
  for (int i = 0; i < 10; ++i)
    EXPECT_TRUE(
        upgrade(own_origin(), "mnigs-tether, mnigs-pair." + wrong).starts_with("HTTP/1.1 403"));
  // The budget of wrong codes is spent: nothing is compared for a while.
  const std::string busy = upgrade(own_origin(), "mnigs-tether, mnigs-pair." + code);
  EXPECT_TRUE(busy.starts_with("HTTP/1.1 429")) << busy;
  EXPECT_EQ(pages_, 0);
  EXPECT_EQ(pairing_.code(), code);  // and the code is still the one shown
}

}  // namespace
}  // namespace mnigs::tether
