// A hostile subscriber on the websocket tunnel: it upgrades with its own
// session, then never reads again while it floods small packets addressed
// to its own tunnel address (each comes back out of the gateway's tun
// device and is queued for the very link that does not read) and pings.
// What a gateway operator relies on: the memory the gateway spends on that
// link stays within websocket.maxQueue (its own counters say what it
// queued; the process's RSS says what it really holds), and the link is
// closed as a slow reader and counted, while the daemon goes on.
//
// And the switch's limits, end to end: at most websocket.maxPeers peers,
// no browser (an Origin header) on either endpoint, no peer with the
// gateway's own port's MAC.
//
//   gw ---- sub          link 1: 10.77.1.0/24 (gw .1, sub .2)
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>
#include <thread>

#include "harness/packets.hpp"
#include "harness/system_test.hpp"
#include "harness/tcp.hpp"
#include "harness/wait.hpp"

namespace mnigs::test {
namespace {

const std::string kSuite = "static-websocket-free";
// websocket.maxQueue for the test: the smallest allowed, so the queue is
// full long before the kernel's socket buffers are.
constexpr std::size_t kMaxQueue = 65536;
// The flood, bounded in count and time: packets in batches (paced, so that
// the gateway's tun device, whose queue holds 500, hands them all back),
// then a burst of pings, then a ping every 250 ms while waiting.
constexpr int kPackets = 16384;
constexpr int kBatch = 64;
constexpr int kPings = 16384;
constexpr auto kFloodFor = std::chrono::seconds(20);
constexpr auto kWaitFor = std::chrono::seconds(10);
// How much the gateway's RSS may grow: the queue (64 KiB), the link's read
// buffer (320 KiB), the few pool buffers in flight, allocator slack. Before
// buffers were counted by their size, this flood pinned about 64 MiB (a
// 64 KiB buffer per 60-byte packet, up to maxQueue payload bytes).
constexpr long kRssGrowthBoundKiB = 16 * 1024;

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// The gateway process's resident set, in KiB; -1 when it cannot be read.
long rss_kib(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  return -1;
}

// An L3 tunnel message: an all-zero virtio-net header, then a 60-byte
// IPv4/UDP packet from `address` to itself.
std::string udp_to_self(const std::string& address) {
  return std::string(10, '\0') + ipv4_udp(address, address, 60);
}

// A TCP connection from inside a namespace with a tiny receive buffer, so
// that not reading shuts its window at once.
class HostileClient {
 public:
  HostileClient(const std::string& ns, const std::string& host, int port) {
    run_in_netns_thread(ns, [&] {
      fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      int small = 4096;
      ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
      sockaddr_in a{};
      a.sin_family = AF_INET;
      a.sin_port = htons(static_cast<std::uint16_t>(port));
      ::inet_pton(AF_INET, host.c_str(), &a.sin_addr);
      if (::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0)
        throw std::runtime_error("connect to " + host + " failed: " + std::strerror(errno));
    });
  }
  ~HostileClient() {
    if (fd_ >= 0) ::close(fd_);
  }
  // Sends all of `bytes` within `timeout`; false once the connection fails
  // (the gateway closed it) or the time is up.
  bool send(const std::string& bytes, std::chrono::milliseconds timeout) {
    return send_all(fd_, bytes, std::chrono::steady_clock::now() + timeout);
  }
  // Reads the upgrade response (and nothing after it, as far as possible).
  std::string read_head(std::chrono::milliseconds timeout) {
    const auto end = std::chrono::steady_clock::now() + timeout;
    std::string got;
    while (!contains(got, "\r\n\r\n") && std::chrono::steady_clock::now() < end) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      char c;
      if (::recv(fd_, &c, 1, 0) != 1) break;
      got += c;
    }
    return got;
  }
  // Reads until the peer closes or `timeout`: a refusal's body.
  std::string read_rest(std::chrono::milliseconds timeout) {
    return read_until_closed(fd_, std::chrono::steady_clock::now() + timeout);
  }

 private:
  int fd_ = -1;
};

class WebsocketHostile : public SystemTest {
 protected:
  void SetUp() override {
    SystemTest::SetUp();
    if (HasFatalFailure()) return;
    topology_.node("gw").node("sub");
    topology_.link("gw", "sub");
    topology_.up();
    gw_ = std::make_unique<Node>(topology_, "gw",
                                 NodeOptions()
                                     .only_discovery("static")
                                     .set("gateway", "enabled", "true")
                                     .set("websocket", "keepalive", "1")
                                     .set("websocket", "timeout", "3")
                                     .set("websocket", "maxQueue", std::to_string(kMaxQueue)));
    gw_->launch();
  }

  std::string gateway_address() const { return topology_.address("gw", "sub"); }

  Json::Value gateway_status() const {
    Json::Value r = gw_->rpc("listPlugins");
    if (!rpc_succeeded(r)) return Json::Value();
    for (const auto& p : r["result"]["plugins"])
      if (p["name"].asString() == "websocket") return p["status"]["gateway"];
    return Json::Value();
  }

  Json::Value request_session() const {
    Json::Value params(Json::objectValue);
    params["suite"] = kSuite;
    params["port"] = 65533;
    Json::Value r;
    wait_until(
        [&] {
          r = rpc(topology_.ns("sub"), gateway_address(), gw_->rpc_port(), "requestConnection",
                  params);
          return rpc_error_code(r) != -32002;  // unavailable: starting
        },
        50, 100ms);
    if (!rpc_succeeded(r)) throw std::runtime_error("requestConnection: " + to_json(r));
    return r["result"];
  }

  Topology topology_;
  std::unique_ptr<Node> gw_;
};

TEST_F(WebsocketHostile, ASubscriberThatStopsReadingIsClosedAndPinsBoundedMemory) {
  Json::Value s = request_session();
  const std::string own = s["tunnel"]["address4"].asString();
  ASSERT_FALSE(own.empty()) << to_json(s);
  const pid_t pid = gw_->pid();
  const long rss_before = rss_kib(pid);
  ASSERT_GT(rss_before, 0);

  HostileClient c(topology_.ns("sub"), gateway_address(), gw_->rpc_port());
  const std::string host = gateway_address();
  ASSERT_TRUE(c.send("GET " + s["tunnel"]["path"].asString() + " HTTP/1.1\r\nHost: " + host +
                         "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                         "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                         "Sec-WebSocket-Version: 13\r\nX-Mnigs-Session: " +
                         s["sessionId"].asString() + "\r\nAuthorization: Bearer " +
                         s["tunnel"]["token"].asString() + "\r\n\r\n",
                     5s));
  const std::string head = c.read_head(5s);
  ASSERT_TRUE(contains(head, "HTTP/1.1 101")) << head;
  ASSERT_TRUE(
      wait_until([&] { return gateway_status()["sessions"][0]["connected"].asBool(); }, 50, 100ms))
      << to_json(gateway_status());

  // From here on the client reads nothing.
  const std::string packet = client_frame(2, udp_to_self(own));
  const std::string ping = client_frame(9, std::string(125, 'p'));
  std::string batch;
  for (int i = 0; i < kBatch; ++i) batch += packet;
  std::string pings;
  for (int i = 0; i < kBatch; ++i) pings += ping;
  long rss_peak = rss_before;
  auto sample = [&] { rss_peak = std::max(rss_peak, rss_kib(pid)); };
  int sent = 0, pinged = 0;
  bool refused = false;
  const auto flood_end = std::chrono::steady_clock::now() + kFloodFor;
  while (sent < kPackets && std::chrono::steady_clock::now() < flood_end && !refused) {
    refused = !c.send(batch, 2s);
    sent += kBatch;
    std::this_thread::sleep_for(1ms);
    if (sent % 1024 == 0) sample();
  }
  const long rss_packets = rss_kib(pid);
  while (pinged < kPings && std::chrono::steady_clock::now() < flood_end && !refused) {
    refused = !c.send(pings, 2s);
    pinged += kBatch;
    if (pinged % 1024 == 0) sample();
  }
  // Then pings at a peer's pace, as a client keeping its link alive would,
  // until the gateway gives the link up: the stall time (websocket.timeout,
  // 3 s) after the queue filled.
  bool closed = false;
  const auto wait_end = std::chrono::steady_clock::now() + kWaitFor;
  while (!closed && std::chrono::steady_clock::now() < wait_end) {
    if (!refused) refused = !c.send(ping, 100ms);
    std::this_thread::sleep_for(250ms);
    sample();
    closed = !gateway_status()["sessions"][0]["connected"].asBool();
  }
  sample();
  const long rss_after = rss_kib(pid);
  const Json::Value gw = gateway_status();
  std::cout << "hostile client: " << sent << " packets and " << pinged << " pings sent"
            << (refused ? " (then the gateway refused more)" : "") << "; gateway RSS before "
            << rss_before << " KiB, after the packets " << rss_packets << " KiB, peak " << rss_peak
            << " KiB (+" << rss_peak - rss_before << " KiB), at the end " << rss_after
            << " KiB; link " << (closed ? "closed" : "still open") << "\n"
            << "gateway status: " << to_json(gw) << "\n";

  EXPECT_TRUE(closed) << "the link of a client that reads nothing is still up\n"
                      << to_json(gw) << gw_->log_tail();
  EXPECT_LT(rss_peak - rss_before, kRssGrowthBoundKiB)
      << "the gateway's memory grew by " << rss_peak - rss_before << " KiB";
  EXPECT_GE(gw["closedSlowReaders"].asUInt64(), 1u) << to_json(gw);
  // What the link accounted for stayed within its limit (a pending pong or
  // close frame may come on top).
  const Json::Value& session = gw["sessions"][0];
  EXPECT_GT(session["queuedPeak"].asUInt64(), 0u) << to_json(session);
  EXPECT_LE(session["queuedPeak"].asUInt64(), kMaxQueue + 1024) << to_json(session);
  EXPECT_GT(session["dropped"].asUInt64(), 0u) << to_json(session);
  EXPECT_TRUE(contains(gw_->log(), "slow reader")) << gw_->log_tail();
  EXPECT_TRUE(gw_->running());
  EXPECT_TRUE(rpc_succeeded(gw_->rpc("nodeInfo")));
}

// Under l2Auth: session (the default), a switch token opens only the
// session it was issued to, a wrong one nothing even from the subscriber's
// address, and the peers that joined for a session leave when it ends.
// A page in a browser (the tether page) cannot set headers on a WebSocket:
// it names the session and its token as subprotocols, and may come from any
// origin, since it proves it holds the secret. Only mnigs-l3 is echoed.
TEST_F(WebsocketHostile, APageOpensTheTunnelWithItsCredentialsAsSubprotocols) {
  Json::Value s = request_session();
  const std::string id = s["sessionId"].asString(), token = s["tunnel"]["token"].asString();
  ASSERT_FALSE(token.empty()) << to_json(s);
  auto upgrade = [&](const std::string& protocols,
                     const std::string& origin = "http://192.168.7.1:8090") {
    auto c = std::make_unique<HostileClient>(topology_.ns("sub"), gateway_address(),
                                             gw_->rpc_port());
    c->send("GET " + s["tunnel"]["path"].asString() + " HTTP/1.1\r\nHost: " +
                gateway_address() +
                "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
                "Origin: " + origin + "\r\nSec-WebSocket-Protocol: " +
                protocols + "\r\n\r\n",
            5s);
    std::string head = c->read_head(5s);
    if (!contains(head, " 101 ")) head += c->read_rest(2s);
    return std::make_pair(std::move(c), head);
  };
  auto wrong = upgrade("mnigs-l3, mnigs-session." + id + ", mnigs-token." + std::string(64, 'f'));
  EXPECT_TRUE(contains(wrong.second, "HTTP/1.1 403")) << wrong.second;
  auto half = upgrade("mnigs-l3, mnigs-session." + id);
  EXPECT_TRUE(contains(half.second, "HTTP/1.1 400")) << half.second;
  auto unnamed = upgrade("mnigs-session." + id + ", mnigs-token." + token);
  EXPECT_TRUE(contains(unnamed.second, "HTTP/1.1 400")) << unnamed.second;
  // A site on the Internet, or any site named by DNS, that got the
  // credentials for its visitor's browser: no tunnel.
  const std::string creds = "mnigs-l3, mnigs-session." + id + ", mnigs-token." + token;
  for (const char* site : {"http://203.0.113.9", "http://evil.example"}) {
    auto elsewhere = upgrade(creds, site);
    EXPECT_TRUE(contains(elsewhere.second, "HTTP/1.1 403")) << elsewhere.second;
    EXPECT_TRUE(contains(elsewhere.second, "rpcCorsOrigins")) << elsewhere.second;
  }
  EXPECT_FALSE(gateway_status()["sessions"][0]["connected"].asBool());

  auto page = upgrade("mnigs-l3, mnigs-session." + id + ", mnigs-token." + token);
  ASSERT_TRUE(contains(page.second, "HTTP/1.1 101")) << page.second;
  EXPECT_TRUE(contains(page.second, "Sec-WebSocket-Protocol: mnigs-l3\r\n")) << page.second;
  EXPECT_FALSE(contains(page.second, token)) << page.second;
  EXPECT_TRUE(
      wait_until([&] { return gateway_status()["sessions"][0]["connected"].asBool(); }, 50, 100ms))
      << to_json(gateway_status());
  // The secret is in no log line.
  EXPECT_FALSE(contains(gw_->log(), token));
}

TEST_F(WebsocketHostile, ASwitchTokenOpensOnlyItsSessionAndItsPeersLeaveWithIt) {
  Json::Value s = request_session();
  const std::string id = s["sessionId"].asString();
  const std::string token = s["tunnel"]["token"].asString();
  ASSERT_FALSE(token.empty()) << to_json(s);
  const std::string host = gateway_address();
  auto join = [&](const std::vector<std::string>& headers) {
    auto c = std::make_unique<HostileClient>(topology_.ns("sub"), host, gw_->rpc_port());
    std::string r = "GET /vpn HTTP/1.1\r\nHost: " + host +
                    "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                    "Sec-WebSocket-Key: AQIDBAUGBwgJCg==\r\n";
    for (const auto& h : headers) r += h + "\r\n";
    c->send(r + "\r\n", 5s);
    std::string head = c->read_head(5s);
    return std::make_pair(std::move(c), head);
  };
  auto switch_peers = [&] {
    Json::Value r = gw_->rpc("listPlugins");
    for (const auto& p : r["result"]["plugins"])
      if (p["name"].asString() == "websocket") return p["status"]["switch"]["peers"];
    return Json::Value();
  };

  auto other = join({"Authorization: Bearer " + token, "X-Mnigs-Session: another-session"});
  EXPECT_TRUE(contains(other.second, "HTTP/1.1 403")) << other.second;
  std::string wrong = token;
  wrong[0] = wrong[0] == '0' ? '1' : '0';
  auto bad = join({"Authorization: Bearer " + wrong});
  EXPECT_TRUE(contains(bad.second, "HTTP/1.1 403")) << bad.second;

  auto by_token = join({"Authorization: Bearer " + token, "X-Mnigs-Session: " + id,
                        "X-vpn-ws-MAC: 02:00:00:00:00:0a"});
  ASSERT_TRUE(contains(by_token.second, "HTTP/1.1 101")) << by_token.second;
  auto by_address = join({"X-vpn-ws-MAC: 02:00:00:00:00:0b"});
  ASSERT_TRUE(contains(by_address.second, "HTTP/1.1 101")) << by_address.second;
  ASSERT_TRUE(wait_until([&] { return switch_peers().size() == 2; }, 50, 100ms))
      << to_json(switch_peers());
  for (const auto& p : switch_peers()) EXPECT_EQ(p["session"].asString(), id) << to_json(p);

  Json::Value params(Json::objectValue);
  params["sessionId"] = id;
  params["secret"] = s["secret"];
  Json::Value released =
      rpc(topology_.ns("sub"), host, gw_->rpc_port(), "releaseConnection", params);
  ASSERT_TRUE(rpc_succeeded(released)) << to_json(released);
  EXPECT_TRUE(wait_until([&] { return switch_peers().empty(); }, 50, 100ms))
      << to_json(switch_peers());
  // And the session's token opens nothing any more.
  auto after = join({"Authorization: Bearer " + token});
  EXPECT_TRUE(contains(after.second, "HTTP/1.1 403")) << after.second;
}

class WebsocketSwitchLimits : public SystemTest {
 protected:
  void SetUp() override {
    SystemTest::SetUp();
    if (HasFatalFailure()) return;
    topology_.node("gw").node("sub");
    topology_.link("gw", "sub");
    topology_.up();
    gw_ = std::make_unique<Node>(topology_, "gw",
                                 NodeOptions()
                                     .only_discovery("static")
                                     .set("gateway", "enabled", "true")
                                     .set("websocket", "l2Auth", "none")
                                     .set("websocket", "maxPeers", "2")
                                     .set("websocket", "l2Address", yaml_quote("10.97.0.1/24")));
    gw_->launch();
    ASSERT_TRUE(wait_until([&] { return switch_status()["running"].asBool(); }, 50, 100ms))
        << to_json(switch_status());
  }

  Json::Value switch_status() const {
    Json::Value r = gw_->rpc("listPlugins");
    for (const auto& p : r["result"]["plugins"])
      if (p["name"].asString() == "websocket") return p["status"]["switch"];
    return Json::Value();
  }
  // Opens `path` with `headers`; the client and the response head.
  std::pair<std::unique_ptr<HostileClient>, std::string> upgrade(
      const std::string& path, const std::vector<std::string>& headers) const {
    const std::string host = topology_.address("gw", "sub");
    auto c = std::make_unique<HostileClient>(topology_.ns("sub"), host, gw_->rpc_port());
    std::string r = "GET " + path + " HTTP/1.1\r\nHost: " + host +
                    "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                    "Sec-WebSocket-Key: AQIDBAUGBwgJCg==\r\n";
    for (const auto& h : headers) r += h + "\r\n";
    c->send(r + "\r\n", 5s);
    std::string head = c->read_head(5s);
    if (!contains(head, " 101 ")) head += c->read_rest(2s);
    return {std::move(c), head};
  }
  std::size_t peers() const { return switch_status()["peers"].size(); }

  Topology topology_;
  std::unique_ptr<Node> gw_;
};

TEST_F(WebsocketSwitchLimits, PeersAreCappedAndBrowsersAndTheGatewaysMacAreRefused) {
  // The gateway's own port is a peer from the start.
  ASSERT_TRUE(wait_until([&] { return peers() == 1; }, 50, 100ms)) << to_json(switch_status());
  EXPECT_EQ(switch_status()["maxPeers"].asUInt64(), 2u);

  // A web page's request: refused on the switch and on the L3 endpoint
  // (where without Origin it would be 401 for want of a session).
  auto browser =
      upgrade("/vpn", {"Origin: http://page.example", "X-vpn-ws-MAC: 02:00:00:00:00:0e"});
  EXPECT_TRUE(contains(browser.second, "HTTP/1.1 403")) << browser.second;
  auto browser3 = upgrade("/ws/websocket", {"Origin: null", "Sec-WebSocket-Version: 13"});
  EXPECT_TRUE(contains(browser3.second, "HTTP/1.1 403")) << browser3.second;
  auto no_session = upgrade("/ws/websocket", {"Sec-WebSocket-Version: 13"});
  EXPECT_TRUE(contains(no_session.second, "HTTP/1.1 401")) << no_session.second;

  // The tap's MAC is the gateway's: nobody may claim it.
  auto link = topology_.exec("gw", {"ip", "-o", "link", "show", "dev", "mnws-l2"}, 5s);
  ASSERT_EQ(link.exit_code, 0) << link.err;
  const auto at = link.out.find("link/ether ");
  ASSERT_NE(at, std::string::npos) << link.out;
  const std::string tap_mac = link.out.substr(at + 11, 17);
  auto impostor = upgrade("/vpn", {"X-vpn-ws-MAC: " + tap_mac});
  EXPECT_TRUE(contains(impostor.second, "HTTP/1.1 403")) << impostor.second;
  EXPECT_TRUE(contains(impostor.second, "gateway")) << impostor.second;

  // Two peers, then the third is refused until one leaves.
  auto a = upgrade("/vpn", {"X-vpn-ws-MAC: 02:00:00:00:00:0a"});
  ASSERT_TRUE(contains(a.second, "HTTP/1.1 101")) << a.second;
  auto b = upgrade("/vpn", {"X-vpn-ws-MAC: 02:00:00:00:00:0b"});
  ASSERT_TRUE(contains(b.second, "HTTP/1.1 101")) << b.second;
  auto c = upgrade("/vpn", {"X-vpn-ws-MAC: 02:00:00:00:00:0c"});
  EXPECT_TRUE(contains(c.second, "HTTP/1.1 503")) << c.second;
  EXPECT_TRUE(contains(c.second, "maxPeers")) << c.second;
  ASSERT_TRUE(wait_until([&] { return peers() == 3; }, 50, 100ms)) << to_json(switch_status());
  a.first.reset();  // a hangs up
  ASSERT_TRUE(wait_until([&] { return peers() == 2; }, 50, 100ms)) << to_json(switch_status());
  auto d = upgrade("/vpn", {"X-vpn-ws-MAC: 02:00:00:00:00:0d"});
  EXPECT_TRUE(contains(d.second, "HTTP/1.1 101")) << d.second;
  EXPECT_TRUE(rpc_succeeded(gw_->rpc("nodeInfo")));
}

}  // namespace
}  // namespace mnigs::test
