// The subscriber's auto mode and failover end to end, through the forwarding
// tunnel (and the websocket tunnel's warm standby): a subscriber with
// subscriber.auto on finds its gateways by itself (its own scan request,
// static discovery), connects to the first one on
// subscriber.prefer, and when that one goes silent (every packet on its
// mesh link dropped) moves to the next, so that traffic resumes; with every
// gateway silent it says so, and takes the first one that comes back. A
// manual connect pins its gateway until auto mode is turned on again. The
// gateways answer health probes of their session holders only. Each gateway
// checks its uplink against the web server (gateway.uplinkCheck): one whose
// uplink is cut withdraws its offer and its subscriber moves. Heavy loss on
// the path to the gateway makes sub move, light loss does not, and a gateway
// that keeps dropping off and coming back costs at most one switch.
//
//                 .---- gw1 ----.        links 1-3: 10.77.n.0/24 (gwN .1, sub .2)
//   lan -- sub --+----- gw2 -----+-- inet     links 4-6: 10.77.n.0/24 (gwN .1, inet .2)
//                 `---- gw3 ----'             link 7: lan, sub's LAN (subscriber.lan)
//
// "inet" runs no mnigsd, only an HTTP server and a UDP echo on 10.99.0.1 (its
// loopback) that report the source address they saw; each gateway has a
// route to that one address through its own uplink and masquerades, so the
// address the server saw says which gateway a request went through. No
// namespace has a default route but lan, whose default route is sub: sub
// gets out only through mnigs's route via a gateway. A host on sub's LAN
// keeps working across a switch with no action of its own.
//
// This header holds the lab and its helpers, shared by 14_failover_test.cpp
// (the forwarding tunnel) and 14_failover_websocket_test.cpp.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "harness/http_echo.hpp"
#include "harness/system_test.hpp"
#include "harness/udp.hpp"
#include "harness/wait.hpp"

namespace mnigs::test {

// The suite of the shipped plugins discovery/static, tunnel/forwarding and
// payment/free.
inline const std::string kSuite = "static-forwarding-free";
// The "Internet" host: on inet's loopback, one route away from each gateway.
inline const std::string kWebAddress = "10.99.0.1";
inline constexpr int kWebPort = 80;
// The daemons' RPC port, where the gateways answer health probes (UDP).
inline constexpr int kProbePort = 65533;
// subscriber.holdDown on sub, in seconds: a gateway left is out of the
// choice for this long.
inline constexpr int kHoldDown = 3;
// The nft table a test adds to a gateway to drop packets on one of its links.
inline const std::string kBlackhole = "mnigs_test_blackhole";
// gateway.uplinkStable on the gateways, in seconds: how long the web server
// must answer before a gateway whose uplink was cut offers again.
inline constexpr int kUplinkStable = 2;

// JSON-RPC error "unavailable" (rpc_error::unavailable).
inline constexpr int kUnavailable = -32002;

inline const std::vector<std::string> kGateways = {"gw1", "gw2", "gw3"};

inline bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// A probe request as core/probe/packet.hpp lays it out: magic "MNPB",
// version 1, type 1 (request), flags 0, reserved 0, sequence and timestamp
// big-endian; 20 bytes, no padding.
inline std::string probe_request(std::uint32_t sequence, std::uint64_t timestamp) {
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
inline std::vector<std::string> send_probes(const std::string& ns, const std::string& address,
                                            int port, int count,
                                            std::chrono::milliseconds wait = 500ms) {
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

// Answers each datagram to address:port inside namespace `ns` with
// "client=SOURCE\n", as the web server does, until destroyed.
class UdpEcho {
 public:
  UdpEcho(const std::string& ns, const std::string& address, int port) {
    fd_ = udp_socket_in(ns);
    sockaddr_in at = ipv4_endpoint(address, port);
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&at), sizeof at) != 0) {
      const std::string why = std::strerror(errno);
      ::close(fd_);
      throw std::runtime_error("bind " + address + ": " + why);
    }
    thread_ = std::thread([this] { serve(); });
  }
  ~UdpEcho() {
    stop_ = true;
    thread_.join();
    ::close(fd_);
  }
  UdpEcho(const UdpEcho&) = delete;
  UdpEcho& operator=(const UdpEcho&) = delete;

 private:
  void serve() {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      std::array<char, 1500> buffer{};
      sockaddr_in from{};
      socklen_t length = sizeof from;
      if (::recvfrom(fd_, buffer.data(), buffer.size(), 0, reinterpret_cast<sockaddr*>(&from),
                     &length) < 0)
        continue;
      std::array<char, INET_ADDRSTRLEN> text{};
      ::inet_ntop(AF_INET, &from.sin_addr, text.data(), text.size());
      const std::string reply = "client=" + std::string(text.data()) + "\n";
      ::sendto(fd_, reply.data(), reply.size(), 0, reinterpret_cast<sockaddr*>(&from), length);
    }
  }

  int fd_ = -1;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// One UDP flow from inside namespace `ns` to address:port: the same socket,
// so the same source port, for its whole life (one conntrack entry).
class UdpFlow {
 public:
  UdpFlow(const std::string& ns, const std::string& address, int port) {
    fd_ = udp_socket_in(ns, std::chrono::milliseconds(300));
    sockaddr_in to = ipv4_endpoint(address, port);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&to), sizeof to) != 0) {
      const std::string why = std::strerror(errno);
      ::close(fd_);
      throw std::runtime_error("connect " + address + ": " + why);
    }
  }
  ~UdpFlow() { ::close(fd_); }
  UdpFlow(const UdpFlow&) = delete;
  UdpFlow& operator=(const UdpFlow&) = delete;

  // Sends one datagram; the answer, if one comes within 300 ms.
  std::optional<std::string> exchange() {
    if (::send(fd_, "x", 1, 0) != 1) return std::nullopt;
    std::array<char, 1500> buffer{};
    const ssize_t n = ::recv(fd_, buffer.data(), buffer.size(), 0);
    if (n <= 0) return std::nullopt;
    return std::string(buffer.data(), static_cast<std::size_t>(n));
  }

 private:
  int fd_ = -1;
};

class Failover : public SystemTest {
 protected:
  void SetUp() override {
    SystemTest::SetUp();
    if (HasFatalFailure()) return;
    topology_.node("sub").node("gw1").node("gw2").node("gw3").node("inet").node("lan");
    for (const auto& gw : kGateways) topology_.link(gw, "sub");
    for (const auto& gw : kGateways) topology_.link(gw, "inet");
    topology_.link("sub", "lan");
    topology_.up();

    run_checked({"ip", "address", "add", kWebAddress + "/32", "dev", "lo"}, topology_.ns("inet"));
    web_ = std::make_unique<HttpEcho>(topology_.ns("inet"), kWebAddress, kWebPort);
    udp_echo_ = std::make_unique<UdpEcho>(topology_.ns("inet"), kWebAddress, kWebPort);
    run_checked({"ip", "route", "add", "default", "via", topology_.address("sub", "lan")},
                topology_.ns("lan"));
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
              .set("forwarding", "uplink", yaml_quote(topology_.interface(gw, "inet")))
              .set("gateway", "uplinkCheck",
                   "[" + yaml_quote(kWebAddress + ":" + std::to_string(kWebPort)) + "]")
              .set("gateway", "uplinkStable", std::to_string(kUplinkStable)));
      peers += (gw == kGateways.front() ? "" : ", ") + yaml_quote(gateway_address(gw));
      prefer += (gw == kGateways.front() ? "" : ", ") + yaml_quote(gw);
    }
    peers += "]";
    prefer += "]";
    // Background scans off: auto mode must ask for the scan that finds the
    // gateways itself.
    sub_ =
        std::make_unique<Node>(topology_, "sub",
                               NodeOptions()
                                   .only_discovery("static", other_tunnels())
                                   .set("static", "peers", peers)
                                   .set("scan", "interval", "0")
                                   .set("scan", "timeout", "1000")
                                   .set("subscriber", "auto", "true")
                                   .set("subscriber", "prefer", prefer)
                                   .set("subscriber", "holdDown", std::to_string(kHoldDown))
                                   .set("subscriber", "lan", "[" + yaml_quote(lan_prefix()) + "]"));
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
      ASSERT_TRUE(std::find(suites.begin(), suites.end(), Json::Value(suite())) != suites.end())
          << gw << " does not offer " << suite() << ": " << to_json(info["result"]);
    }
  }

  void TearDown() override {
    // Nothing stays cut off while the daemons shut down.
    if (!topology_.is_up()) return;
    for (const auto& gw : kGateways)
      topology_.exec(gw, {"nft", "delete", "table", "inet", kBlackhole});
  }

  // The tunnel sub has (the gateways have all): forwarding here, websocket
  // in FailoverWebsocket.
  virtual std::string tunnel() const { return "forwarding"; }
  std::vector<std::string> other_tunnels() const {
    std::vector<std::string> others;
    for (const char* t : {"forwarding", "websocket", "gre", "ipip", "openvpn", "iptunnel"})
      if (t != tunnel()) others.push_back(t);
    return others;
  }
  std::string suite() const { return "static-" + tunnel() + "-free"; }

  std::vector<Node*> nodes() const {
    std::vector<Node*> out = {sub_.get()};
    for (const auto& gw : kGateways) out.push_back(gateways_.at(gw).get());
    return out;
  }
  Node& gateway(const std::string& gw) const { return *gateways_.at(gw); }
  // sub's LAN: the network of its link to lan (/24, as Topology numbers links).
  std::string lan_prefix() const {
    const std::string a = topology_.address("lan", "sub");
    return a.substr(0, a.rfind('.')) + ".0/24";
  }

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
  // A gateway's check of its own uplink: {"state": "up"|"down"|"unchecked", ...}.
  Json::Value uplink_of(const std::string& gw) const { return sessions_of(gateway(gw))["uplink"]; }
  // gw's nodeInfo as a neighbour on the mesh sees it: sub asks.
  Json::Value node_info_from_sub(const std::string& gw) const {
    Json::Value info = rpc(topology_.ns("sub"), gateway_address(gw), kProbePort, "nodeInfo");
    if (!rpc_succeeded(info)) throw std::runtime_error("nodeInfo of " + gw + ": " + to_json(info));
    return info["result"];
  }
  // The gateway whose address is `address`, "" for none.
  std::string gateway_at(const std::string& address) const {
    for (const auto& gw : kGateways)
      if (gateway_address(gw) == address) return gw;
    return "";
  }

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

  // Waits until sub holds a standby at gw that answers its probes; `last`
  // gets the last subscriber state seen.
  bool wait_standby_at(const std::string& gw, Json::Value& last) const {
    return wait_until(
        [&] {
          last = subscriber();
          return last["standby"]["gatewayAddress"].asString() == gateway_address(gw) &&
                 last["standby"]["health"]["health"].asString() == "up";
        },
        100, 100ms);
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

  // Drops what gw sends or receives on its link to `peer`, both what is for
  // it and what it forwards: every packet, or those `match` selects (an nft
  // expression, e.g. "numgen random mod 100 < 30": 30 % each way). With
  // `inbound_only`, only what gw receives.
  void drop_on(const std::string& gw, const std::string& peer, const std::string& match = "",
               bool inbound_only = false) const {
    const std::string t = "inet " + kBlackhole;
    const std::string iface = "\"" + topology_.interface(gw, peer) + "\"";
    const std::string action = (match.empty() ? "" : " " + match) + " drop; ";
    std::string script = "add table " + t + "; ";
    for (const std::string hook : {"input", "output", "forward"})
      script +=
          "add chain " + t + " " + hook + " { type filter hook " + hook + " priority -10; }; ";
    script += "add rule " + t + " input iifname " + iface + action;
    script += "add rule " + t + " forward iifname " + iface + action;
    if (!inbound_only) {
      script += "add rule " + t + " output oifname " + iface + action;
      script += "add rule " + t + " forward oifname " + iface + action;
    }
    run_checked({"nft", script}, topology_.ns(gw));
  }
  // Drops everything gw sends or receives on its mesh link: to sub, gw is
  // silent.
  void blackhole(const std::string& gw) const { drop_on(gw, "sub"); }
  // Takes away what drop_on and blackhole added to gw.
  void restore(const std::string& gw) const {
    run_checked({"nft", "delete", "table", "inet", kBlackhole}, topology_.ns(gw));
  }

  // subscriber.standby on sub, live.
  void set_standby(int n) const {
    Json::Value change(Json::objectValue);
    change["subscriber.standby"] = n;
    Json::Value r = sub_->rpc("setConfig", change);
    ASSERT_TRUE(rpc_succeeded(r)) << to_json(r);
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
  std::unique_ptr<UdpEcho> udp_echo_;
  std::map<std::string, std::unique_ptr<Node>> gateways_;
  std::unique_ptr<Node> sub_;
};

}  // namespace mnigs::test
