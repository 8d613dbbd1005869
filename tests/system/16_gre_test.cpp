// tunnel/gre end to end, userspace at both ends (this machine's kernel has
// no GRE or IPIP module): a subscriber reaches a host "on the Internet"
// through a GRE or IP-in-IP tunnel to its gateway across a relay, over an
// IPv4 and over an IPv6 mesh, carrying IPv4 and IPv6 inside. What crosses
// the relay is captured with tcpdump and decoded by tshark, an independent
// dissector: GRE with the session's key and the tunnel's inner addresses,
// or IP in IP. Packets with a wrong key, from another sender or from an
// address not the session's are dropped and counted, and the daemon goes
// on. Both ends come back after kill -9.
//
//   inet ---- gw ---- relay ---- sub     link 1: 10.77.1.0/24
//                                        link 2: 10.77.2.0/24 (gw .1, relay .2)
//                                        link 3: 10.77.3.0/24 (relay .1, sub .2)
// and the same links in IPv6. sub reaches gw only through relay; inet has no
// route to the tunnel pools, so it can answer only because gw masquerades.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>

#include "harness/http_echo.hpp"
#include "harness/packets.hpp"
#include "harness/system_test.hpp"
#include "harness/wait.hpp"

namespace mnigs::test {
namespace {

constexpr int kWebPort = 80;
// What the captures keep: encapsulated packets of either outer family.
constexpr const char* kTunnelPackets = "ip proto 47 or ip proto 4 or ip proto 41 or ip6";

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) out.push_back(line);
  return out;
}

std::vector<std::string> split(const std::string& text, char by) {
  std::vector<std::string> out;
  std::stringstream in(text);
  for (std::string part; std::getline(in, part, by);) out.push_back(part);
  return out;
}

// One encapsulated packet as tshark decoded it.
struct Decoded {
  std::string key, outer_src, outer_dst, inner_src, inner_dst;
};

// tshark's fields gre.key (or any other, kept as `key`), ip.src, ip.dst,
// ipv6.src, ipv6.dst of each packet, every occurrence comma-separated: the first IP
// layer of the outer family is the outer header, the next IP layer the
// inner packet.
std::vector<Decoded> decode(const std::string& tshark, bool outer_v6) {
  std::vector<Decoded> out;
  for (const auto& line : lines_of(tshark)) {
    auto f = split(line, '\t');
    f.resize(5);
    auto src4 = split(f[1], ','), dst4 = split(f[2], ',');
    auto src6 = split(f[3], ','), dst6 = split(f[4], ',');
    auto& outer_src = outer_v6 ? src6 : src4;
    auto& outer_dst = outer_v6 ? dst6 : dst4;
    if (outer_src.empty() || outer_dst.empty()) continue;
    Decoded d;
    d.key = f[0];
    d.outer_src = outer_src.front();
    d.outer_dst = outer_dst.front();
    outer_src.erase(outer_src.begin());
    outer_dst.erase(outer_dst.begin());
    const bool same_family = !outer_src.empty();
    auto& inner_src = same_family ? outer_src : (outer_v6 ? src4 : src6);
    auto& inner_dst = same_family ? outer_dst : (outer_v6 ? dst4 : dst6);
    if (!inner_src.empty()) d.inner_src = inner_src.front();
    if (!inner_dst.empty()) d.inner_dst = inner_dst.front();
    out.push_back(d);
  }
  return out;
}

// GRE (RFC 2890) with a key around an IPv4 packet.
std::string gre_with_key(std::uint32_t key, const std::string& inner) {
  std::string g = {'\x20', '\x00', '\x08', '\x00'};
  for (int shift = 24; shift >= 0; shift -= 8) g += static_cast<char>((key >> shift) & 0xff);
  return g + inner;
}

// Sends `payload` as IP protocol 47 from namespace `ns` to `to` (IPv4).
void send_raw_gre(const std::string& ns, const std::string& to, const std::string& payload) {
  run_in_netns_thread(ns, [&] {
    int fd = ::socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, 47);
    if (fd < 0) throw std::runtime_error(std::string("raw socket: ") + std::strerror(errno));
    sockaddr_in a{};
    a.sin_family = AF_INET;
    ::inet_pton(AF_INET, to.c_str(), &a.sin_addr);
    ssize_t n = ::sendto(fd, payload.data(), payload.size(), 0, reinterpret_cast<sockaddr*>(&a),
                         sizeof a);
    const int error = errno;
    ::close(fd);
    if (n < 0) throw std::runtime_error(std::string("sendto: ") + std::strerror(error));
  });
}

class Gre : public SystemTest {
 protected:
  void SetUp() override {
    SystemTest::SetUp();
    if (HasFatalFailure()) return;
    topology_.node("inet").node("gw").node("relay").node("sub");
    topology_.link("inet", "gw").link("gw", "relay").link("relay", "sub");
    topology_.up();
    // sub and gw reach each other only through relay.
    exec("relay", {"sysctl", "-qw", "net.ipv4.ip_forward=1"});
    exec("relay", {"sysctl", "-qw", "net.ipv6.conf.all.forwarding=1"});
    exec("sub", {"ip", "-4", "route", "add", topology_.address("gw", "relay"), "via",
                 topology_.address("relay", "sub")});
    exec("gw", {"ip", "-4", "route", "add", topology_.address("sub", "relay"), "via",
                topology_.address("relay", "gw")});
    exec("sub", {"ip", "-6", "route", "add", topology_.address6("gw", "relay"), "via",
                 topology_.address6("relay", "sub")});
    exec("gw", {"ip", "-6", "route", "add", topology_.address6("sub", "relay"), "via",
                topology_.address6("relay", "gw")});
    web_ = std::make_unique<HttpEcho>(topology_.ns("inet"), topology_.address("inet", "gw"),
                                      kWebPort);
    web6_ = std::make_unique<HttpEcho>(topology_.ns("inet"), topology_.address6("inet", "gw"),
                                       kWebPort);
    auto options = [] {
      return NodeOptions()
          .only_discovery("static")
          .set("gre", "mode", "userspace")
          .set("ipip", "mode", "userspace");
    };
    gw_ = std::make_unique<Node>(topology_, "gw", options().set("gateway", "enabled", "true"));
    sub_ = std::make_unique<Node>(topology_, "sub", options());
    gw_->start();
    sub_->start();
    gw_->wait_ready();
    sub_->wait_ready();
  }

  void exec(const std::string& node, const std::vector<std::string>& argv) {
    auto r = topology_.exec(node, argv, 10s);
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  std::string ip(const std::string& node, const std::vector<std::string>& args) const {
    std::vector<std::string> argv = {"ip"};
    argv.insert(argv.end(), args.begin(), args.end());
    return topology_.exec(node, argv, 10s).out;
  }
  std::string gateway(bool v6) const {
    return v6 ? topology_.address6("gw", "relay") : topology_.address("gw", "relay");
  }

  static Json::Value plugin_status(const Node& node, const std::string& name) {
    Json::Value r = node.rpc("listPlugins");
    if (!rpc_succeeded(r)) return Json::Value();
    for (const auto& p : r["result"]["plugins"])
      if (p["name"].asString() == name) return p["status"];
    return Json::Value();
  }

  // Connects sub to gw's address of the family with `method` (gre, ipip);
  // returns the gateway's session entry of the plugin's status.
  Json::Value connect(const std::string& method, bool v6) {
    auto r = sub_->cli({"-c", gateway(v6), "-m", "static-" + method + "-free"});
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err << sub_->log_tail() << gw_->log_tail();
    Json::Value sessions;
    wait_until(
        [&] {
          sessions = plugin_status(*gw_, method)["gateway"]["sessions"];
          return sessions.size() == 1;
        },
        50, 100ms);
    return sessions.size() == 1 ? sessions[0] : Json::Value();
  }

  FetchResult fetch4() const {
    return fetch(topology_.ns("sub"), web_->address(), kWebPort, "/", 5s);
  }
  FetchResult fetch6() const {
    return fetch(topology_.ns("sub"), web6_->address(), kWebPort, "/", 5s);
  }
  std::string masqueraded4() const { return "client=" + topology_.address("gw", "inet") + "\n"; }
  std::string masqueraded6() const { return "client=" + topology_.address6("gw", "inet") + "\n"; }

  std::string capture_file(const std::string& name) const { return sub_->dir() + "/" + name; }

  Topology topology_;
  std::unique_ptr<HttpEcho> web_, web6_;
  std::unique_ptr<Node> gw_, sub_;
};

// Both families inside, over IPv4 then over IPv6 outside; what the relay
// forwards is GRE with the session's key around the tunnel's addresses.
TEST_F(Gre, GreCarriesBothFamiliesOverAnIpv4AndAnIpv6Mesh) {
  for (bool outer_v6 : {false, true}) {
    SCOPED_TRACE(outer_v6 ? "over IPv6" : "over IPv4");
    Capture capture(topology_.ns("relay"), topology_.interface("relay", "gw"), kTunnelPackets,
                    capture_file(outer_v6 ? "gre6.pcap" : "gre4.pcap"));
    const Json::Value session = connect("gre", outer_v6);
    ASSERT_TRUE(session.isObject()) << to_json(plugin_status(*gw_, "gre"));
    const std::string key = std::to_string(session["key"].asUInt64());
    ASSERT_NE(key, "0");
    EXPECT_EQ(plugin_status(*sub_, "gre")["mode"].asString(), "userspace");

    const std::string addr = ip("sub", {"-o", "addr", "show", "dev", "mngre0"});
    EXPECT_TRUE(contains(addr, "10.96.0.2/24")) << addr;
    EXPECT_TRUE(contains(addr, "fd96::2/64")) << addr;
    FetchResult four = fetch4();
    ASSERT_TRUE(four.ok) << four.error << to_json(plugin_status(*sub_, "gre"))
                         << to_json(plugin_status(*gw_, "gre")) << gw_->log_tail();
    EXPECT_EQ(four.body, masqueraded4());
    FetchResult six = fetch6();
    ASSERT_TRUE(six.ok) << six.error;
    EXPECT_EQ(six.body, masqueraded6());

    // tshark's reading of the wire: the outer addresses are the mesh's, the
    // key the session's, the inner addresses the tunnel's and inet's.
    const std::string sub_mesh =
        outer_v6 ? topology_.address6("sub", "relay") : topology_.address("sub", "relay");
    auto seen = decode(capture.fields("gre", {"gre.key", "ip.src", "ip.dst", "ipv6.src",
                                              "ipv6.dst"}),
                       outer_v6);
    ASSERT_FALSE(seen.empty()) << "no GRE packet crossed the relay:\n"
                               << capture.fields("frame", {"frame.number", "_ws.col.Info"});
    bool up4 = false, down4 = false, up6 = false, down6 = false;
    for (const auto& p : seen) {
      const bool up = p.outer_src == sub_mesh && p.outer_dst == gateway(outer_v6);
      const bool down = p.outer_src == gateway(outer_v6) && p.outer_dst == sub_mesh;
      EXPECT_TRUE(up || down) << p.outer_src << " > " << p.outer_dst;
      // tshark prints the key in hex (0x...).
      EXPECT_EQ(p.key.empty() ? 0 : std::stoul(p.key, nullptr, 0), std::stoul(key)) << p.key;
      up4 = up4 || (up && p.inner_src == "10.96.0.2" && p.inner_dst == web_->address());
      down4 = down4 || (down && p.inner_src == web_->address() && p.inner_dst == "10.96.0.2");
      up6 = up6 || (up && p.inner_src == "fd96::2" && p.inner_dst == web6_->address());
      down6 = down6 || (down && p.inner_src == web6_->address() && p.inner_dst == "fd96::2");
    }
    EXPECT_TRUE(up4 && down4 && up6 && down6)
        << "not every direction and family was seen inside GRE:\n"
        << capture.fields("frame", {"frame.number", "_ws.col.Info"});

    auto down = sub_->cli({"-d"});
    EXPECT_EQ(down.exit_code, 0) << down.out << down.err;
    EXPECT_FALSE(fetch4().ok) << "sub still reaches inet after disconnecting";
    EXPECT_FALSE(contains(ip("sub", {"link", "show"}), "mngre0")) << "the device is left";
    ASSERT_TRUE(wait_until(
        [&] { return plugin_status(*gw_, "gre")["gateway"]["sessions"].empty(); }, 50, 100ms));
  }
}

TEST_F(Gre, IpInIpCarriesBothFamiliesAsProtocols4And41) {
  for (bool outer_v6 : {false, true}) {
    SCOPED_TRACE(outer_v6 ? "over IPv6" : "over IPv4");
    Capture capture(topology_.ns("relay"), topology_.interface("relay", "gw"), kTunnelPackets,
                    capture_file(outer_v6 ? "ipip6.pcap" : "ipip4.pcap"));
    const Json::Value session = connect("ipip", outer_v6);
    ASSERT_TRUE(session.isObject()) << to_json(plugin_status(*gw_, "ipip"));
    EXPECT_FALSE(session.isMember("key"));
    FetchResult four = fetch4();
    ASSERT_TRUE(four.ok) << four.error << to_json(plugin_status(*gw_, "ipip")) << gw_->log_tail();
    EXPECT_EQ(four.body, masqueraded4());
    FetchResult six = fetch6();
    ASSERT_TRUE(six.ok) << six.error;
    EXPECT_EQ(six.body, masqueraded6());

    // IPv4 inside (protocol 4) and IPv6 inside (41) between the mesh
    // addresses, with the tunnel's addresses inside.
    const std::string mesh =
        outer_v6 ? topology_.address6("sub", "relay") : topology_.address("sub", "relay");
    const std::string next = outer_v6 ? "ipv6.nxt" : "ip.proto";
    const std::vector<std::string> fields = {"frame.number", "ip.src", "ip.dst", "ipv6.src",
                                             "ipv6.dst"};
    auto v4 = decode(capture.fields(next + " == 4", fields), outer_v6);
    auto v6 = decode(capture.fields(next + " == 41", fields), outer_v6);
    bool up4 = false, down4 = false, up6 = false, down6 = false;
    for (const auto& p : v4) {
      up4 = up4 || (p.outer_src == mesh && p.inner_src == "10.95.0.2");
      down4 = down4 || (p.outer_dst == mesh && p.inner_dst == "10.95.0.2");
    }
    for (const auto& p : v6) {
      up6 = up6 || (p.outer_src == mesh && p.inner_src == "fd95::2");
      down6 = down6 || (p.outer_dst == mesh && p.inner_dst == "fd95::2");
    }
    EXPECT_TRUE(up4 && down4) << "protocol 4 both ways:\n"
                              << capture.fields("frame", {"frame.number", "_ws.col.Info"});
    EXPECT_TRUE(up6 && down6) << "protocol 41 both ways:\n"
                              << capture.fields("frame", {"frame.number", "_ws.col.Info"});

    auto down = sub_->cli({"-d"});
    EXPECT_EQ(down.exit_code, 0) << down.out << down.err;
    ASSERT_TRUE(wait_until(
        [&] { return plugin_status(*gw_, "ipip")["gateway"]["sessions"].empty(); }, 50, 100ms));
  }
}

// A wrong key from the session's own address, any packet from another
// address, and the right key with another tunnel address are dropped and
// counted; the session goes on.
TEST_F(Gre, WrongKeysOtherSendersAndSpoofedAddressesAreDroppedAndCounted) {
  const Json::Value session = connect("gre", false);
  ASSERT_TRUE(session.isObject());
  const auto key = static_cast<std::uint32_t>(session["key"].asUInt64());
  ASSERT_TRUE(fetch4().ok);
  const std::string to = gateway(false);
  const std::string inet = web_->address();
  send_raw_gre(topology_.ns("sub"), to, gre_with_key(key + 1, ipv4_udp("10.96.0.2", inet)));
  send_raw_gre(topology_.ns("relay"), to, gre_with_key(key, ipv4_udp("10.96.0.2", inet)));
  send_raw_gre(topology_.ns("sub"), to, gre_with_key(key, ipv4_udp("10.96.0.77", inet)));
  send_raw_gre(topology_.ns("sub"), to, std::string("\x20\x00\x08", 3));  // truncated
  Json::Value dropped;
  ASSERT_TRUE(wait_until(
      [&] {
        dropped = plugin_status(*gw_, "gre")["dropped"];
        return dropped["wrongKey"].asUInt64() >= 1 && dropped["unknownSender"].asUInt64() >= 1 &&
               dropped["spoofed"].asUInt64() >= 1 && dropped["malformed"].asUInt64() >= 1;
      },
      50, 100ms))
      << to_json(plugin_status(*gw_, "gre"));
  EXPECT_TRUE(fetch4().ok) << "the session stopped working";
  EXPECT_TRUE(gw_->running());
}

// kill -9 of the gateway, then of the subscriber: each comes back on the
// same session, key and addresses, and the tunnel carries traffic again.
TEST_F(Gre, BothEndsResumeAfterKill9) {
  const Json::Value session = connect("gre", false);
  ASSERT_TRUE(session.isObject());
  ASSERT_TRUE(fetch4().ok);

  EXPECT_EQ(gw_->kill9(), 128 + SIGKILL);
  gw_->launch();
  Json::Value resumed;
  ASSERT_TRUE(wait_until(
      [&] {
        auto s = plugin_status(*gw_, "gre")["gateway"]["sessions"];
        if (s.size() != 1) return false;
        resumed = s[0];
        return true;
      },
      50, 200ms))
      << gw_->log_tail();
  EXPECT_EQ(resumed["id"], session["id"]);
  EXPECT_EQ(resumed["key"], session["key"]);
  EXPECT_EQ(resumed["address4"], session["address4"]);
  FetchResult r = fetch4();
  ASSERT_TRUE(r.ok) << "after the gateway's restart: " << r.error << gw_->log_tail();
  EXPECT_EQ(r.body, masqueraded4());

  EXPECT_EQ(sub_->kill9(), 128 + SIGKILL);
  sub_->launch();
  Json::Value state;
  ASSERT_TRUE(wait_until(
      [&] {
        state = sub_->rpc("listSessions")["result"]["subscriber"];
        return state["state"].asString() == "connected";
      },
      50, 200ms))
      << to_json(state) << sub_->log_tail();
  EXPECT_EQ(state["connection"]["sessionId"], session["id"]);
  r = fetch4();
  ASSERT_TRUE(r.ok) << "after the subscriber's restart: " << r.error << sub_->log_tail();
  EXPECT_EQ(r.body, masqueraded4());
  EXPECT_EQ(plugin_status(*gw_, "gre")["gateway"]["sessions"].size(), 1u);
}

// The kernel's own devices, where the kernel has them: mode auto settles
// on them and the tunnel works the same. Here it has none (see
// ../shared/DESIGN.md's machine), and the test says so as a skip.
TEST_F(Gre, KernelDevicesWhereTheKernelHasThem) {
  auto probe = topology_.exec("relay", {"ip", "link", "add", "name", "grechk", "type", "gre",
                                        "remote", "192.0.2.1", "local", "192.0.2.2"});
  if (probe.exit_code != 0)
    GTEST_SKIP() << "this kernel makes no gre device (" << probe.err
                 << "): the kernel path is not tested here";
  topology_.exec("relay", {"ip", "link", "del", "grechk"});
  for (Node* node : {gw_.get(), sub_.get()}) {
    node->stop();
    node->options().set("gre", "mode", "auto");
    node->start();
    node->wait_ready();
  }
  const Json::Value session = connect("gre", false);
  ASSERT_TRUE(session.isObject());
  EXPECT_EQ(plugin_status(*gw_, "gre")["mode"].asString(), "kernel");
  EXPECT_EQ(plugin_status(*sub_, "gre")["mode"].asString(), "kernel");
  FetchResult r = fetch4();
  ASSERT_TRUE(r.ok) << r.error << gw_->log_tail();
  EXPECT_EQ(r.body, masqueraded4());
}

}  // namespace
}  // namespace mnigs::test
