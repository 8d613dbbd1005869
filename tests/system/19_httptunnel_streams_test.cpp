// tunnel/httptunnel's named services carry streams, not only whole
// answers: a WebSocket to a service on the node echoes each message, and a
// server-sent-events stream delivers its first event while the stream is
// still open; the node's one link carries both at once.
//
//   client ---- gw ---- node        link 1: client–gw, link 2: gw–node
//
// The node takes no connection from outside (httptunnel::hide); its
// services listen on its loopback: "ws" (a Boost.Beast WebSocket echo) and
// "events" (server-sent events, held open until the test lets it end).
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <atomic>
#include <future>
#include <memory>
#include <string>
#include <thread>

#include "harness/system_test.hpp"
#include "harness/wait.hpp"
#include "httptunnel_lab.hpp"

namespace mnigs::test {
namespace {

namespace beast = boost::beast;
namespace websocket = beast::websocket;
namespace http = beast::http;
using tcp = boost::asio::ip::tcp;

constexpr int kFrontPort = 8080;
constexpr int kWsPort = 9001;
constexpr int kEventsPort = 9002;
const std::string kDomain = "tunnel.test";

// The node's services, each taking one connection at a time on a thread of
// its own; every wait is bounded.
class Services {
 public:
  explicit Services(const std::string& ns) {
    // The sockets are made by a thread in `ns`, so they live there.
    run_in_netns_thread(ns, [&] {
      const auto lo = boost::asio::ip::make_address("127.0.0.1");
      ws_.open(tcp::v4());
      ws_.set_option(tcp::acceptor::reuse_address(true));
      ws_.bind({lo, kWsPort});
      ws_.listen();
      events_.open(tcp::v4());
      events_.set_option(tcp::acceptor::reuse_address(true));
      events_.bind({lo, kEventsPort});
      events_.listen();
    });
    ws_thread_ = std::thread([this] { echo(); });
    events_thread_ = std::thread([this] { events(); });
  }
  ~Services() {
    end_events_.store(true);
    beast::error_code ignored;
    ws_.close(ignored);
    events_.close(ignored);
    ws_thread_.join();
    events_thread_.join();
  }
  // The events stream sends its last event and ends.
  void end_events() { end_events_.store(true); }

 private:
  // Echoes each message back until the client closes.
  void echo() {
    beast::error_code ec;
    tcp::socket socket(io_);
    ws_.accept(socket, ec);
    if (ec) return;
    websocket::stream<tcp::socket> ws(std::move(socket));
    ws.accept(ec);
    for (int i = 0; i < 100 && !ec; ++i) {
      beast::flat_buffer buffer;
      ws.read(buffer, ec);
      if (ec) break;
      ws.text(ws.got_text());
      ws.write(buffer.data(), ec);
    }
  }
  // One event at once, the last when told (at most 20 s later), then the end.
  void events() {
    beast::error_code ec;
    tcp::socket socket(io_);
    events_.accept(socket, ec);
    if (ec) return;
    beast::flat_buffer buffer;
    http::request<http::empty_body> req;
    http::read(socket, buffer, req, ec);
    if (ec) return;
    const std::string head =
        "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n\r\n"
        "data: first\n\n";
    boost::asio::write(socket, boost::asio::buffer(head), ec);
    for (int i = 0; i < 200 && !end_events_.load(); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    boost::asio::write(socket, boost::asio::buffer(std::string("data: last\n\n")), ec);
    socket.shutdown(tcp::socket::shutdown_send, ec);
  }

  boost::asio::io_context io_;
  tcp::acceptor ws_{io_}, events_{io_};
  std::atomic<bool> end_events_{false};
  std::thread ws_thread_, events_thread_;
};

class HttpTunnelStreams : public SystemTest {
 protected:
  void SetUp() override {
    SystemTest::SetUp();
    if (HasFatalFailure()) return;
    topology_.node("client").node("gw").node("node");
    topology_.link("client", "gw").link("gw", "node");
    topology_.up();
    httptunnel::hide(topology_, "node");
    services_ = std::make_unique<Services>(topology_.ns("node"));
    front_ = topology_.address("gw", "client");
    gw_ = std::make_unique<Node>(
        topology_, "gw",
        NodeOptions()
            .only_discovery("static")
            .set("httptunnel", "listen",
                 "[" + yaml_quote(front_ + ":" + std::to_string(kFrontPort)) + "]")
            .set("httptunnel", "domain", yaml_quote(kDomain)));
    node_ = std::make_unique<Node>(
        topology_, "node",
        NodeOptions()
            .only_discovery("static")
            .set("httptunnel", "gateways",
                 "[" + yaml_quote(topology_.address("gw", "node") + ":65533") + "]")
            .set("httptunnel", "id", "tim")
            .set("httptunnel", "services", "[\"ws=9001\", \"events=9002\"]"));
    gw_->start();
    node_->start();
    gw_->wait_ready();
    node_->wait_ready();
    ASSERT_TRUE(wait_until([&] { return httptunnel::links_up(*node_, 1); }, 100, 100ms))
        << httptunnel::status(*node_);
  }

  // A socket connected from the client's namespace to the front.
  tcp::socket connect_front() {
    tcp::socket socket(io_);
    run_in_netns_thread(topology_.ns("client"), [&] {
      socket.connect({boost::asio::ip::make_address(front_), kFrontPort});
    });
    return socket;
  }

  Topology topology_;  // declared first: destroyed after everything in it
  std::unique_ptr<Services> services_;
  std::unique_ptr<Node> gw_, node_;
  std::string front_;
  boost::asio::io_context io_;
};

TEST_F(HttpTunnelStreams, AWebSocketAndAnEventStreamPassAtOnceThroughOneLink) {
  // The event stream first: its first event arrives while it stays open.
  tcp::socket events = connect_front();
  const std::string ask = "GET /feed HTTP/1.1\r\nHost: events.tim." + kDomain + "\r\n\r\n";
  boost::asio::write(events, boost::asio::buffer(ask));
  // Reads bounded by a deadline: a receive timeout on the socket.
  const timeval tv{10, 0};
  ::setsockopt(events.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  std::string got;
  beast::error_code ec;
  boost::asio::read_until(events, boost::asio::dynamic_buffer(got), "data: first\n\n", ec);
  ASSERT_FALSE(ec) << ec.message() << ": " << got;
  EXPECT_TRUE(got.starts_with("HTTP/1.1 200 ")) << got;
  EXPECT_NE(got.find("text/event-stream"), std::string::npos) << got;
  EXPECT_EQ(got.find("data: last"), std::string::npos) << got;  // not yet: still open

  // Meanwhile a WebSocket to the other service echoes what it is sent.
  websocket::stream<tcp::socket> ws(connect_front());
  ::setsockopt(ws.next_layer().native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ws.handshake("ws.tim." + kDomain, "/echo", ec);
  ASSERT_FALSE(ec) << "the WebSocket upgrade failed: " << ec.message() << gw_->log_tail();
  const std::string texts[] = {"hello", std::string(100000, 'x'), "bye"};
  for (const std::string& text : texts) {
    ws.write(boost::asio::buffer(text), ec);
    ASSERT_FALSE(ec) << ec.message();
    beast::flat_buffer buffer;
    ws.read(buffer, ec);
    ASSERT_FALSE(ec) << ec.message();
    EXPECT_EQ(beast::buffers_to_string(buffer.data()).size(), text.size());
    EXPECT_TRUE(beast::buffers_to_string(buffer.data()) == text);
  }

  // Both went through the node's one link, at the same time.
  const Json::Value links = httptunnel::status(*node_)["node"]["links"];
  ASSERT_EQ(links.size(), 1u) << links;
  EXPECT_GE(links[0]["streamsOpen"].asUInt(), 2u) << links;
  ws.close(websocket::close_code::normal, ec);

  // The event stream ends when its service ends it, with its last event.
  services_->end_events();
  boost::asio::read_until(events, boost::asio::dynamic_buffer(got), "data: last\n\n", ec);
  EXPECT_FALSE(ec) << ec.message() << ": " << got;
  EXPECT_NE(got.find("data: last\n\n"), std::string::npos) << got;
}

}  // namespace
}  // namespace mnigs::test
