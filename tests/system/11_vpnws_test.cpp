// vpn-ws clients on the layer-2 switch, with their real timing: the
// stand-in tests/peers/vpnws behaves as vpn-ws-client does (a select() with
// a 17 s timeout, a ping only when it times out, server pings ignored).
//
// - At the default settings a client stays joined past websocket.l2Timeout,
//   both on a quiet switch (it pings every 17 s) and while another peer
//   floods broadcasts to it (it never pings; its TCP acknowledges).
// - A client that vanishes is dropped after about l2Timeout, whether the
//   switch is quiet (its process stopped) or sending to it (its namespace
//   drops everything); mnigs's own switch client (websocket.join), which
//   the switch no longer pings either, stays.
// - Behind the real nginx with the example configuration
//   (plugins/tunnel/websocket/examples/nginx-vpn-ws.conf) and l2Auth: proxy:
//   clients with the right password join and reach each other, a wrong one
//   gets 401 and never reaches the switch, a direct connection gets 403.
//
//   gwq, gwf, q, f, fl, j on one LAN (bridge "lan", 10.77.1.0/24). q joins
//   gwq's switch, alone there (j joins it too in one test); f and fl join
//   gwf's, and fl broadcasts every 2 s. Each client's tap "vpn0" has IPv6
//   off, so a tap sends nothing the test does not make it send.
#include <arpa/inet.h>
#include <json/reader.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <sstream>
#include <thread>

#include "harness/http_echo.hpp"
#include "harness/system_test.hpp"
#include "harness/text.hpp"
#include "harness/wait.hpp"

namespace mnigs::test {
namespace {

constexpr const char* kTap = "vpn0";
// vpn-ws-client's idle wait (src/client.c) and the switch's default
// websocket.l2Timeout.
constexpr auto kClientIdle = 17s;
constexpr auto kDefaultL2Timeout = 60s;

std::string client_path() { return std::string(MNIGS_TEST_PEER_DIR) + "/mnigs-test-vpnws-client"; }

std::string example_path() {
  return std::string(MNIGS_SOURCE_DIR) + "/plugins/tunnel/websocket/examples/nginx-vpn-ws.conf";
}

// Sends a UDP broadcast to port 9 (discard) on the flooder's tap every
// `every`, from a thread inside namespace `ns`, until stopped (or 300 s).
class Broadcaster {
 public:
  Broadcaster(std::string ns, std::string broadcast, std::chrono::milliseconds every)
      : thread_([this, ns = std::move(ns), broadcast = std::move(broadcast), every] {
          run_in_netns_thread(ns, [&] { loop(broadcast, every); });
        }) {}
  ~Broadcaster() {
    stop_ = true;
    thread_.join();
  }
  int sent() const { return sent_; }

 private:
  void loop(const std::string& broadcast, std::chrono::milliseconds every) {
    int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    int on = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_BROADCAST, &on, sizeof on);
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(9);
    ::inet_pton(AF_INET, broadcast.c_str(), &to.sin_addr);
    const auto end = std::chrono::steady_clock::now() + 300s;
    while (!stop_ && std::chrono::steady_clock::now() < end) {
      const char payload[] = "flood";
      if (::sendto(fd, payload, sizeof payload, 0, reinterpret_cast<sockaddr*>(&to), sizeof to) > 0)
        ++sent_;
      for (auto slept = 0ms; slept < every && !stop_; slept += 100ms)
        std::this_thread::sleep_for(100ms);
    }
    ::close(fd);
  }

  std::atomic<bool> stop_{false};
  std::atomic<int> sent_{0};
  std::thread thread_;
};

class VpnWs : public SystemTest {
 protected:
  void SetUp() override {
    SystemTest::SetUp();
    if (HasFatalFailure()) return;
    char dir[] = "/tmp/mnigs-vpnws-XXXXXX";
    ASSERT_NE(::mkdtemp(dir), nullptr);
    dir_ = dir;
    Reaper::instance().watch_dir(dir_);
    // nginx's workers (not root) read the password file.
    std::filesystem::permissions(
        dir_, std::filesystem::perms::owner_all | std::filesystem::perms::group_read |
                  std::filesystem::perms::group_exec | std::filesystem::perms::others_read |
                  std::filesystem::perms::others_exec);
    ASSERT_TRUE(std::filesystem::exists(client_path())) << client_path();
  }

  void TearDown() override {
    std::vector<pid_t> pids;
    for (auto& [node, c] : clients_) {
      ::kill(c.pid, SIGCONT);  // a stopped client must be able to end
      pids.push_back(c.pid);
    }
    if (nginx_pid_ > 0) pids.push_back(nginx_pid_);
    terminate_processes(pids);
    for (pid_t p : pids) Reaper::instance().forget_pid(p);
    if (HasFailure()) {
      for (auto& [node, c] : clients_)
        std::cerr << "---- client " << node << " ----\n" << read_all(c.log) << "----\n";
      if (nginx_pid_ > 0)
        std::cerr << "---- nginx error.log ----\n" << read_all(dir_ + "/error.log") << "----\n";
    }
    if (!dir_.empty()) {
      std::error_code ec;
      std::filesystem::remove_all(dir_, ec);
      Reaper::instance().forget_dir(dir_);
    }
  }

  // A gateway whose switch takes anyone (the subject here is timing, not
  // who may join), every other key at its default unless given.
  std::unique_ptr<Node> gateway(const std::string& name,
                                const std::map<std::string, std::string>& websocket = {}) {
    NodeOptions o;
    o.only_discovery("static").set("gateway", "enabled", "true").set("websocket", "l2Auth", "none");
    for (const auto& [key, value] : websocket) o.set("websocket", key, value);
    auto node = std::make_unique<Node>(topology_, name, o);
    node->start();
    return node;
  }

  static Json::Value websocket_status(const Node& node) {
    Json::Value r = node.rpc("listPlugins");
    for (const auto& p : r["result"]["plugins"])
      if (p["name"].asString() == "websocket") return p["status"];
    return Json::Value();
  }
  static Json::Value switch_status(const Node& gw) { return websocket_status(gw)["switch"]; }
  // The switch's peer with `mac`, or null.
  static Json::Value peer(const Node& gw, const std::string& mac) {
    const Json::Value status = switch_status(gw);
    for (const auto& p : status["peers"])
      if (p["mac"].asString() == mac) return p;
    return Json::Value();
  }
  static std::string mac_of(int n) {
    char text[18];
    std::snprintf(text, sizeof text, "02:00:00:00:96:%02x", n);
    return text;
  }

  // A tap as a client host has it: up, with MAC 02:00:00:00:96:<n>, IPv6
  // off, and `address` (a /24) when given.
  void make_tap(const std::string& node, int n, const std::string& address = "") {
    auto run = [&](const std::vector<std::string>& argv) {
      auto r = topology_.exec(node, argv, 10s);
      ASSERT_EQ(r.exit_code, 0) << node << ": " << r.err;
    };
    run({"ip", "tuntap", "add", "dev", kTap, "mode", "tap"});
    run({"sysctl", "-qw", std::string("net.ipv6.conf.") + kTap + ".disable_ipv6=1"});
    run({"ip", "link", "set", "dev", kTap, "address", mac_of(n)});
    if (!address.empty()) run({"ip", "addr", "add", address + "/24", "dev", kTap});
    run({"ip", "link", "set", "dev", kTap, "up"});
  }

  // Starts the vpn-ws client in `node` on its tap.
  void start_client(const std::string& node, const std::string& url) {
    Client c;
    c.log = dir_ + "/client-" + node + ".log";
    c.pid = spawn_in_ns(topology_.ns(node), {client_path(), "--seconds", "300", kTap, url}, c.log);
    Reaper::instance().watch_pid(c.pid);
    clients_[node] = c;
  }
  std::string client_log(const std::string& node) const { return read_all(clients_.at(node).log); }
  int connects(const std::string& node) const {
    return static_cast<int>(count_lines_with(client_log(node), "connected to "));
  }
  int pings(const std::string& node) const {
    return static_cast<int>(count_lines_with(client_log(node), "ping"));
  }

  // Frames the client wrote to its tap (the tap's received packets).
  std::uint64_t tap_received(const std::string& node) const {
    auto r = topology_.exec(node, {"ip", "-j", "-s", "link", "show", "dev", kTap}, 10s);
    Json::Value v;
    std::istringstream in(r.out);
    if (r.exit_code != 0 || !Json::parseFromStream(Json::CharReaderBuilder(), in, &v, nullptr))
      return 0;
    return v[0]["stats64"]["rx"]["packets"].asUInt64();
  }

  std::string url(const std::string& gw, int port, const std::string& credentials = "") const {
    return "ws://" + credentials + (credentials.empty() ? "" : "@") + topology_.address(gw, "lan") +
           ":" + std::to_string(port) + "/vpn";
  }

  // The LAN of the liveness tests: q alone on gwq's switch; f and the
  // flooder fl on gwf's.
  void lan_of_two_switches(const std::map<std::string, std::string>& websocket) {
    topology_.node("gwq").node("gwf").node("q").node("f").node("fl").node("j");
    topology_.bridge("lan", {"gwq", "gwf", "q", "f", "fl", "j"});
    topology_.up();
    gwq_ = gateway("gwq", websocket);
    gwf_ = gateway("gwf", websocket);
    gwq_->wait_ready();
    gwf_->wait_ready();
    ASSERT_NO_FATAL_FAILURE(make_tap("q", 1));
    ASSERT_NO_FATAL_FAILURE(make_tap("f", 2));
    ASSERT_NO_FATAL_FAILURE(make_tap("fl", 9, "10.96.0.9"));
    for (auto* gw : {gwq_.get(), gwf_.get()})
      ASSERT_TRUE(wait_until([&] { return switch_status(*gw)["running"].asBool(); }, 50, 100ms));
    start_client("q", url("gwq", gwq_->rpc_port()));
    start_client("f", url("gwf", gwf_->rpc_port()));
    start_client("fl", url("gwf", gwf_->rpc_port()));
    ASSERT_TRUE(wait_until(
        [&] {
          return !peer(*gwq_, mac_of(1)).isNull() && !peer(*gwf_, mac_of(2)).isNull() &&
                 !peer(*gwf_, mac_of(9)).isNull();
        },
        100, 100ms))
        << to_json(switch_status(*gwq_)) << to_json(switch_status(*gwf_));
    q_id_ = peer(*gwq_, mac_of(1))["id"].asUInt64();
    f_id_ = peer(*gwf_, mac_of(2))["id"].asUInt64();
    fl_id_ = peer(*gwf_, mac_of(9))["id"].asUInt64();
  }

  struct Client {
    pid_t pid = -1;
    std::string log;
  };
  Topology topology_;
  std::string dir_;
  std::map<std::string, Client> clients_;
  pid_t nginx_pid_ = -1;
  std::unique_ptr<Node> gwq_, gwf_;
  std::uint64_t q_id_ = 0, f_id_ = 0, fl_id_ = 0;
};

// The regression test of the issue "vpn-ws clients are dropped after 60 s
// idle": at the defaults the switch pinged every peer every 5 s, which kept
// a vpn-ws client from ever pinging, and dropped it after l2Timeout of not
// hearing from it. It runs past l2Timeout + one idle wait at the defaults.
TEST_F(VpnWs, ClientsStayJoinedPastTheDefaultL2TimeoutQuietOrFlooded) {
  ASSERT_NO_FATAL_FAILURE(lan_of_two_switches({}));
  Broadcaster flood(topology_.ns("fl"), "10.96.0.255", 2000ms);
  ASSERT_TRUE(wait_until([&] { return tap_received("f") > 0; }, 50, 100ms))
      << "the flood does not reach f\n"
      << to_json(switch_status(*gwf_));

  // Every second until l2Timeout + 17 s + 3 s: the same three peers, each
  // on its first connection.
  const auto end = std::chrono::steady_clock::now() + kDefaultL2Timeout + kClientIdle + 3s;
  bool all_there = true;
  while (all_there && std::chrono::steady_clock::now() < end) {
    std::this_thread::sleep_for(1s);
    all_there = peer(*gwq_, mac_of(1))["id"].asUInt64() == q_id_ &&
                peer(*gwf_, mac_of(2))["id"].asUInt64() == f_id_ &&
                peer(*gwf_, mac_of(9))["id"].asUInt64() == fl_id_;
  }
  EXPECT_TRUE(all_there) << to_json(switch_status(*gwq_)) << to_json(switch_status(*gwf_))
                         << gwq_->log_tail() << gwf_->log_tail();
  EXPECT_EQ(connects("q"), 1) << client_log("q");
  EXPECT_EQ(connects("f"), 1) << client_log("f");
  // What makes each case the case it claims to be: on the quiet switch q
  // kept itself alive with its own pings (one per 17 s); f, flooded, never
  // pinged, and was kept by what its TCP acknowledged.
  EXPECT_GE(pings("q"), 3) << client_log("q");
  EXPECT_EQ(pings("f"), 0) << client_log("f");
  EXPECT_GE(flood.sent(), 30);
  EXPECT_GE(tap_received("f"), 30u);
  EXPECT_EQ(tap_received("q"), 0u) << "q's switch was not quiet";
}

TEST_F(VpnWs, VanishedClientsAreDroppedAfterL2Timeout) {
  // 20 s, the least l2Timeout allowed, to keep the test short.
  ASSERT_NO_FATAL_FAILURE(lan_of_two_switches({{"l2Timeout", "20"}}));
  Broadcaster flood(topology_.ns("fl"), "10.96.0.255", 2000ms);
  ASSERT_TRUE(wait_until([&] { return tap_received("f") > 0; }, 50, 100ms));

  // mnigs's own switch client on q's quiet switch: j joins with
  // websocket.join (its tap sends nothing: IPv6 is off for new devices).
  // The switch does not ping it; it pings after keepalive and hears pongs.
  Node j(topology_, "j",
         NodeOptions().only_discovery("static").set("websocket", "l2Timeout", "20"));
  j.start();
  j.wait_ready();
  ASSERT_EQ(
      topology_.exec("j", {"sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=1"}).exit_code, 0);
  Json::Value params(Json::objectValue);
  params["url"] = url("gwq", gwq_->rpc_port());
  params["interface"] = "mnl2";
  params["mac"] = mac_of(7);
  Json::Value joined = j.rpc("websocket.join", params);
  ASSERT_TRUE(rpc_succeeded(joined)) << to_json(joined);
  ASSERT_TRUE(wait_until([&] { return !peer(*gwq_, mac_of(7)).isNull(); }, 100, 100ms))
      << to_json(switch_status(*gwq_)) << j.log_tail();
  const std::uint64_t j_id = peer(*gwq_, mac_of(7))["id"].asUInt64();
  const auto j_since = std::chrono::steady_clock::now();

  // q's process stops on a quiet switch: nothing flows either way. f's host
  // drops every packet while gwf keeps sending it the flood: nothing it
  // is sent is acknowledged.
  ASSERT_EQ(::kill(clients_["q"].pid, SIGSTOP), 0);
  auto cut = topology_.exec(
      "f", {"nft",
            "add table inet vanish { chain in { type filter hook input priority 0; policy "
            "drop; }; chain out { type filter hook output priority 0; policy drop; }; }"});
  ASSERT_EQ(cut.exit_code, 0) << cut.err;

  // Bounded: l2Timeout, one idle wait of q's, the 2 s close handshake and
  // some slack.
  EXPECT_TRUE(wait_until([&] { return peer(*gwq_, mac_of(1)).isNull(); }, 50, 1s))
      << to_json(switch_status(*gwq_));
  EXPECT_TRUE(wait_until([&] { return peer(*gwf_, mac_of(2)).isNull(); }, 50, 1s))
      << to_json(switch_status(*gwf_));
  EXPECT_EQ(peer(*gwf_, mac_of(9))["id"].asUInt64(), fl_id_) << "the live flooder was dropped";
  // j is still on its first connection past l2Timeout, on both sides.
  std::this_thread::sleep_until(j_since + 20s + 5s);
  EXPECT_EQ(peer(*gwq_, mac_of(7))["id"].asUInt64(), j_id) << to_json(switch_status(*gwq_));
  Json::Value j_state = websocket_status(j)["joined"][0];
  EXPECT_TRUE(j_state["connected"].asBool()) << to_json(j_state);
  EXPECT_EQ(j_state["connects"].asUInt64(), 1u) << to_json(j_state) << j.log_tail();
  // Each gateway says why.
  const std::string why_q = gwq_->log();
  EXPECT_NE(why_q.find("nothing heard from the peer and nothing acknowledged by it for 20 s"),
            std::string::npos)
      << gwq_->log_tail();
  const std::string why_f = gwf_->log();
  EXPECT_TRUE(why_f.find("nothing heard from the peer and nothing acknowledged by it for 20 s") !=
                  std::string::npos ||
              why_f.find("the peer acknowledged nothing we sent for 20 s") != std::string::npos)
      << gwf_->log_tail();
}

// ---------------------------------------------------------------- nginx

class VpnWsNginx : public VpnWs {
 protected:
  // gw runs mnigsd (l2Auth: proxy) and nginx on port 80 with the example
  // configuration; c1, c2, c3 are client hosts.
  void SetUp() override {
    VpnWs::SetUp();
    if (HasFatalFailure()) return;
    ASSERT_TRUE(std::filesystem::exists("/usr/sbin/nginx"))
        << "nginx is not installed (apt-get install nginx)";
    topology_.node("gw").node("c1").node("c2").node("c3");
    topology_.bridge("lan", {"gw", "c1", "c2", "c3"});
    topology_.up();
    gw_ = gateway("gw", {{"l2Auth", "proxy"}});
    gw_->wait_ready();
    ASSERT_TRUE(wait_until([&] { return switch_status(*gw_)["running"].asBool(); }, 50, 100ms));
    ASSERT_NO_FATAL_FAILURE(start_nginx());
  }

  void start_nginx() {
    // The password file, as `openssl passwd -apr1` makes an entry.
    auto hash = run_command({"openssl", "passwd", "-apr1", "secret"});
    ASSERT_EQ(hash.exit_code, 0) << hash.err;
    std::ofstream(dir_ + "/htpasswd") << "alice:" << hash.out;
    std::filesystem::permissions(dir_ + "/htpasswd", std::filesystem::perms::owner_read |
                                                         std::filesystem::perms::owner_write |
                                                         std::filesystem::perms::group_read |
                                                         std::filesystem::perms::others_read);
    // The example, with this test's paths and ports.
    std::string site = read_all(example_path());
    auto replace = [&](const std::string& from, const std::string& to) {
      auto at = site.find(from);
      ASSERT_NE(at, std::string::npos) << "the example no longer holds \"" << from << "\"";
      site.replace(at, from.size(), to);
    };
    ASSERT_NO_FATAL_FAILURE(replace("auth_basic_user_file /etc/nginx/mnigs-vpn-ws.htpasswd;",
                                    "auth_basic_user_file " + dir_ + "/htpasswd;"));
    ASSERT_NO_FATAL_FAILURE(
        replace("proxy_pass http://127.0.0.1:65533;",
                "proxy_pass http://127.0.0.1:" + std::to_string(gw_->rpc_port()) + ";"));
    std::ofstream(dir_ + "/site.conf") << site;
    // Around it, what a packaged nginx.conf provides, in the scratch
    // directory.
    std::ofstream(dir_ + "/nginx.conf")
        << "daemon off;\nworker_processes 1;\npid " << dir_ << "/nginx.pid;\n"
        << "error_log " << dir_ << "/error.log info;\n"
        << "events { worker_connections 64; }\n"
        << "http {\n  access_log " << dir_ << "/access.log;\n"
        << "  client_body_temp_path " << dir_ << "/body;\n  proxy_temp_path " << dir_
        << "/proxy;\n  fastcgi_temp_path " << dir_ << "/fastcgi;\n  uwsgi_temp_path " << dir_
        << "/uwsgi;\n  scgi_temp_path " << dir_ << "/scgi;\n"
        << "  include " << dir_ << "/site.conf;\n}\n";
    nginx_pid_ = spawn_in_ns(topology_.ns("gw"), {"/usr/sbin/nginx", "-c", dir_ + "/nginx.conf"},
                             dir_ + "/nginx.out");
    Reaper::instance().watch_pid(nginx_pid_);
    // The pid file is written once the listening sockets are open.
    ASSERT_TRUE(wait_until(
        [&] { return std::filesystem::exists(dir_ + "/nginx.pid") || !process_alive(nginx_pid_); },
        100, 100ms));
    ASSERT_TRUE(process_alive(nginx_pid_))
        << read_all(dir_ + "/nginx.out") << read_all(dir_ + "/error.log");
  }

  std::unique_ptr<Node> gw_;
};

TEST_F(VpnWsNginx, ClientsWithThePasswordJoinThroughNginxOthersNever) {
  ASSERT_NO_FATAL_FAILURE(make_tap("c1", 1, "10.96.0.1"));
  ASSERT_NO_FATAL_FAILURE(make_tap("c2", 2, "10.96.0.2"));
  ASSERT_NO_FATAL_FAILURE(make_tap("c3", 3, "10.96.0.3"));
  start_client("c1", url("gw", 80, "alice:secret"));
  start_client("c2", url("gw", 80, "alice:secret"));
  ASSERT_TRUE(
      wait_until([&] { return !peer(*gw_, mac_of(1)).isNull() && !peer(*gw_, mac_of(2)).isNull(); },
                 100, 100ms))
      << to_json(switch_status(*gw_)) << read_all(dir_ + "/error.log");
  // Both came through nginx, on loopback.
  for (int n : {1, 2})
    EXPECT_EQ(peer(*gw_, mac_of(n))["remote"].asString().rfind("127.0.0.1", 0), 0u)
        << to_json(peer(*gw_, mac_of(n)));

  // Frames both ways: an HTTP exchange between the two taps.
  HttpEcho at_c2(topology_.ns("c2"), "10.96.0.2", 80);
  FetchResult r = fetch(topology_.ns("c1"), "10.96.0.2", 80, "/", 5s);
  ASSERT_TRUE(r.ok) << r.error << to_json(switch_status(*gw_));
  EXPECT_EQ(r.body, "client=10.96.0.1\n");
  EXPECT_GT(switch_status(*gw_)["frames"]["forwarded"].asUInt64(), 0u);

  // A wrong password: nginx answers 401, the switch never sees it.
  start_client("c3", url("gw", 80, "alice:wrong"));
  ASSERT_TRUE(wait_until(
      [&] { return count_lines_with(client_log("c3"), "handshake returned code: 401") >= 1; }, 100,
      100ms))
      << client_log("c3");
  EXPECT_EQ(connects("c3"), 0) << client_log("c3");
  EXPECT_NE(read_all(dir_ + "/access.log").find("\"GET /vpn HTTP/1.1\" 401"), std::string::npos)
      << read_all(dir_ + "/access.log");
  EXPECT_TRUE(peer(*gw_, mac_of(3)).isNull()) << to_json(switch_status(*gw_));
  auto upgrades_refused = [&] {
    return websocket_status(*gw_)["gateway"]["upgradesRefused"].asUInt64();
  };
  EXPECT_EQ(upgrades_refused(), 0u) << "the wrong password reached mnigsd";
  terminate_processes({clients_["c3"].pid});
  Reaper::instance().forget_pid(clients_["c3"].pid);
  clients_.erase("c3");

  // Straight to mnigsd, not through nginx: refused, whatever the password.
  start_client("c3", url("gw", gw_->rpc_port(), "alice:secret"));
  ASSERT_TRUE(wait_until(
      [&] { return count_lines_with(client_log("c3"), "handshake returned code: 403") >= 1; }, 100,
      100ms))
      << client_log("c3");
  EXPECT_EQ(connects("c3"), 0) << client_log("c3");
  EXPECT_GE(upgrades_refused(), 1u);
  EXPECT_TRUE(peer(*gw_, mac_of(3)).isNull()) << to_json(switch_status(*gw_));
  EXPECT_EQ(switch_status(*gw_)["peers"].size(), 2u) << to_json(switch_status(*gw_));
}

}  // namespace
}  // namespace mnigs::test
