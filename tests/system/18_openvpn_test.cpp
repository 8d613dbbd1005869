// tunnel/openvpn end to end with Debian's real openvpn: a subscriber reaches
// a host "on the Internet" through an openvpn tunnel to its gateway across a
// relay, IPv4 and IPv6 inside; what crosses the relay is openvpn's, with
// nothing of the traffic readable. The gateway ends a client at once when
// its session ends; a client with another key, or the session's own
// certificate from another address, is refused; both ends come back after
// kill -9.
//
//   inet ---- gw ---- relay ---- sub     link 1: 10.77.1.0/24
//                                        link 2: 10.77.2.0/24 (gw .1, relay .2)
//                                        link 3: 10.77.3.0/24 (relay .1, sub .2)
// sub reaches gw only through relay; inet has no route to the tunnel pool,
// so it can answer only because gw masquerades.
#include <signal.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <regex>
#include <sstream>

#include "harness/http_echo.hpp"
#include "harness/packets.hpp"
#include "harness/system_test.hpp"
#include "harness/wait.hpp"

namespace mnigs::test {
namespace {

constexpr int kWebPort = 80;

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

class Openvpn : public SystemTest {
 protected:
  void SetUp() override {
    SystemTest::SetUp();
    if (HasFatalFailure()) return;
    topology_.node("inet").node("gw").node("relay").node("sub");
    topology_.link("inet", "gw").link("gw", "relay").link("relay", "sub");
    topology_.up();
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
      // Short keepalives: a client notices a restarted server quickly.
      return NodeOptions().only_discovery("static").set("openvpn", "ping", "1").set(
          "openvpn", "pingRestart", "5");
    };
    gw_ = std::make_unique<Node>(topology_, "gw", options().set("gateway", "enabled", "true"));
    sub_ = std::make_unique<Node>(topology_, "sub", options());
    for (Node* node : {gw_.get(), sub_.get()}) {
      node->options().set("openvpn", "runDir", yaml_quote(run_dir(*node)));
      node->start();
    }
    gw_->wait_ready();
    sub_->wait_ready();
  }

  static std::string run_dir(const Node& node) { return node.dir() + "/openvpn"; }

  void exec(const std::string& node, const std::vector<std::string>& argv) {
    auto r = topology_.exec(node, argv, 10s);
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  std::string ip(const std::string& node, const std::vector<std::string>& args) const {
    std::vector<std::string> argv = {"ip"};
    argv.insert(argv.end(), args.begin(), args.end());
    return topology_.exec(node, argv, 10s).out;
  }
  static Json::Value plugin_status(const Node& node) {
    Json::Value r = node.rpc("listPlugins");
    if (!rpc_succeeded(r)) return Json::Value();
    for (const auto& p : r["result"]["plugins"])
      if (p["name"].asString() == "openvpn") return p["status"];
    return Json::Value();
  }
  // The gateway's session entries that have a client connected.
  Json::Value connected_sessions() const {
    Json::Value out(Json::arrayValue);
    const Json::Value status = plugin_status(*gw_);
    for (const auto& s : status["gateway"]["sessions"])
      if (s["connected"].asBool()) out.append(s);
    return out;
  }

  // Connects sub to gw (at its IPv6 mesh address with `v6`); the gateway's
  // session entry once a client holds it.
  Json::Value connect(bool v6 = false) {
    const std::string gw =
        v6 ? topology_.address6("gw", "relay") : topology_.address("gw", "relay");
    auto r = sub_->cli({"-c", gw, "-m", "static-openvpn-free"});
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err << sub_->log_tail() << gw_->log_tail();
    Json::Value sessions;
    wait_until(
        [&] {
          sessions = connected_sessions();
          return sessions.size() == 1;
        },
        100, 100ms);
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

  // The pid of a running openvpn client of sub's on its first device, 0
  // when none runs (each client's files are client-mnovpn0-N.*).
  pid_t client_pid() const {
    for (const auto& e : std::filesystem::directory_iterator(run_dir(*sub_))) {
      const std::string name = e.path().filename().string();
      if (name.rfind("client-mnovpn0-", 0) != 0 || e.path().extension() != ".pid") continue;
      std::ifstream in(e.path());
      pid_t pid = 0;
      in >> pid;
      if (in && process_alive(pid)) return pid;
    }
    return 0;
  }
  // The config of sub's client on its first device.
  std::string client_config() const {
    for (const auto& e : std::filesystem::directory_iterator(run_dir(*sub_)))
      if (e.path().filename().string().rfind("client-mnovpn0-", 0) == 0 &&
          e.path().extension() == ".conf")
        return read_file(e.path().string());
    return "";
  }

  Topology topology_;
  std::unique_ptr<HttpEcho> web_, web6_;
  std::unique_ptr<Node> gw_, sub_;
};

// Both families inside, over an IPv4 and an IPv6 mesh; what the relay
// forwards is openvpn's (tshark decodes it as such) and holds nothing of the
// HTTP inside; disconnecting ends the client on both sides.
TEST_F(Openvpn, CarriesBothFamiliesEncryptedAndDisconnectEndsTheClient) {
  for (bool outer_v6 : {false, true}) {
    SCOPED_TRACE(outer_v6 ? "over IPv6" : "over IPv4");
    Capture capture(topology_.ns("relay"), topology_.interface("relay", "gw"), "udp port 1194",
                    sub_->dir() + (outer_v6 ? "/openvpn6.pcap" : "/openvpn4.pcap"));
    const Json::Value session = connect(outer_v6);
    ASSERT_TRUE(session.isObject()) << to_json(plugin_status(*gw_)) << gw_->log_tail()
                                    << sub_->log_tail();
    EXPECT_EQ(session["subscriber"].asString(), outer_v6 ? topology_.address6("sub", "relay")
                                                         : topology_.address("sub", "relay"));
    const std::string addr = ip("sub", {"-o", "addr", "show", "dev", "mnovpn0"});
    EXPECT_TRUE(contains(addr, "10.93.0.2/24")) << addr;
    EXPECT_TRUE(contains(addr, "fd93::2/64")) << addr;
    FetchResult four = fetch4();
    ASSERT_TRUE(four.ok) << four.error << to_json(plugin_status(*sub_)) << sub_->log_tail();
    EXPECT_EQ(four.body, masqueraded4());
    FetchResult six = fetch6();
    ASSERT_TRUE(six.ok) << six.error;
    EXPECT_EQ(six.body, masqueraded6());
    // The key the subscriber pinned is the one the gateway publishes.
    const Json::Value info = gw_->rpc("nodeInfo");
    const std::string key = info["result"]["tunnelKeys"]["openvpn"].asString();
    EXPECT_EQ(key.size(), 71u) << to_json(info);
    EXPECT_EQ(sub_->rpc("listSessions")["result"]["subscriber"]["connection"]["gatewayKey"],
              key);

    const std::string wire = capture.fields("openvpn", {"frame.number", "openvpn.type"},
                                            "udp.port==1194,openvpn");
    EXPECT_FALSE(wire.empty()) << "tshark saw no openvpn packet";
    const std::string payloads = capture.bytes();
    EXPECT_FALSE(contains(payloads, "GET / HTTP/1.1")) << "the request crossed the relay in clear";
    EXPECT_FALSE(contains(payloads, masqueraded4())) << "the answer crossed the relay in clear";

    const pid_t pid = client_pid();
    ASSERT_NE(pid, 0);
    auto down = sub_->cli({"-d"});
    EXPECT_EQ(down.exit_code, 0) << down.out << down.err;
    EXPECT_TRUE(wait_until([&] { return !process_alive(pid); }, 50, 100ms));
    EXPECT_FALSE(fetch4().ok) << "sub still reaches inet after disconnecting";
    EXPECT_FALSE(contains(ip("sub", {"link", "show"}), "mnovpn0")) << "the device is left";
    ASSERT_TRUE(wait_until([&] { return plugin_status(*gw_)["gateway"]["sessions"].empty(); },
                           50, 100ms));
  }
}

// A gateway running both servers: a subscriber that prefers TCP gets the
// TCP server, with its session's addresses routed to that server's device.
TEST_F(Openvpn, BothServersAndASubscriberThatPrefersTcp) {
  gw_->stop();
  gw_->options().set("openvpn", "protocols", "[udp, tcp]");
  gw_->start();
  gw_->wait_ready();
  sub_->stop();
  sub_->options().set("openvpn", "protocol", "tcp");
  sub_->start();
  sub_->wait_ready();
  const Json::Value session = connect();
  ASSERT_TRUE(session.isObject()) << to_json(plugin_status(*gw_)) << gw_->log_tail()
                                  << sub_->log_tail();
  EXPECT_EQ(session["protocol"], "tcp") << to_json(session);
  EXPECT_EQ(plugin_status(*gw_)["gateway"]["servers"].size(), 2u);
  const std::string route = ip("gw", {"-4", "route", "get", "10.93.0.2"});
  EXPECT_TRUE(contains(route, "dev mnovpn-tcp")) << route;
  FetchResult r = fetch4();
  ASSERT_TRUE(r.ok) << r.error << sub_->log_tail();
  EXPECT_EQ(r.body, masqueraded4());
  FetchResult six = fetch6();
  ASSERT_TRUE(six.ok) << six.error;
}

// The session ends on the gateway (it expires while the subscriber's
// mnigsd is frozen and cannot renew): the gateway kills the client at once,
// and the client exits rather than knocking again.
TEST_F(Openvpn, AnExpiredSessionsClientIsKilledByTheGateway) {
  gw_->stop();
  gw_->options().set("gateway", "subscriberTimeout", "6");
  gw_->start();
  gw_->wait_ready();
  ASSERT_TRUE(connect().isObject()) << gw_->log_tail();
  ASSERT_TRUE(fetch4().ok);
  const pid_t pid = client_pid();
  ASSERT_NE(pid, 0);
  ASSERT_EQ(::kill(sub_->pid(), SIGSTOP), 0);
  const bool gone = wait_until([&] { return !process_alive(pid); }, 150, 100ms);
  const Json::Value status = plugin_status(*gw_);
  ::kill(sub_->pid(), SIGCONT);
  EXPECT_TRUE(gone) << "the client still runs after its session expired: " << to_json(status)
                    << gw_->log_tail();
  EXPECT_GE(status["gateway"]["killed"].asUInt64(), 1u) << to_json(status);
  EXPECT_TRUE(status["gateway"]["sessions"].empty()) << to_json(status);
}

// A client whose certificate the gateway did not issue fails the TLS
// handshake; the session's own certificate and key, from another address,
// reach the gateway's admission and are refused there. The session goes on.
TEST_F(Openvpn, AnotherKeyAndAnotherAddressAreRefused) {
  ASSERT_TRUE(connect().isObject()) << gw_->log_tail();
  const std::string config = client_config();
  ASSERT_TRUE(contains(config, "peer-fingerprint")) << config;
  const std::string scratch = sub_->dir() + "/intruder";
  exec("relay", {"mkdir", "-p", scratch});
  // The same config in relay's namespace: its own files, a device of its own.
  auto rewrite = [&](std::string text, const std::string& tag) {
    text = std::regex_replace(text, std::regex("\\n(management|writepid|log|dev) [^\\n]*"), "");
    return text + "dev intr" + tag + "\nlog " + scratch + "/" + tag + ".log\n";
  };
  auto run_client = [&](const std::string& tag, const std::string& text) {
    const std::string path = scratch + "/" + tag + ".conf";
    std::ofstream(path) << text;
    return topology_.exec("relay", {"timeout", "8", "/usr/sbin/openvpn", "--config", path}, 15s);
  };
  // 1. The session's certificate and key from relay's address.
  const auto refused_before = plugin_status(*gw_)["gateway"]["refused"].asUInt64();
  run_client("stolen", rewrite(config, "s"));
  EXPECT_GT(plugin_status(*gw_)["gateway"]["refused"].asUInt64(), refused_before)
      << read_file(scratch + "/s.log") << gw_->log_tail();
  // 2. A key and certificate of its own.
  auto made = topology_.exec(
      "relay", {"/usr/bin/openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                "ec_paramgen_curve:prime256v1", "-nodes", "-subj", "/CN=intruder", "-days", "1",
                "-keyout", scratch + "/k.pem", "-out", scratch + "/c.pem"},
      15s);
  ASSERT_EQ(made.exit_code, 0) << made.err;
  std::string own = std::regex_replace(config, std::regex("<cert>[\\s\\S]*</key>\\n"), "");
  own += "<cert>\n" + read_file(scratch + "/c.pem") + "</cert>\n<key>\n" +
         read_file(scratch + "/k.pem") + "</key>\n";
  run_client("own", rewrite(own, "o"));
  // The gateway's openvpn refuses the certificate in the handshake.
  const std::string server_log = read_file(run_dir(*gw_) + "/server-udp.log");
  EXPECT_TRUE(contains(server_log, "VERIFY ERROR") && contains(server_log, "CN=intruder"))
      << server_log << read_file(scratch + "/o.log");
  EXPECT_FALSE(contains(read_file(scratch + "/o.log"), "Initialization Sequence Completed"))
      << read_file(scratch + "/o.log");
  // The real session is untouched.
  EXPECT_EQ(connected_sessions().size(), 1u) << to_json(plugin_status(*gw_));
  FetchResult r = fetch4();
  EXPECT_TRUE(r.ok) << r.error;
  EXPECT_TRUE(gw_->running());
}

// An openvpn process that dies (the gateway's server, then the
// subscriber's client) is started again by its mnigsd, and the session
// carries traffic again without the subscriber asking for a new one.
TEST_F(Openvpn, AnOpenvpnProcessThatDiesIsStartedAgain) {
  const Json::Value session = connect();
  ASSERT_TRUE(session.isObject()) << gw_->log_tail();
  ASSERT_TRUE(fetch4().ok);
  auto pid_in = [](const std::string& file) {
    std::ifstream in(file);
    pid_t pid = 0;
    in >> pid;
    return in && process_alive(pid) ? pid : 0;
  };
  const std::string server_pid_file = run_dir(*gw_) + "/server-udp.pid";
  const pid_t server = pid_in(server_pid_file);
  ASSERT_NE(server, 0);
  ASSERT_EQ(::kill(server, SIGKILL), 0);
  ASSERT_TRUE(wait_until(
      [&] {
        const pid_t now = pid_in(server_pid_file);
        return now != 0 && now != server && connected_sessions().size() == 1;
      },
      150, 200ms))
      << to_json(plugin_status(*gw_)) << gw_->log_tail();
  FetchResult r = fetch4();
  ASSERT_TRUE(r.ok) << "after the server was killed: " << r.error << sub_->log_tail();

  const pid_t client = client_pid();
  ASSERT_NE(client, 0);
  ASSERT_EQ(::kill(client, SIGKILL), 0);
  ASSERT_TRUE(wait_until(
      [&] {
        const pid_t now = client_pid();
        return now != 0 && now != client && fetch4().ok;
      },
      100, 200ms))
      << to_json(plugin_status(*sub_)) << sub_->log_tail();
  EXPECT_EQ(sub_->rpc("listSessions")["result"]["subscriber"]["connection"]["sessionId"],
            session["id"]);
}

// kill -9 of the gateway, then of the subscriber: each comes back on the
// same session and addresses, and the tunnel carries traffic again.
TEST_F(Openvpn, BothEndsResumeAfterKill9) {
  const Json::Value session = connect();
  ASSERT_TRUE(session.isObject()) << gw_->log_tail();
  ASSERT_TRUE(fetch4().ok);

  EXPECT_EQ(gw_->kill9(), 128 + SIGKILL);
  gw_->launch();
  Json::Value resumed;
  ASSERT_TRUE(wait_until(
      [&] {
        auto s = connected_sessions();
        if (s.size() != 1) return false;
        resumed = s[0];
        return true;
      },
      150, 200ms))
      << to_json(plugin_status(*gw_)) << gw_->log_tail();
  EXPECT_EQ(resumed["id"], session["id"]);
  EXPECT_EQ(resumed["address4"], session["address4"]);
  FetchResult r = fetch4();
  ASSERT_TRUE(r.ok) << "after the gateway's restart: " << r.error << gw_->log_tail();
  EXPECT_EQ(r.body, masqueraded4());

  const pid_t before = client_pid();
  EXPECT_EQ(sub_->kill9(), 128 + SIGKILL);
  sub_->launch();
  Json::Value state;
  ASSERT_TRUE(wait_until(
      [&] {
        state = sub_->rpc("listSessions")["result"]["subscriber"];
        return state["state"].asString() == "connected";
      },
      100, 200ms))
      << to_json(state) << sub_->log_tail();
  EXPECT_EQ(state["connection"]["sessionId"], session["id"]);
  EXPECT_NE(client_pid(), before) << "the client of the killed mnigsd was not replaced";
  r = fetch4();
  ASSERT_TRUE(r.ok) << "after the subscriber's restart: " << r.error << sub_->log_tail();
  EXPECT_EQ(r.body, masqueraded4());
  EXPECT_EQ(plugin_status(*gw_)["gateway"]["sessions"].size(), 1u);
}

}  // namespace
}  // namespace mnigs::test
