// The subscriber's auto mode and failover end to end, with the forwarding
// tunnel: a subscriber with subscriber.auto on finds its gateways by itself
// (its own scan request, static discovery), connects to the first one on
// subscriber.prefer, and when that one goes silent (every packet on its
// mesh link dropped) moves to the next, so that traffic resumes; with every
// gateway silent it says so, and takes the first one that comes back. A
// manual connect pins its gateway until auto mode is turned on again. The
// gateways answer health probes of their session holders only.
//
//          .---- gw1 ----.        links 1-3: 10.77.n.0/24 (gwN .1, sub .2)
//   sub --+----- gw2 -----+-- inet     links 4-6: 10.77.n.0/24 (gwN .1, inet .2)
//          `---- gw3 ----'
//
// "inet" runs no mnigsd, only an HTTP server on 10.99.0.1 (its loopback)
// that reports the source address it saw; each gateway has a route to that
// one address through its own uplink and masquerades, so the address the
// server saw says which gateway a request went through. No namespace has a
// default route: sub gets out only through mnigs's route via a gateway.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "harness/http_echo.hpp"
#include "harness/system_test.hpp"
#include "harness/wait.hpp"

namespace mnigs::test {
namespace {

// The suite of the shipped plugins discovery/static, tunnel/forwarding and
// payment/free.
const std::string kSuite = "static-forwarding-free";
// The "Internet" host: on inet's loopback, one route away from each gateway.
const std::string kWebAddress = "10.99.0.1";
constexpr int kWebPort = 80;
// The daemons' RPC port, where the gateways answer health probes (UDP).
constexpr int kProbePort = 65533;
// subscriber.holdDown on sub, in seconds: a gateway left is out of the
// choice for this long.
constexpr int kHoldDown = 3;
// The nft table a test adds to a gateway to cut it off the mesh.
const std::string kBlackhole = "mnigs_test_blackhole";

const std::vector<std::string> kGateways = {"gw1", "gw2", "gw3"};

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// A probe request as core/probe/packet.hpp lays it out: magic "MNPB",
// version 1, type 1 (request), flags 0, reserved 0, sequence and timestamp
// big-endian; 20 bytes, no padding.
std::string probe_request(std::uint32_t sequence, std::uint64_t timestamp) {
  std::string p = "MNPB";
  p += static_cast<char>(1);
  p += static_cast<char>(1);
  p += static_cast<char>(0);
  p += static_cast<char>(0);
  for (int shift = 24; shift >= 0; shift -= 8)
    p += static_cast<char>((sequence >> shift) & 0xff);
  for (int shift = 56; shift >= 0; shift -= 8)
    p += static_cast<char>((timestamp >> shift) & 0xff);
  return p;
}

// Sends `count` probe requests from inside namespace `ns` to address:port
// (IPv4), from one socket, waiting up to `wait` for an answer after each;
// returns the datagrams that came back.
std::vector<std::string> send_probes(const std::string& ns, const std::string& address, int port,
                                     int count, std::chrono::milliseconds wait = 500ms) {
  std::vector<std::string> replies;
  run_in_netns_thread(ns, [&] {
    int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) throw std::runtime_error("socket: " + std::string(std::strerror(errno)));
    timeval tv{};
    tv.tv_sec = static_cast<time_t>(wait.count() / 1000);
    tv.tv_usec = static_cast<suseconds_t>((wait.count() % 1000) * 1000);
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(static_cast<std::uint16_t>(port));
    ::inet_pton(AF_INET, address.c_str(), &to.sin_addr);
    for (int i = 0; i < count; ++i) {
      const std::string p = probe_request(0x10000 + i, 0x0102030405060708ull + i);
      if (::sendto(fd, p.data(), p.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof to) !=
          static_cast<ssize_t>(p.size())) {
        ::close(fd);
        throw std::runtime_error("sendto " + address + ": " + std::strerror(errno));
      }
      std::array<char, 1500> buffer{};
      ssize_t n = ::recv(fd, buffer.data(), buffer.size(), 0);
      if (n > 0) replies.emplace_back(buffer.data(), static_cast<std::size_t>(n));
    }
    ::close(fd);
  });
  return replies;
}

class Failover : public SystemTest {
 protected:
  void SetUp() override {
    SystemTest::SetUp();
    if (HasFatalFailure()) return;
    topology_.node("sub").node("gw1").node("gw2").node("gw3").node("inet");
    for (const auto& gw : kGateways) topology_.link(gw, "sub");
    for (const auto& gw : kGateways) topology_.link(gw, "inet");
    topology_.up();

    run_checked({"ip", "address", "add", kWebAddress + "/32", "dev", "lo"}, topology_.ns("inet"));
    web_ = std::make_unique<HttpEcho>(topology_.ns("inet"), kWebAddress, kWebPort);
    std::string peers = "[";
    std::string prefer = "[";
    for (const auto& gw : kGateways) {
      run_checked({"ip", "route", "add", kWebAddress + "/32", "via", topology_.address("inet", gw)},
                  topology_.ns(gw));
      gateways_[gw] = std::make_unique<Node>(
          topology_, gw,
          NodeOptions()
              .only_discovery("static")
              .set("gateway", "enabled", "true")
              .set("forwarding", "restrict", "true")
              .set("forwarding", "uplink", yaml_quote(topology_.interface(gw, "inet"))));
      peers += (gw == kGateways.front() ? "" : ", ") + yaml_quote(gateway_address(gw));
      prefer += (gw == kGateways.front() ? "" : ", ") + yaml_quote(gw);
    }
    peers += "]";
    prefer += "]";
    // Background scans off: auto mode must ask for the scan that finds the
    // gateways itself.
    sub_ = std::make_unique<Node>(topology_, "sub",
                                  NodeOptions()
                                      .only_discovery("static")
                                      .set("static", "peers", peers)
                                      .set("scan", "interval", "0")
                                      .set("scan", "timeout", "1000")
                                      .set("subscriber", "auto", "true")
                                      .set("subscriber", "prefer", prefer)
                                      .set("subscriber", "holdDown", std::to_string(kHoldDown)));
    for (Node* n : nodes()) n->start();
    for (Node* n : nodes()) n->wait_ready();

    for (const auto& gw : kGateways) {
      // The server is reachable from each gateway, straight over its uplink.
      FetchResult direct = fetch(topology_.ns(gw), kWebAddress, kWebPort, "/", 5s);
      ASSERT_TRUE(direct.ok) << gw << ": " << direct.error;
      ASSERT_EQ(direct.body, seen_from(gw));
      Json::Value info = gateway(gw).rpc("nodeInfo");
      ASSERT_TRUE(rpc_succeeded(info)) << to_json(info);
      const auto& suites = info["result"]["suites"];
      ASSERT_TRUE(std::find(suites.begin(), suites.end(), Json::Value(kSuite)) != suites.end())
          << gw << " does not offer " << kSuite << ": " << to_json(info["result"]);
    }
  }

  void TearDown() override {
    // Nothing stays cut off while the daemons shut down.
    if (!topology_.is_up()) return;
    for (const auto& gw : kGateways)
      topology_.exec(gw, {"nft", "delete", "table", "inet", kBlackhole});
  }

  std::vector<Node*> nodes() const {
    std::vector<Node*> out = {sub_.get()};
    for (const auto& gw : kGateways) out.push_back(gateways_.at(gw).get());
    return out;
  }
  Node& gateway(const std::string& gw) const { return *gateways_.at(gw); }

  // gw's address on its link to sub: what sub connects to.
  std::string gateway_address(const std::string& gw) const { return topology_.address(gw, "sub"); }
  // What the web server reports for a request that left through gw: gw's
  // uplink address, since the gateway masquerades.
  std::string seen_from(const std::string& gw) const {
    return "client=" + topology_.address(gw, "inet") + "\n";
  }

  FetchResult fetch_from_sub(std::chrono::milliseconds timeout = 5s) const {
    return fetch(topology_.ns("sub"), kWebAddress, kWebPort, "/", timeout);
  }

  // listSessions of a node: {"gateway": [...], "subscriber": {...}, "probeEcho": {...}}.
  static Json::Value sessions_of(const Node& node) {
    Json::Value response = node.rpc("listSessions");
    if (!rpc_succeeded(response))
      throw std::runtime_error("listSessions on " + node.name() + ": " + to_json(response));
    return response["result"];
  }
  Json::Value subscriber() const { return sessions_of(*sub_)["subscriber"]; }

  // Waits until sub is connected to gw; `last` gets the last subscriber state seen.
  bool wait_connected_to(const std::string& gw, Json::Value& last, int tries = 150) const {
    return wait_until(
        [&] {
          last = subscriber();
          return last["state"].asString() == "connected" &&
                 last["connection"]["gatewayAddress"].asString() == gateway_address(gw);
        },
        tries, 200ms);
  }

  // A fetch through sub's gateway that must come out at gw. A forwarding
  // rule may lag the connection by a moment, so a few tries.
  void expect_fetch_through(const std::string& gw) const {
    FetchResult r;
    const bool ok = wait_until(
        [&] {
          r = fetch_from_sub(2s);
          return r.ok;
        },
        5, 200ms);
    ASSERT_TRUE(ok) << "no fetch through " << gw << ": " << r.error << "\n"
                    << topology_.exec("sub", {"ip", "route", "show", "table", "all"}).out;
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, seen_from(gw)) << "the request did not leave through " << gw;
  }

  // Drops everything gw sends or receives on its mesh link, both what is
  // for it and what it forwards: to sub, gw is silent.
  void blackhole(const std::string& gw) const {
    const std::string t = "inet " + kBlackhole;
    const std::string iface = "\"" + topology_.interface(gw, "sub") + "\"";
    std::string script = "add table " + t + "; ";
    for (const std::string hook : {"input", "output", "forward"})
      script += "add chain " + t + " " + hook + " { type filter hook " + hook +
                " priority -10; }; ";
    script += "add rule " + t + " input iifname " + iface + " drop; ";
    script += "add rule " + t + " output oifname " + iface + " drop; ";
    script += "add rule " + t + " forward iifname " + iface + " drop; ";
    script += "add rule " + t + " forward oifname " + iface + " drop";
    run_checked({"nft", script}, topology_.ns(gw));
  }
  void restore(const std::string& gw) const {
    run_checked({"nft", "delete", "table", "inet", kBlackhole}, topology_.ns(gw));
  }

  // The test's start: sub, by itself, connected to gw1 (first on prefer).
  void expect_auto_connected_to_gw1() const {
    Json::Value last;
    ASSERT_TRUE(wait_connected_to("gw1", last))
        << "auto mode did not connect to gw1: " << to_json(last)
        << "\nlistGateways: " << to_json(sub_->rpc("listGateways"));
  }

  Topology topology_;  // declared first: destroyed after everything in it
  std::unique_ptr<HttpEcho> web_;
  std::map<std::string, std::unique_ptr<Node>> gateways_;
  std::unique_ptr<Node> sub_;
};

// ------------------------------------------------------------------- tests

TEST_F(Failover, AutoModeConnectsWithNoManualStep) {
  Json::Value last;
  ASSERT_TRUE(wait_connected_to("gw1", last))
      << "auto mode did not connect to gw1: " << to_json(last)
      << "\nlistGateways: " << to_json(sub_->rpc("listGateways"));
  EXPECT_TRUE(last["auto"].asBool()) << to_json(last);
  EXPECT_FALSE(last["pinned"].asBool()) << to_json(last);
  EXPECT_EQ(last["connection"]["suite"].asString(), kSuite) << to_json(last);
  EXPECT_EQ(last["connection"]["gatewayName"].asString(), "gw1") << to_json(last);
  // A first connection is no switch.
  EXPECT_EQ(last["switches"].size(), 0u) << to_json(last);
  ASSERT_NO_FATAL_FAILURE(expect_fetch_through("gw1"));

  // gw1 holds the session for sub's address on their link, and nobody else
  // holds one.
  Json::Value held = sessions_of(gateway("gw1"))["gateway"];
  ASSERT_EQ(held.size(), 1u) << to_json(held);
  EXPECT_EQ(held[0]["subscriber"].asString(), topology_.address("sub", "gw1"));
  EXPECT_EQ(held[0]["sessionId"].asString(), last["connection"]["sessionId"].asString());
  for (const std::string gw : {"gw2", "gw3"})
    EXPECT_TRUE(sessions_of(gateway(gw))["gateway"].empty()) << gw;

  // The probes through the tunnel reach gw1 and are answered.
  Json::Value health;
  EXPECT_TRUE(wait_until(
      [&] {
        health = subscriber()["health"];
        return health["health"].asString() == "up" && health["received"].asUInt64() > 0;
      },
      50, 100ms))
      << to_json(health);
  EXPECT_GT(sessions_of(gateway("gw1"))["probeEcho"]["answered"].asUInt64(), 0u);
}

TEST_F(Failover, ABlackholedGatewayIsLeftForAnother) {
  ASSERT_NO_FATAL_FAILURE(expect_auto_connected_to_gw1());
  ASSERT_NO_FATAL_FAILURE(expect_fetch_through("gw1"));
  const std::string first_session = subscriber()["connection"]["sessionId"].asString();

  blackhole("gw1");
  Json::Value last;
  ASSERT_TRUE(wait_connected_to("gw2", last, 100))
      << "sub did not move from the silent gw1 to gw2: " << to_json(last);
  EXPECT_NE(last["connection"]["sessionId"].asString(), first_session);
  ASSERT_NO_FATAL_FAILURE(expect_fetch_through("gw2"));

  // One switch, from gw1 to gw2, saying why.
  const Json::Value switches = subscriber()["switches"];
  ASSERT_EQ(switches.size(), 1u) << to_json(switches);
  EXPECT_EQ(switches[0]["from"].asString(), gateway_address("gw1")) << to_json(switches);
  EXPECT_EQ(switches[0]["to"].asString(), gateway_address("gw2")) << to_json(switches);
  EXPECT_TRUE(switches[0]["reason"].asString().starts_with("gateway down"))
      << to_json(switches);
  EXPECT_TRUE(sessions_of(gateway("gw3"))["gateway"].empty());

  // gw1 back on the mesh changes nothing: sub stays where it works.
  restore("gw1");
  ASSERT_NO_FATAL_FAILURE(expect_fetch_through("gw2"));
  last = subscriber();
  EXPECT_EQ(last["state"].asString(), "connected") << to_json(last);
  EXPECT_EQ(last["connection"]["gatewayAddress"].asString(), gateway_address("gw2"));
}

TEST_F(Failover, AllGatewaysDownThenOneReturns) {
  ASSERT_NO_FATAL_FAILURE(expect_auto_connected_to_gw1());
  ASSERT_NO_FATAL_FAILURE(expect_fetch_through("gw1"));

  for (const auto& gw : kGateways) blackhole(gw);
  // gw1 is left, gw2 and gw3 are tried (5 s each without an answer) and
  // fail: sub is not connected and says why.
  Json::Value last;
  const bool failed = wait_until(
      [&] {
        last = subscriber();
        const std::string error = last["lastError"].asString();
        return last["state"].asString() != "connected" &&
               (contains(error, "no usable gateway") || contains(error, "cannot reach"));
      },
      150, 200ms);
  ASSERT_TRUE(failed) << "with every gateway silent: " << to_json(last);
  EXPECT_TRUE(last["connection"].isNull()) << to_json(last);
  EXPECT_FALSE(fetch_from_sub(2s).ok);
  const std::string routes = topology_.exec("sub", {"ip", "route", "show", "table", "65533"}).out;
  EXPECT_EQ(routes, "") << "routes via a gateway left behind";

  // gw3 comes back: sub takes it by itself.
  restore("gw3");
  ASSERT_TRUE(wait_connected_to("gw3", last, 300))
      << "sub did not take gw3 when it came back: " << to_json(last);
  ASSERT_NO_FATAL_FAILURE(expect_fetch_through("gw3"));
  // The first switch is the one away from gw1, because it went down.
  const Json::Value switches = last["switches"];
  ASSERT_GE(switches.size(), 1u) << to_json(switches);
  EXPECT_EQ(switches[0]["from"].asString(), gateway_address("gw1")) << to_json(switches);
  EXPECT_EQ(switches[0]["to"].asString(), gateway_address("gw3")) << to_json(switches);
  EXPECT_TRUE(switches[0]["reason"].asString().starts_with("gateway down")) << to_json(switches);
}

TEST_F(Failover, AManualConnectPinsTheGateway) {
  ASSERT_NO_FATAL_FAILURE(expect_auto_connected_to_gw1());

  // The operator takes over: disconnect (auto mode pauses), then gw2 by hand.
  auto down = sub_->cli({"-d"});
  ASSERT_EQ(down.exit_code, 0) << down.out << down.err;
  auto up = sub_->cli({"-c", gateway_address("gw2")});
  ASSERT_EQ(up.exit_code, 0) << up.out << up.err;
  EXPECT_TRUE(contains(up.out, "connected to " + gateway_address("gw2"))) << up.out;
  Json::Value last = subscriber();
  EXPECT_TRUE(last["pinned"].asBool()) << to_json(last);
  EXPECT_TRUE(last["auto"].asBool()) << to_json(last);
  ASSERT_NO_FATAL_FAILURE(expect_fetch_through("gw2"));

  // gw2 goes silent: reported down, but the pinned connection stays.
  blackhole("gw2");
  const std::string pinned_line =
      "the connection is pinned (manual connect): staying with " + gateway_address("gw2");
  ASSERT_TRUE(wait_until([&] { return contains(sub_->log(), pinned_line); }, 100, 100ms))
      << "no decision about the silent, pinned gw2 in the log";
  last = subscriber();
  EXPECT_EQ(last["state"].asString(), "connected") << to_json(last);
  EXPECT_EQ(last["connection"]["gatewayAddress"].asString(), gateway_address("gw2"))
      << to_json(last);
  EXPECT_EQ(last["health"]["health"].asString(), "down") << to_json(last);
  EXPECT_EQ(last["switches"].size(), 0u) << to_json(last);

  // Auto mode on again: the pin is lifted and sub leaves the silent gw2.
  auto on = sub_->cli({"--auto", "on"});
  ASSERT_EQ(on.exit_code, 0) << on.out << on.err;
  ASSERT_TRUE(wait_connected_to("gw1", last, 100))
      << "after --auto on, sub stayed with the silent gw2: " << to_json(last);
  EXPECT_FALSE(last["pinned"].asBool()) << to_json(last);
  ASSERT_NO_FATAL_FAILURE(expect_fetch_through("gw1"));
  const Json::Value switches = last["switches"];
  ASSERT_EQ(switches.size(), 1u) << to_json(switches);
  EXPECT_EQ(switches[0]["from"].asString(), gateway_address("gw2")) << to_json(switches);
  EXPECT_EQ(switches[0]["to"].asString(), gateway_address("gw1")) << to_json(switches);
}

TEST_F(Failover, ProbesFromStrangersAreNotAnswered) {
  ASSERT_NO_FATAL_FAILURE(expect_auto_connected_to_gw1());
  ASSERT_TRUE(wait_until([&] { return subscriber()["health"]["health"].asString() == "up"; }, 50,
                         100ms))
      << to_json(subscriber());

  // The session holder's own probe, built here, is answered: same length,
  // type reply, its sequence and timestamp back.
  const std::vector<std::string> answered =
      send_probes(topology_.ns("sub"), gateway_address("gw1"), kProbePort, 1);
  ASSERT_EQ(answered.size(), 1u) << "gw1 did not answer its session holder's probe";
  const std::string request = probe_request(0x10000, 0x0102030405060708ull);
  ASSERT_EQ(answered[0].size(), request.size());
  EXPECT_EQ(answered[0].substr(0, 5), request.substr(0, 5));
  EXPECT_EQ(answered[0][5], 2) << "not a reply";
  EXPECT_EQ(answered[0].substr(8), request.substr(8));

  // inet holds no session: gw1 answers nothing on its uplink address.
  constexpr int kCount = 5;
  const Json::Value before = sessions_of(gateway("gw1"))["probeEcho"];
  EXPECT_EQ(before["holders"].asUInt64(), 1u) << to_json(before);
  const auto from_inet =
      send_probes(topology_.ns("inet"), topology_.address("gw1", "inet"), kProbePort, kCount);
  EXPECT_TRUE(from_inet.empty()) << from_inet.size() << " replies to a stranger";
  Json::Value after;
  EXPECT_TRUE(wait_until(
      [&] {
        after = sessions_of(gateway("gw1"))["probeEcho"];
        return after["notHolder"].asUInt64() >= before["notHolder"].asUInt64() + kCount;
      },
      20, 100ms));
  EXPECT_EQ(after["notHolder"].asUInt64(), before["notHolder"].asUInt64() + kCount)
      << to_json(before) << " -> " << to_json(after);
  EXPECT_EQ(after["malformed"], before["malformed"]);

  // A session with gw1 is no session with gw2: sub is a stranger there.
  const Json::Value before2 = sessions_of(gateway("gw2"))["probeEcho"];
  const auto from_sub =
      send_probes(topology_.ns("sub"), gateway_address("gw2"), kProbePort, kCount);
  EXPECT_TRUE(from_sub.empty()) << from_sub.size() << " replies from gw2 to a non-holder";
  Json::Value after2;
  EXPECT_TRUE(wait_until(
      [&] {
        after2 = sessions_of(gateway("gw2"))["probeEcho"];
        return after2["notHolder"].asUInt64() >= before2["notHolder"].asUInt64() + kCount;
      },
      20, 100ms));
  EXPECT_EQ(after2["notHolder"].asUInt64(), before2["notHolder"].asUInt64() + kCount)
      << to_json(before2) << " -> " << to_json(after2);
  EXPECT_EQ(after2["answered"].asUInt64(), 0u) << to_json(after2);
  EXPECT_EQ(after2["holders"].asUInt64(), 0u) << to_json(after2);
}

}  // namespace
}  // namespace mnigs::test
