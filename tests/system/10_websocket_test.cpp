// The websocket tunnel end to end: a subscriber reaches a host "on the
// Internet" only through its tunnel, over wss to the key the gateway
// publishes, and the wire shows TLS records and none of the traffic; a
// server with another key on the wss port is refused before anything is
// sent; when the link dies the subscriber comes back on the same session
// and addresses; the gateway refuses upgrades without a session or with a
// wrong token, plain HTTP on its wss port, and drops what a connected peer
// must not send (spoofed sources, text, oversized frames) while the daemon
// goes on.
//
//   inet ---- gw ---- sub          link 1: 10.77.1.0/24 (inet .1, gw .2)
//                                  link 2: 10.77.2.0/24 (gw .1, sub .2)
//
// Tunnel addresses come from websocket.pool4 (10.98.0.0/24, the gateway is
// .1) and pool6 (fd98::/64). inet has no route to either: it can answer a
// subscriber only because the gateway masquerades.
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>
#include <thread>

#include "harness/http_echo.hpp"
#include "harness/packets.hpp"
#include "harness/system_test.hpp"
#include "harness/wait.hpp"

namespace mnigs::test {
namespace {

const std::string kSuite = "static-websocket-free";
constexpr int kWebPort = 80;
constexpr const char* kTunnel = "mnws0";
// websocket.tlsPort's default.
constexpr int kTlsPort = 65530;
// websocket.table and websocket.priority defaults.
constexpr int kTable = 65532;
constexpr int kPriority = 31010;

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// A WebSocket client written from RFC 6455 alone, as a hostile or
// third-party peer would be: it sends whatever frames a test builds.
class RawClient {
 public:
  RawClient(const std::string& ns, const std::string& host, int port) {
    run_in_netns_thread(ns, [&] {
      fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      sockaddr_in a{};
      a.sin_family = AF_INET;
      a.sin_port = htons(static_cast<std::uint16_t>(port));
      ::inet_pton(AF_INET, host.c_str(), &a.sin_addr);
      if (::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0)
        throw std::runtime_error("connect to " + host + " failed: " + std::strerror(errno));
    });
  }
  ~RawClient() {
    if (fd_ >= 0) ::close(fd_);
  }

  void send(const std::string& bytes) const {
    std::size_t sent = 0;
    while (sent < bytes.size()) {
      ssize_t n = ::send(fd_, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) return;  // the peer closed: what was sent is what counts
      sent += static_cast<std::size_t>(n);
    }
  }
  // Reads until `until` is in what arrived, the peer closes, or `timeout`.
  std::string receive(const std::string& until, std::chrono::milliseconds timeout) {
    auto end = std::chrono::steady_clock::now() + timeout;
    while (!contains(got_, until)) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          end - std::chrono::steady_clock::now());
      if (left.count() <= 0) break;
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) break;
      char buf[4096];
      ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) {
        closed_ = true;
        break;
      }
      got_.append(buf, static_cast<std::size_t>(n));
    }
    return got_;
  }
  // Whether the peer closed the connection within `timeout`.
  bool closed_within(std::chrono::milliseconds timeout) {
    receive(std::string(1, '\xff') + "never", timeout);
    return closed_;
  }
  const std::string& received() const { return got_; }

 private:
  int fd_ = -1;
  std::string got_;
  bool closed_ = false;
};

// The header of a frame claiming `size` bytes, without the bytes.
std::string oversized_header(std::uint64_t size) {
  std::string f;
  f += static_cast<char>(0x82);
  f += static_cast<char>(0x80 | 127);
  for (int i = 7; i >= 0; --i) f += static_cast<char>((size >> (8 * i)) & 0xff);
  f += std::string("\x01\x02\x03\x04", 4);
  return f;
}

// An L3 tunnel message: an all-zero virtio-net header, then an IPv4/UDP
// packet from `source` to `destination`.
std::string udp_message(const std::string& source, const std::string& destination) {
  return std::string(10, '\0') + ipv4_udp(source, destination);
}

std::string upgrade_request(const std::string& host, const std::string& path,
                            const std::vector<std::string>& extra) {
  std::string r = "GET " + path + " HTTP/1.1\r\nHost: " + host +
                  "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n";
  for (const auto& h : extra) r += h + "\r\n";
  return r + "\r\n";
}

class Websocket : public SystemTest {
 protected:
  void SetUp() override {
    SystemTest::SetUp();
    if (HasFatalFailure()) return;
    topology_.node("inet").node("gw").node("sub");
    topology_.link("inet", "gw").link("gw", "sub");
    topology_.up();
    web_ = std::make_unique<HttpEcho>(topology_.ns("inet"), topology_.address("inet", "gw"),
                                      kWebPort);
    gw_ = std::make_unique<Node>(
        topology_, "gw",
        NodeOptions()
            .only_discovery("static")
            .set("gateway", "enabled", "true")
            .set("forwarding", "uplink", yaml_quote(topology_.interface("gw", "inet")))
            .set("websocket", "keepalive", "1")
            .set("websocket", "timeout", "3"));
    sub_ = std::make_unique<Node>(topology_, "sub",
                                  NodeOptions()
                                      .only_discovery("static")
                                      .set("websocket", "keepalive", "1")
                                      .set("websocket", "timeout", "3"));
    gw_->start();
    sub_->start();
    gw_->wait_ready();
    sub_->wait_ready();
  }

  std::string gateway_address() const { return topology_.address("gw", "sub"); }
  std::string masqueraded() const { return "client=" + topology_.address("gw", "inet") + "\n"; }
  FetchResult fetch_from_sub(std::chrono::milliseconds timeout = 5s) const {
    return fetch(topology_.ns("sub"), web_->address(), kWebPort, "/", timeout);
  }
  std::string ip(const std::string& node, const std::vector<std::string>& args) const {
    std::vector<std::string> argv = {"ip"};
    argv.insert(argv.end(), args.begin(), args.end());
    return topology_.exec(node, argv, 10s).out;
  }

  // The websocket plugin's status on a node (listPlugins).
  static Json::Value plugin_status(const Node& node) {
    Json::Value r = node.rpc("listPlugins");
    if (!rpc_succeeded(r)) return Json::Value();
    for (const auto& p : r["result"]["plugins"])
      if (p["name"].asString() == "websocket") return p["status"];
    return Json::Value();
  }

  void connect_sub() {
    auto r = sub_->cli({"-c", gateway_address(), "-m", kSuite});
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err << sub_->log_tail();
    ASSERT_TRUE(contains(r.out, kSuite)) << r.out;
    ASSERT_TRUE(wait_until(
        [&] {
          return plugin_status(*sub_)["subscriber"]["sessions"][0]["connected"].asBool();
        },
        100, 100ms))
        << to_json(plugin_status(*sub_)) << sub_->log_tail();
  }

  // A session requested straight from sub's namespace, as any mesh node
  // may: {"sessionId", "secret", "tunnel": {...}}.
  Json::Value request_session() const {
    Json::Value params(Json::objectValue);
    params["suite"] = kSuite;
    params["port"] = 65533;
    // Right after start the gateway answers "starting" until its sessions
    // are resumed; a subscriber tries again, so does this.
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

  // An upgraded raw connection to gw's L3 endpoint for `session`.
  std::unique_ptr<RawClient> open_raw(const Json::Value& session) const {
    auto c = std::make_unique<RawClient>(topology_.ns("sub"), gateway_address(), gw_->rpc_port());
    c->send(upgrade_request(gateway_address(), session["tunnel"]["path"].asString(),
                            {"X-Mnigs-Session: " + session["sessionId"].asString(),
                             "Authorization: Bearer " + session["tunnel"]["token"].asString()}));
    c->receive("\r\n\r\n", 5s);
    return c;
  }

  // Resets every established TCP connection to gw's wss port.
  void reset_wss_connections() {
    auto killed = topology_.exec("gw", {"ss", "-K", "-t", "state", "established", "sport", "=",
                                        ":" + std::to_string(kTlsPort)});
    ASSERT_EQ(killed.exit_code, 0) << killed.err;
  }

  Topology topology_;
  std::unique_ptr<HttpEcho> web_;
  std::unique_ptr<Node> gw_;
  std::unique_ptr<Node> sub_;
};

TEST_F(Websocket, SubscriberReachesTheInternetOnlyThroughTheTunnel) {
  EXPECT_FALSE(fetch_from_sub(2s).ok) << "sub reached inet before connecting";
  ASSERT_NO_FATAL_FAILURE(connect_sub());

  // Over wss, held to the key the gateway publishes in its nodeInfo (no
  // DHT here).
  const Json::Value link = plugin_status(*sub_)["subscriber"]["sessions"][0];
  const std::string key = plugin_status(*gw_)["gateway"]["tls"]["key"].asString();
  EXPECT_EQ(key.rfind("sha256:", 0), 0u) << to_json(plugin_status(*gw_));
  EXPECT_TRUE(link["tls"].asBool()) << to_json(link);
  EXPECT_EQ(link["key"].asString(), key) << to_json(link);
  EXPECT_EQ(link["keySource"].asString(), "nodeInfo") << to_json(link);
  EXPECT_TRUE(contains(link["cipher"].asString(), "TLSv1.3")) << to_json(link);
  EXPECT_EQ(gw_->rpc("nodeInfo")["result"]["tunnelKeys"]["websocket"].asString(), key);

  // The tunnel device has the session's addresses, and the way to inet is
  // through it.
  const std::string addr = ip("sub", {"-4", "-o", "addr", "show", "dev", kTunnel});
  EXPECT_TRUE(contains(addr, "10.98.0.2/24")) << addr;
  const std::string addr6 = ip("sub", {"-6", "-o", "addr", "show", "dev", kTunnel});
  EXPECT_TRUE(contains(addr6, "fd98::2/64")) << addr6;
  const std::string route = ip("sub", {"route", "get", web_->address()});
  EXPECT_TRUE(contains(route, "dev " + std::string(kTunnel))) << route;
  const std::string rules = ip("sub", {"rule", "show"});
  EXPECT_TRUE(contains(rules, std::to_string(kPriority) + ":\tfrom all lookup main suppress_prefixlength 0"))
      << rules;
  EXPECT_TRUE(contains(rules, std::to_string(kPriority + 1) + ":\tfrom all lookup " + std::to_string(kTable)))
      << rules;

  FetchResult through = fetch_from_sub();
  ASSERT_TRUE(through.ok) << through.error << "\n" << to_json(plugin_status(*sub_))
                          << "\n" << to_json(plugin_status(*gw_)) << gw_->log_tail();
  EXPECT_EQ(through.body, masqueraded());

  // IPv6 too, even though the subscriber reached the gateway over IPv4: the
  // tunnel carries both families, masqueraded to the gateway's uplink.
  HttpEcho web6(topology_.ns("inet"), topology_.address6("inet", "gw"), kWebPort);
  FetchResult six = fetch(topology_.ns("sub"), web6.address(), kWebPort, "/", 5s);
  ASSERT_TRUE(six.ok) << six.error << "\n" << ip("sub", {"-6", "route", "get", web6.address()});
  EXPECT_EQ(six.body, "client=" + topology_.address6("gw", "inet") + "\n");

  // The gateway carried it: the session's link moved bytes both ways.
  Json::Value gws = plugin_status(*gw_)["gateway"]["sessions"];
  ASSERT_EQ(gws.size(), 1u) << to_json(gws);
  EXPECT_TRUE(gws[0]["connected"].asBool());
  EXPECT_GT(gws[0]["rxBytes"].asUInt64(), 0u) << to_json(gws);
  EXPECT_GT(gws[0]["txBytes"].asUInt64(), 0u) << to_json(gws);
  auto table = topology_.exec("gw", {"nft", "list", "table", "inet", "mnigs_websocket"});
  EXPECT_EQ(table.exit_code, 0) << table.err;
  EXPECT_TRUE(contains(table.out, "masquerade")) << table.out;
  // And the subscriber counts what went through its connection: both
  // answers came in through it.
  Json::Value traffic = sub_->rpc("listSessions")["result"]["subscriber"]["connection"]["traffic"];
  EXPECT_EQ(traffic["device"], kTunnel) << to_json(traffic);
  EXPECT_TRUE(traffic["counted"].asBool()) << to_json(traffic);
  EXPECT_GT(traffic["packetsOut"].asUInt64(), 0u) << to_json(traffic);
  EXPECT_GE(traffic["bytesIn"].asUInt64(), through.body.size() + six.body.size())
      << to_json(traffic);

  auto down = sub_->cli({"-d"});
  EXPECT_EQ(down.exit_code, 0) << down.out << down.err;
  EXPECT_FALSE(fetch_from_sub(2s).ok) << "sub still reaches inet after disconnecting";
  EXPECT_FALSE(contains(ip("sub", {"link", "show"}), kTunnel)) << "the tunnel device is left";
  EXPECT_FALSE(contains(ip("sub", {"rule", "show"}), std::to_string(kPriority) + ":"))
      << ip("sub", {"rule", "show"});
}

TEST_F(Websocket, SubscriberReconnectsOnTheSameSessionWhenTheLinkDies) {
  ASSERT_NO_FATAL_FAILURE(connect_sub());
  ASSERT_TRUE(fetch_from_sub().ok);
  const Json::Value before = plugin_status(*sub_)["subscriber"]["sessions"][0];
  const std::string session = before["session"].asString();
  const std::uint64_t connects = before["connects"].asUInt64();
  ASSERT_EQ(connects, 1u);

  // Kill the gateway's end of the WebSocket (not the daemon): every TCP
  // connection to its wss port is reset by the kernel.
  ASSERT_NO_FATAL_FAILURE(reset_wss_connections());

  ASSERT_TRUE(wait_until(
      [&] {
        auto s = plugin_status(*sub_)["subscriber"]["sessions"][0];
        return s["connected"].asBool() && s["connects"].asUInt64() > connects;
      },
      150, 100ms))
      << to_json(plugin_status(*sub_)) << sub_->log_tail();
  EXPECT_TRUE(gw_->running());
  EXPECT_EQ(plugin_status(*sub_)["subscriber"]["sessions"][0]["session"].asString(), session);
  EXPECT_TRUE(contains(ip("sub", {"-4", "-o", "addr", "show", "dev", kTunnel}), "10.98.0.2/24"));
  FetchResult again = fetch_from_sub();
  ASSERT_TRUE(again.ok) << again.error << to_json(plugin_status(*sub_));
  EXPECT_EQ(again.body, masqueraded());
}

// What crosses the mesh is TLS (tshark decodes application data records on
// the wss port), and neither the page fetched through the tunnel nor the
// session's token appears in it.
TEST_F(Websocket, TheTunnelIsEncryptedOnTheWire) {
  Capture capture(topology_.ns("gw"), topology_.interface("gw", "sub"), "tcp",
                  sub_->dir() + "/wss.pcap");
  ASSERT_NO_FATAL_FAILURE(connect_sub());
  FetchResult through = fetch_from_sub();
  ASSERT_TRUE(through.ok) << through.error;
  ASSERT_EQ(through.body, masqueraded());
  const std::string token =
      sub_->rpc("listSessions")["result"]["subscriber"]["connection"]["tunnel"]["token"].asString();
  ASSERT_FALSE(token.empty());

  const std::string records =
      // TLS 1.3 records all say "application data" (23) outside: the
      // outer (opaque) type; TLS 1.2 has only the one type.
      capture.fields("tls.record.opaque_type == 23 || tls.record.content_type == 23",
                     {"tcp.srcport", "tcp.dstport"},
                     "tcp.port==" + std::to_string(kTlsPort) + ",tls");
  EXPECT_FALSE(records.empty()) << "no TLS application data on the wire";
  std::istringstream lines(records);
  for (std::string line; std::getline(lines, line);)
    EXPECT_TRUE(contains(line, std::to_string(kTlsPort))) << line;
  // And it began with a TLS handshake (a ClientHello) on that port.
  EXPECT_FALSE(capture.fields("tls.handshake.type == 1", {"tcp.dstport"},
                              "tcp.port==" + std::to_string(kTlsPort) + ",tls")
                   .empty());
  const std::string wire = capture.bytes();
  EXPECT_FALSE(contains(wire, through.body)) << "the fetched page crossed the mesh in the clear";
  EXPECT_FALSE(contains(wire, "X-Mnigs-Session")) << "the upgrade request crossed in the clear";
  // The token does cross in the clear, once, in the reply to
  // requestConnection on the RPC port (the mesh-facing RPC is plain HTTP);
  // never on the wss port, and it opens no plain ws link to this session
  // (below).
  Json::Value session(Json::objectValue);
  session["sessionId"] =
      sub_->rpc("listSessions")["result"]["subscriber"]["connection"]["sessionId"];
  session["tunnel"]["path"] = "/ws/websocket";
  session["tunnel"]["token"] = token;
  auto plain = open_raw(session);
  EXPECT_TRUE(contains(plain->received(), "HTTP/1.1 403")) << plain->received();
  EXPECT_TRUE(contains(plain->received(), "uses wss")) << plain->received();
  EXPECT_TRUE(fetch_from_sub().ok) << "the plain attempt disturbed the wss link";
}

// A server with another key on the wss port (what a relay in the middle
// would be): the subscriber ends the handshake before sending anything,
// says which key it saw, and takes the real gateway back when it returns.
TEST_F(Websocket, AnotherKeyOnTheWssPortIsRefusedBeforeAnythingIsSent) {
  ASSERT_NO_FATAL_FAILURE(connect_sub());
  const std::uint64_t connects =
      plugin_status(*sub_)["subscriber"]["sessions"][0]["connects"].asUInt64();
  const std::string dir = sub_->dir();
  auto made = run_command({"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                           "ec_paramgen_curve:P-256", "-nodes", "-keyout", dir + "/impostor.key",
                           "-out", dir + "/impostor.crt", "-subj", "/CN=impostor", "-days", "1"},
                          "", 30s);
  ASSERT_EQ(made.exit_code, 0) << made.err;
  const pid_t impostor =
      spawn_in_ns(topology_.ns("gw"),
                  {"/usr/bin/openssl", "s_server", "-accept", "65529", "-cert",
                   dir + "/impostor.crt", "-key", dir + "/impostor.key", "-quiet"},
                  dir + "/impostor.log");
  // gw's wss port now leads to it.
  const std::string redirect =
      "table ip mnigs_test_impostor {\n"
      "  chain prerouting { type nat hook prerouting priority dstnat; policy accept;\n"
      "    tcp dport " + std::to_string(kTlsPort) + " redirect to :65529\n  }\n}\n";
  std::ofstream(dir + "/impostor.nft") << redirect;
  auto nft = run_command({"nft", "-f", dir + "/impostor.nft"}, topology_.ns("gw"), 10s);
  ASSERT_EQ(nft.exit_code, 0) << nft.err;
  ASSERT_NO_FATAL_FAILURE(reset_wss_connections());

  std::string error;
  EXPECT_TRUE(wait_until(
      [&] {
        error = plugin_status(*sub_)["subscriber"]["sessions"][0]["lastError"].asString();
        return contains(error, "not the pinned");
      },
      100, 100ms))
      << to_json(plugin_status(*sub_));
  const std::string key = plugin_status(*gw_)["gateway"]["tls"]["key"].asString();
  EXPECT_TRUE(contains(error, "not the pinned " + key)) << error;
  EXPECT_FALSE(plugin_status(*sub_)["subscriber"]["sessions"][0]["connected"].asBool());
  EXPECT_FALSE(fetch_from_sub(2s).ok) << "traffic went through the impostor";
  std::ifstream log(dir + "/impostor.log");
  std::stringstream heard;
  heard << log.rdbuf();
  EXPECT_FALSE(contains(heard.str(), "X-Mnigs-Session")) << heard.str();
  EXPECT_FALSE(contains(heard.str(), "Authorization")) << heard.str();

  // The real gateway back: the same session, over wss again.
  auto removed =
      run_command({"nft", "delete", "table", "ip", "mnigs_test_impostor"}, topology_.ns("gw"), 10s);
  EXPECT_EQ(removed.exit_code, 0) << removed.err;
  terminate_processes({impostor});
  EXPECT_TRUE(wait_until(
      [&] {
        auto s = plugin_status(*sub_)["subscriber"]["sessions"][0];
        return s["connected"].asBool() && s["connects"].asUInt64() > connects;
      },
      200, 100ms))
      << to_json(plugin_status(*sub_));
  FetchResult again = fetch_from_sub();
  EXPECT_TRUE(again.ok) << again.error;
}

// Plain HTTP, and a TLS client that gives up, on the wss port: refused,
// counted and logged with OpenSSL's reason; the tunnel goes on.
TEST_F(Websocket, PlainHttpOnTheWssPortIsRefusedAndCounted) {
  ASSERT_NO_FATAL_FAILURE(connect_sub());
  {
    RawClient c(topology_.ns("sub"), gateway_address(), kTlsPort);
    c.send(upgrade_request(gateway_address(), "/ws/websocket", {}));
    EXPECT_TRUE(c.closed_within(5s));
    EXPECT_FALSE(contains(c.received(), "HTTP/1.1 101")) << c.received();
  }
  {
    RawClient c(topology_.ns("sub"), gateway_address(), kTlsPort);
    c.send(std::string("\x16\x03\x01\x00\x05hello", 10));  // a record too short
    EXPECT_TRUE(c.closed_within(5s));
  }
  Json::Value tls;
  EXPECT_TRUE(wait_until(
      [&] {
        tls = plugin_status(*gw_)["gateway"]["tls"];
        return tls["handshakesFailed"].asUInt64() >= 2;
      },
      50, 100ms))
      << to_json(tls);
  EXPECT_TRUE(contains(gw_->log(), "http request")) << gw_->log_tail();
  EXPECT_TRUE(gw_->running());
  FetchResult through = fetch_from_sub();
  EXPECT_TRUE(through.ok) << through.error;
}

TEST_F(Websocket, UpgradesWithoutASessionOrWithAWrongTokenAreRefused) {
  const std::string path = "/ws/websocket";
  {
    RawClient c(topology_.ns("sub"), gateway_address(), gw_->rpc_port());
    c.send(upgrade_request(gateway_address(), path, {}));
    EXPECT_TRUE(contains(c.receive("\r\n\r\n", 5s), "HTTP/1.1 401")) << c.received();
    EXPECT_TRUE(c.closed_within(5s));
  }
  Json::Value s = request_session();
  {
    RawClient c(topology_.ns("sub"), gateway_address(), gw_->rpc_port());
    c.send(upgrade_request(gateway_address(), path,
                           {"X-Mnigs-Session: " + s["sessionId"].asString(),
                            "Authorization: Bearer 00" + s["tunnel"]["token"].asString().substr(2)}));
    EXPECT_TRUE(contains(c.receive("\r\n\r\n", 5s), "HTTP/1.1 403")) << c.received();
  }
  {
    RawClient c(topology_.ns("sub"), gateway_address(), gw_->rpc_port());
    c.send(upgrade_request(gateway_address(), path,
                           {"X-Mnigs-Session: no-such-session", "Authorization: Bearer 00"}));
    EXPECT_TRUE(contains(c.receive("\r\n\r\n", 5s), "HTTP/1.1 403")) << c.received();
  }
  EXPECT_EQ(plugin_status(*gw_)["gateway"]["upgradesRefused"].asUInt64(), 3u)
      << to_json(plugin_status(*gw_));
  // Anyone who reaches the port can be refused: the log takes 5 lines per
  // 10 s of it, the counter every one.
  for (int i = 0; i < 10; ++i) {
    RawClient c(topology_.ns("sub"), gateway_address(), gw_->rpc_port());
    c.send(upgrade_request(gateway_address(), path, {}));
    c.receive("\r\n\r\n", 5s);
  }
  EXPECT_EQ(plugin_status(*gw_)["gateway"]["upgradesRefused"].asUInt64(), 13u);
  std::size_t logged = 0;
  const std::string log = gw_->log();
  for (auto at = log.find("refused a tunnel"); at != std::string::npos;
       at = log.find("refused a tunnel", at + 1))
    ++logged;
  EXPECT_LE(logged, 5u) << gw_->log_tail();
  EXPECT_GE(logged, 3u) << gw_->log_tail();
  // The right token gets the upgrade, and the RPC port still answers.
  auto ok = open_raw(s);
  EXPECT_TRUE(contains(ok->received(), "HTTP/1.1 101")) << ok->received();
  EXPECT_TRUE(rpc_succeeded(gw_->rpc("nodeInfo")));
}

TEST_F(Websocket, BadFramesFromAConnectedPeerAreDroppedAndTheDaemonGoesOn) {
  Json::Value s = request_session();
  const std::string own = s["tunnel"]["address4"].asString();
  ASSERT_EQ(own, "10.98.0.2") << to_json(s);
  auto c = open_raw(s);
  ASSERT_TRUE(contains(c->received(), "HTTP/1.1 101")) << c->received();

  // A packet from someone else's address, and a text message: dropped and
  // counted, the link stays.
  c->send(client_frame(2, udp_message("10.98.0.77", web_->address())));
  c->send(client_frame(1, "hello"));
  // A ping gets its pong, so the link is still served after both.
  c->send(client_frame(9, "still-there"));
  EXPECT_TRUE(contains(c->receive("still-there", 5s), "still-there"));
  Json::Value gw = plugin_status(*gw_)["gateway"];
  EXPECT_EQ(gw["droppedSpoofed"].asUInt64(), 1u) << to_json(gw);
  EXPECT_TRUE(wait_until([&] { return plugin_status(*gw_)["gateway"]["sessions"][0]["connected"].asBool(); }, 20, 100ms));

  // A frame larger than any packet: the gateway closes with 1009.
  c->send(oversized_header(10u << 20));
  EXPECT_TRUE(c->closed_within(5s));
  EXPECT_TRUE(contains(c->received(), std::string("\x88", 1))) << "no close frame";
  EXPECT_TRUE(contains(c->received(), std::string("\x03\xf1", 2))) << "close code is not 1009";
  EXPECT_TRUE(gw_->running());
  EXPECT_TRUE(rpc_succeeded(gw_->rpc("nodeInfo")));

  // The session itself survives its broken link: the right peer comes back.
  auto again = open_raw(s);
  EXPECT_TRUE(contains(again->received(), "HTTP/1.1 101")) << again->received();
}


// ------------------------------------------------------ the layer-2 switch
//
//   gw, p1, p2, p3 on one LAN (bridge "lan", 10.77.1.0/24); p4 behind p3
//   (link p3-p4). p1, p2 and p3 join gw's switch with websocket.join; their
//   taps get 10.96.0.1, .2 and .3 (p3's on a Linux bridge with its link to
//   p4, which gets 10.96.0.4): p3 is a bridge peer, p4 is reached through it.

class WebsocketSwitch : public SystemTest {
 protected:
  void SetUp() override {
    SystemTest::SetUp();
    if (HasFatalFailure()) return;
    topology_.node("gw").node("p1").node("p2").node("p3").node("p4");
    topology_.bridge("lan", {"gw", "p1", "p2", "p3"}).link("p3", "p4");
    topology_.up();
    gw_ = std::make_unique<Node>(topology_, "gw",
                                 NodeOptions()
                                     .only_discovery("static")
                                     .set("gateway", "enabled", "true")
                                     .set("websocket", "l2Auth", "none"));
    gw_->start();
    for (const char* name : {"p1", "p2", "p3"}) {
      peers_.push_back(std::make_unique<Node>(topology_, name, NodeOptions().only_discovery("static")));
      peers_.back()->start();
    }
    gw_->wait_ready();
    for (auto& p : peers_) p->wait_ready();
    // The switch starts once the gateway's plugins are reset.
    ASSERT_TRUE(wait_until(
        [&] { return switch_status()["running"].asBool(); }, 50, 100ms))
        << to_json(switch_status());
  }

  std::string url() const {
    return "ws://" + topology_.address("gw", "lan") + ":" + std::to_string(gw_->rpc_port()) + "/vpn";
  }
  Json::Value switch_status() const {
    Json::Value r = gw_->rpc("listPlugins");
    for (const auto& p : r["result"]["plugins"])
      if (p["name"].asString() == "websocket") return p["status"]["switch"];
    return Json::Value();
  }
  Json::Value join(Node& node, bool bridge) const {
    Json::Value params(Json::objectValue);
    params["url"] = url();
    params["interface"] = "mnl2";
    params["bridge"] = bridge;
    return node.rpc("websocket.join", params);
  }
  void run(const std::string& node, const std::vector<std::string>& argv) const {
    auto r = topology_.exec(node, argv, 10s);
    ASSERT_EQ(r.exit_code, 0) << node << ": " << r.err;
  }

  Topology topology_;
  std::unique_ptr<Node> gw_;
  std::vector<std::unique_ptr<Node>> peers_;
};

TEST_F(WebsocketSwitch, PeersReachEachOtherAndABridgePeerCarriesTheHostsBehindIt) {
  // Params of the wrong type are refused, and the plugin goes on.
  for (const char* key : {"interface", "mac", "bridge", "token"}) {
    Json::Value params(Json::objectValue);
    params["url"] = url();
    params[key] = Json::Value(Json::objectValue);
    Json::Value r = peers_[0]->rpc("websocket.join", params);
    EXPECT_EQ(rpc_error_code(r), -32602) << key << ": " << to_json(r);
  }
  for (std::size_t i = 0; i < peers_.size(); ++i) {
    Json::Value r = join(*peers_[i], i == 2);
    ASSERT_TRUE(rpc_succeeded(r)) << to_json(r);
  }
  run("p1", {"ip", "addr", "add", "10.96.0.1/24", "dev", "mnl2"});
  run("p2", {"ip", "addr", "add", "10.96.0.2/24", "dev", "mnl2"});
  // p3 bridges its tap and its link to p4.
  run("p3", {"ip", "link", "add", "br-l2", "type", "bridge"});
  run("p3", {"ip", "link", "set", "mnl2", "master", "br-l2"});
  run("p3", {"ip", "addr", "flush", "dev", topology_.interface("p3", "p4")});
  run("p3", {"ip", "link", "set", topology_.interface("p3", "p4"), "master", "br-l2"});
  run("p3", {"ip", "addr", "add", "10.96.0.3/24", "dev", "br-l2"});
  run("p3", {"ip", "link", "set", "br-l2", "up"});
  run("p4", {"ip", "addr", "flush", "dev", topology_.interface("p4", "p3")});
  run("p4", {"ip", "addr", "add", "10.96.0.4/24", "dev", topology_.interface("p4", "p3")});
  ASSERT_TRUE(wait_until([&] { return switch_status()["peers"].size() == 3; }, 100, 100ms))
      << to_json(switch_status());

  HttpEcho at_p2(topology_.ns("p2"), "10.96.0.2", kWebPort);
  HttpEcho at_p4(topology_.ns("p4"), "10.96.0.4", kWebPort);
  HttpEcho at_p1(topology_.ns("p1"), "10.96.0.1", kWebPort);
  FetchResult a = fetch(topology_.ns("p1"), "10.96.0.2", kWebPort, "/", 5s);
  ASSERT_TRUE(a.ok) << a.error << to_json(switch_status());
  EXPECT_EQ(a.body, "client=10.96.0.1\n");
  FetchResult b = fetch(topology_.ns("p1"), "10.96.0.4", kWebPort, "/", 5s);
  ASSERT_TRUE(b.ok) << b.error << to_json(switch_status());
  EXPECT_EQ(b.body, "client=10.96.0.1\n");
  FetchResult c = fetch(topology_.ns("p4"), "10.96.0.1", kWebPort, "/", 5s);
  ASSERT_TRUE(c.ok) << c.error;
  EXPECT_EQ(c.body, "client=10.96.0.4\n");

  // p4's MAC (at least) is learned for p3, the bridge peer.
  Json::Value st = switch_status();
  bool learned = false;
  for (const auto& p : st["peers"])
    if (p["bridge"].asBool() && p["learned"].asUInt64() >= 1) learned = true;
  EXPECT_TRUE(learned) << to_json(st);
  EXPECT_GT(st["frames"]["forwarded"].asUInt64(), 0u) << to_json(st);

  // Leaving removes the tap.
  Json::Value left = peers_[0]->rpc("websocket.leave", [] {
    Json::Value p(Json::objectValue);
    p["interface"] = "mnl2";
    return p;
  }());
  EXPECT_TRUE(rpc_succeeded(left)) << to_json(left);
  EXPECT_TRUE(wait_until(
      [&] { return topology_.exec("p1", {"ip", "link", "show", "mnl2"}, 5s).exit_code != 0; }, 50,
      100ms));
  EXPECT_TRUE(wait_until([&] { return switch_status()["peers"].size() == 2; }, 100, 100ms))
      << to_json(switch_status());
}

// The switch over wss: peers that join with the gateway's key (from its
// nodeInfo) reach each other; one holding another key never joins, and its
// status says why.
TEST_F(WebsocketSwitch, PeersJoinOverWssHeldToTheGatewaysKey) {
  const std::string key = gw_->rpc("nodeInfo")["result"]["tunnelKeys"]["websocket"].asString();
  ASSERT_EQ(key.rfind("sha256:", 0), 0u) << to_json(gw_->rpc("nodeInfo"));
  const std::string wss = "wss://" + topology_.address("gw", "lan") + ":65530/vpn";
  auto join_wss = [&](Node& node, const std::string& with) {
    Json::Value params(Json::objectValue);
    params["url"] = wss;
    params["interface"] = "mnl2";
    params["key"] = with;
    return node.rpc("websocket.join", params);
  };
  // A wss url needs a key, and a key a wss url.
  Json::Value keyless(Json::objectValue);
  keyless["url"] = wss;
  EXPECT_EQ(rpc_error_code(peers_[0]->rpc("websocket.join", keyless)), -32602);
  Json::Value plain(Json::objectValue);
  plain["url"] = url();
  plain["key"] = key;
  EXPECT_EQ(rpc_error_code(peers_[0]->rpc("websocket.join", plain)), -32602);

  ASSERT_TRUE(rpc_succeeded(join_wss(*peers_[0], key)));
  ASSERT_TRUE(rpc_succeeded(join_wss(*peers_[1], key)));
  const std::string other = "sha256:" + std::string(64, '0');
  ASSERT_TRUE(rpc_succeeded(join_wss(*peers_[2], other)));
  run("p1", {"ip", "addr", "add", "10.96.0.1/24", "dev", "mnl2"});
  run("p2", {"ip", "addr", "add", "10.96.0.2/24", "dev", "mnl2"});
  ASSERT_TRUE(wait_until([&] { return switch_status()["peers"].size() == 2; }, 100, 100ms))
      << to_json(switch_status());
  HttpEcho at_p2(topology_.ns("p2"), "10.96.0.2", kWebPort);
  FetchResult a = fetch(topology_.ns("p1"), "10.96.0.2", kWebPort, "/", 5s);
  ASSERT_TRUE(a.ok) << a.error << to_json(switch_status());
  EXPECT_EQ(a.body, "client=10.96.0.1\n");

  auto joined_error = [&] {
    Json::Value r = peers_[2]->rpc("listPlugins");
    for (const auto& p : r["result"]["plugins"])
      if (p["name"].asString() == "websocket") return p["status"]["joined"][0]["lastError"];
    return Json::Value();
  };
  EXPECT_TRUE(wait_until(
      [&] { return contains(joined_error().asString(), "not the pinned " + other); }, 50, 100ms))
      << to_json(joined_error());
  EXPECT_EQ(switch_status()["peers"].size(), 2u) << to_json(switch_status());
}

// What a vpn-ws client sends: a 10-byte key, no Sec-WebSocket-Version, its
// MAC, masked frames, and an unmasked ping when idle.
std::string vpnws_request(const std::string& host, const std::string& mac) {
  return "GET /vpn HTTP/1.1\r\nHost: " + host +
         "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Key: AQIDBAUGBwgJCg==\r\nX-vpn-ws-MAC: " + mac + "\r\n\r\n";
}

std::string ethernet_frame(const std::string& dst, const std::string& src) {
  auto bytes = [](const std::string& mac) {
    std::string out;
    for (std::size_t i = 0; i < 17; i += 3) out += static_cast<char>(std::stoi(mac.substr(i, 2), nullptr, 16));
    return out;
  };
  return bytes(dst) + bytes(src) + std::string("\x88\xb5", 2) + std::string(46, 'x');
}

TEST_F(WebsocketSwitch, AVpnWsShapedClientIsAcceptedAndItsSpoofedFramesAreDropped) {
  const std::string host = topology_.address("gw", "lan");
  RawClient a(topology_.ns("p1"), host, gw_->rpc_port());
  a.send(vpnws_request(host, "02:00:00:00:00:0a"));
  ASSERT_TRUE(contains(a.receive("\r\n\r\n", 5s), "HTTP/1.1 101")) << a.received();
  // The RFC's answer to a 10-byte key: base64(SHA-1(key + GUID)).
  EXPECT_TRUE(contains(a.received(), "Sec-WebSocket-Accept: ")) << a.received();
  RawClient b(topology_.ns("p2"), host, gw_->rpc_port());
  b.send(vpnws_request(host, "02:00:00:00:00:0b"));
  ASSERT_TRUE(contains(b.receive("\r\n\r\n", 5s), "HTTP/1.1 101")) << b.received();
  // The 101 leaves before the switch has taken the connection over: until
  // then a frame for b has nowhere to go.
  ASSERT_TRUE(wait_until([&] { return switch_status()["peers"].size() == 2; }, 50, 100ms))
      << to_json(switch_status());

  // An unmasked ping (as the client sends after 17 s idle) is answered.
  a.send(std::string("\x89\x04ping", 6));
  EXPECT_TRUE(contains(a.receive("ping", 5s), std::string("\x8a\x04ping", 6))) << a.received();

  // a -> b, from a's own MAC: delivered to b as one binary message.
  const std::string good = ethernet_frame("02:00:00:00:00:0b", "02:00:00:00:00:0a");
  a.send(client_frame(2, good));
  EXPECT_TRUE(contains(b.receive(good, 5s), good));
  // From a MAC that is not a's: dropped, counted, never seen by b.
  const std::string spoofed = ethernet_frame("02:00:00:00:00:0b", "02:00:00:00:00:0c");
  a.send(client_frame(2, spoofed));
  EXPECT_TRUE(wait_until([&] { return switch_status()["frames"]["spoofed"].asUInt64() == 1; }, 50,
                         100ms))
      << to_json(switch_status());
  b.receive(spoofed, 1s);
  EXPECT_FALSE(contains(b.received(), spoofed));
  EXPECT_EQ(switch_status()["peers"].size(), 2u) << to_json(switch_status());
  EXPECT_TRUE(rpc_succeeded(gw_->rpc("nodeInfo")));
}

TEST_F(WebsocketSwitch, WithSessionAuthAStrangerIsRefused) {
  gw_->stop();
  gw_->options().set("websocket", "l2Auth", "session");
  gw_->launch();
  const std::string host = topology_.address("gw", "lan");
  ASSERT_TRUE(wait_until([&] { return switch_status()["running"].asBool(); }, 50, 100ms));
  RawClient a(topology_.ns("p1"), host, gw_->rpc_port());
  a.send(vpnws_request(host, "02:00:00:00:00:0a"));
  EXPECT_TRUE(contains(a.receive("\r\n\r\n", 5s), "HTTP/1.1 403")) << a.received();
  EXPECT_TRUE(switch_status()["peers"].empty()) << to_json(switch_status());
}
}  // namespace
}  // namespace mnigs::test
