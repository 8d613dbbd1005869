// Driving one mnigsd as its operator does: mnigs-cli status and config
// changes (live, restart-bound, refused), the CLI with no daemon, a plugin
// directory holding broken plugins, malformed requests from a neighbour, and
// a clean stop on SIGTERM, and telling systemd when it is ready.
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <signal.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "harness/system_test.hpp"
#include "harness/wait.hpp"

namespace mnigs::test {
namespace {

namespace fs = std::filesystem;

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream b;
  b << in.rdbuf();
  return b.str();
}

Json::Value parse_json(const std::string& text) {
  Json::Value v;
  std::string errs;
  std::unique_ptr<Json::CharReader> r(Json::CharReaderBuilder().newCharReader());
  r->parse(text.data(), text.data() + text.size(), &v, &errs);
  return v;
}

class DaemonControl : public SystemTest {
 protected:
  void SetUp() override {
    SystemTest::SetUp();
    if (HasFatalFailure()) return;
    topology_.node("a").node("b").link("a", "b");
    topology_.up();
    a_ = std::make_unique<Node>(topology_, "a", NodeOptions().only_discovery("static"));
  }

  // curl inside b against a's link address; returns {status line, body}.
  CommandResult curl_from_b(const std::vector<std::string>& extra) {
    std::vector<std::string> argv = {"curl", "-s", "-w", "\n%{http_code}", "--max-time", "10"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    argv.push_back("http://" + topology_.address("a", "b") + ":" +
                   std::to_string(a_->rpc_port()) + "/jsonrpc");
    return run_command(argv, topology_.ns("b"));
  }

  Topology topology_;
  std::unique_ptr<Node> a_;
};

TEST_F(DaemonControl, CliShowsStatusAndPlugins) {
  a_->launch();
  auto status = a_->cli({"--status"});
  ASSERT_EQ(status.exit_code, 0) << status.err;
  EXPECT_NE(status.out.find("mnigsd"), std::string::npos) << status.out;
  EXPECT_NE(status.out.find("discovery/static"), std::string::npos) << status.out;

  auto plugins = a_->cli({"--plugins", "--json"});
  ASSERT_EQ(plugins.exit_code, 0) << plugins.err;
  Json::Value list = parse_json(plugins.out)["plugins"];
  std::set<std::string> running;
  for (const auto& p : list)
    if (p["state"] == "running") running.insert(p["kind"].asString() + "/" + p["name"].asString());
  EXPECT_EQ(running, (std::set<std::string>{"discovery/static", "payment/free",
                                            "payment/webpage", "tunnel/forwarding", "tunnel/gre",
                                            "tunnel/httptunnel", "tunnel/ipip", "tunnel/openvpn",
                                            "tunnel/tether", "tunnel/websocket"}))
      << plugins.out;
}

// --call takes any method with JSON params; params it cannot send are
// refused with the reason, whatever they hold.
TEST_F(DaemonControl, CliCallSendsParamsAndRefusesThoseItCannotSend) {
  a_->launch();
  auto info = a_->cli({"--call", "nodeInfo", "{}"});
  ASSERT_EQ(info.exit_code, 0) << info.err;
  EXPECT_TRUE(parse_json(info.out).isMember("suites")) << info.out;
  // Deeper than jsoncpp's own limit (1000), which it enforces by throwing.
  const std::string deep = std::string(5000, '[') + std::string(5000, ']');
  for (const auto& [params, why] : std::vector<std::pair<std::string, std::string>>{
           {deep, "params is nested deeper than 64 levels"},
           {"{\"a\": 1,}", "params is not valid JSON"},
           {"{} {}", "params is not valid JSON"},
           {"7", "params is not valid JSON"}}) {
    auto r = a_->cli({"--call", "nodeInfo", params});
    EXPECT_EQ(r.exit_code, 2) << params.substr(0, 20) << ": " << r.err;
    EXPECT_NE(r.err.find("--call nodeInfo: params must be one JSON object or array: " + why),
              std::string::npos)
        << r.err;
  }
  EXPECT_EQ(a_->cli({"--status"}).exit_code, 0);
}

TEST_F(DaemonControl, LiveKeyAppliesAtOnceOthersWaitForRestart) {
  a_->launch();
  EXPECT_FALSE(a_->rpc("nodeInfo")["result"]["gateway"].asBool());

  auto set = a_->cli({"--set", "gateway.enabled=yes", "--set", "daemon.rpcport=65000"});
  ASSERT_EQ(set.exit_code, 0) << set.err;
  EXPECT_NE(set.out.find("gateway.enabled = true (applied)"), std::string::npos) << set.out;
  EXPECT_NE(set.out.find("daemon.rpcport = 65000"), std::string::npos) << set.out;
  EXPECT_NE(set.out.find("restart mnigsd"), std::string::npos) << set.out;

  // The live key is in effect; the other is written and reported, not applied.
  EXPECT_TRUE(a_->rpc("nodeInfo")["result"]["gateway"].asBool());
  Json::Value status = a_->rpc("status")["result"];
  EXPECT_EQ(status["restartRequired"][0], "daemon.rpcport");
  EXPECT_EQ(a_->rpc("nodeInfo")["result"]["rpcport"], a_->rpc_port());

  // Both are in the file: the daemon started on it next time would use them.
  auto dump = run_command({MNIGSD_PATH, "-f", a_->config_path(), "--dump-config"}, a_->ns());
  ASSERT_EQ(dump.exit_code, 0) << dump.err;
  EXPECT_NE(dump.out.find("  enabled: true"), std::string::npos);
  EXPECT_NE(dump.out.find("  rpcport: 65000"), std::string::npos);
}

TEST_F(DaemonControl, InvalidChangeIsRefusedAndChangesNothing) {
  a_->launch();
  const std::string before = read_file(a_->config_path());
  auto bad = a_->cli({"--set", "gateway.maxConnections=ten", "--set", "gateway.enabled=yes"});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find("gateway.maxConnections must be an integer"), std::string::npos)
      << bad.err;
  auto typo = a_->cli({"--set", "gateway.maxConections=3"});
  EXPECT_EQ(typo.exit_code, 1);
  EXPECT_NE(typo.err.find("did you mean gateway.maxConnections"), std::string::npos) << typo.err;
  // A hook runs as root: an admin caller must not be able to set one over RPC.
  auto hook = a_->cli({"--set", "gateway.onRegister=touch " + a_->dir() + "/owned"});
  EXPECT_EQ(hook.exit_code, 1);
  EXPECT_NE(hook.err.find("only be changed in the config file"), std::string::npos) << hook.err;
  // Nor a path: a plugin directory of the caller's choosing is code run as
  // root at the next start; a data directory, files written where they say.
  for (const std::string set : {"plugins.dir=/tmp", "daemon.dataDir=/tmp"}) {
    auto path = a_->cli({"--set", set});
    EXPECT_EQ(path.exit_code, 1) << set;
    EXPECT_NE(path.err.find("only be changed in the config file"), std::string::npos)
        << set << ": " << path.err;
  }
  EXPECT_EQ(read_file(a_->config_path()), before);
  EXPECT_FALSE(a_->rpc("nodeInfo")["result"]["gateway"].asBool());
}

TEST_F(DaemonControl, CliWithoutDaemonSaysSoAndEditsTheFile) {
  a_->launch();
  ASSERT_EQ(a_->stop(), 0);
  auto status = a_->cli({"--status"});
  EXPECT_EQ(status.exit_code, 3);
  EXPECT_NE(status.err.find("mnigsd is not running"), std::string::npos) << status.err;
  EXPECT_NE(status.err.find("mnigsd -f " + a_->config_path()), std::string::npos) << status.err;
  EXPECT_EQ(std::count(status.err.begin(), status.err.end(), '\n'), 1) << status.err;

  auto set = a_->cli({"--set", "main.name=rooftop"});
  ASSERT_EQ(set.exit_code, 0) << set.err;
  EXPECT_NE(read_file(a_->config_path()).find("name: rooftop"), std::string::npos);
  auto dump = run_command({MNIGSD_PATH, "-f", a_->config_path(), "--dump-config"}, a_->ns());
  EXPECT_NE(dump.out.find("  name: rooftop"), std::string::npos) << dump.out;
}

TEST_F(DaemonControl, BrokenPluginsAreReportedAndTheRestServes) {
  const std::string dir = a_->dir() + "/plugins";
  fs::create_directory(dir);
  for (const char* f : {"payment_free.so", "discovery_static.so"})
    fs::copy_file(std::string(MNIGS_PLUGIN_BUILD_DIR) + "/" + f, dir + "/" + f);
  for (const char* f : {"test_broken.so", "test_wrong_abi.so", "test_throwing.so"})
    fs::copy_file(std::string(MNIGS_TEST_PLUGIN_DIR) + "/" + f, dir + "/" + f);
  a_->options().set("plugins", "dir", yaml_quote(dir));
  a_->launch();

  Json::Value info = a_->rpc("nodeInfo")["result"];
  std::set<std::string> listed;
  for (const auto& p : info["plugins"]) listed.insert(p.asString());
  EXPECT_EQ(listed, (std::set<std::string>{"discovery/static", "payment/free"}));

  std::map<std::string, Json::Value> by_file;
  Json::Value described = a_->rpc("listPlugins");
  for (const auto& p : described["result"]["plugins"])
    by_file[fs::path(p["path"].asString()).filename().string()] = p;
  ASSERT_EQ(by_file.size(), 5u) << to_json(described);
  EXPECT_EQ(by_file["test_broken.so"]["state"], "refused");
  EXPECT_NE(by_file["test_broken.so"]["error"].asString().find("cannot load"), std::string::npos);
  EXPECT_EQ(by_file["test_wrong_abi.so"]["state"], "refused");
  EXPECT_NE(by_file["test_wrong_abi.so"]["error"].asString().find("ABI"), std::string::npos);
  EXPECT_EQ(by_file["test_throwing.so"]["state"], "failed");
  EXPECT_EQ(by_file["discovery_static.so"]["state"], "running");
  EXPECT_NE(a_->log().find("cannot start on purpose"), std::string::npos);
}

TEST_F(DaemonControl, BadRequestsFromTheMeshGetErrorsAndTheDaemonServesOn) {
  a_->options().set("daemon", "rpcMaxBodyBytes", "4096");
  a_->launch();
  auto json = [](const std::string& body) {
    return std::vector<std::string>{"-H", "Content-Type: application/json", "--data-binary", body};
  };
  auto code_of = [&](const CommandResult& r) {
    auto nl = r.out.rfind('\n');
    return parse_json(r.out.substr(0, nl))["error"]["code"].asInt();
  };
  EXPECT_EQ(code_of(curl_from_b(json("{\"jsonrpc\":\"2.0\",\"id\":1,"))), -32700);
  EXPECT_EQ(code_of(curl_from_b(json(R"({"jsonrpc":"2.0","id":1,"method":"noSuch"})"))), -32601);
  EXPECT_EQ(code_of(curl_from_b(json(R"({"jsonrpc":"2.0","id":1,"method":"nodeInfo","params":[1]})"))),
            -32602);
  EXPECT_EQ(code_of(curl_from_b(json(R"({"id":1,"method":"nodeInfo"})"))), -32600);
  EXPECT_EQ(code_of(curl_from_b(json(R"({"jsonrpc":"2.0","id":1,"method":"setConfig","params":{"gateway.enabled":true}})"))),
            -32001);
  auto big = curl_from_b(json(std::string(8192, ' ') + "{}"));
  EXPECT_TRUE(big.out.ends_with("\n413")) << big.out;

  // After all that, the daemon still answers, and nothing was changed.
  Json::Value info = rpc(topology_.ns("b"), topology_.address("a", "b"), a_->rpc_port(),
                         "nodeInfo", Json::Value(Json::objectValue));
  ASSERT_TRUE(rpc_succeeded(info)) << to_json(info);
  EXPECT_FALSE(info["result"]["gateway"].asBool());
  EXPECT_TRUE(a_->running());
}

TEST_F(DaemonControl, SigtermStopsCleanlyAndRemovesTheToken) {
  a_->launch();
  const std::string token = a_->dir() + "/admin.token";
  ASSERT_TRUE(fs::exists(token));
  EXPECT_EQ(a_->stop(), 0);
  EXPECT_FALSE(fs::exists(token));
  EXPECT_NE(a_->log().find("mnigsd stopped"), std::string::npos);
}

// systemd's Type=notify: mnigsd sends READY=1 to $NOTIFY_SOCKET once it
// serves (it answers nodeInfo by then), and STOPPING=1 at SIGTERM.
TEST_F(DaemonControl, TellsSystemdWhenItServesAndWhenItStops) {
  const std::string path = a_->dir() + "/notify.sock";
  const int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::snprintf(address.sun_path, sizeof address.sun_path, "%s", path.c_str());
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address), 0)
      << std::strerror(errno);
  timeval tv{20, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  auto receive = [fd] {
    char buf[512];
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    return n < 0 ? std::string() : std::string(buf, static_cast<std::size_t>(n));
  };
  // The daemon inherits the test's environment, as it would systemd's.
  ::setenv("NOTIFY_SOCKET", path.c_str(), 1);
  a_->start();
  ::unsetenv("NOTIFY_SOCKET");
  const std::string ready = receive();
  EXPECT_TRUE(ready.starts_with("READY=1\n")) << "got: " << ready;
  // Ready means serving: nodeInfo answers at once.
  Json::Value info = a_->rpc("nodeInfo");
  EXPECT_TRUE(info.isMember("result")) << to_json(info);
  EXPECT_EQ(a_->stop(), 0);
  EXPECT_EQ(receive(), "STOPPING=1");
  ::close(fd);
}

// The config file edited by hand, then read again: by mnigs-cli --reload
// (systemd's ExecReload), which answers once it is done, and by SIGHUP.
TEST_F(DaemonControl, AReloadAppliesLiveKeysFromTheFileAndAnInvalidFileChangesNothing) {
  a_->launch();
  auto edit = [&](const std::string& from, const std::string& to) {
    std::string text = read_file(a_->config_path());
    const auto at = text.find(from);
    ASSERT_NE(at, std::string::npos) << from << " in\n" << text;
    text.replace(at, from.size(), to);
    std::ofstream(a_->config_path(), std::ios::trunc) << text;
  };
  auto name = [&] { return a_->rpc("nodeInfo")["result"]["name"].asString(); };
  ASSERT_NO_FATAL_FAILURE(edit("name: \"a\"", "name: \"renamed\""));
  auto reload = a_->cli({"--reload"});
  EXPECT_EQ(reload.exit_code, 0) << reload.out << reload.err;
  EXPECT_NE(reload.out.find("main.name (applied)"), std::string::npos) << reload.out;
  EXPECT_EQ(name(), "renamed");

  // SIGHUP does the same, in the background.
  ASSERT_NO_FATAL_FAILURE(edit("name: \"renamed\"", "name: \"hup\""));
  ::kill(a_->pid(), SIGHUP);
  EXPECT_TRUE(wait_until([&] { return name() == "hup"; }, 50, 100ms)) << a_->log_tail();
  EXPECT_TRUE(a_->running());

  // An invalid file: refused with the reason, nothing changed, still
  // serving. (mnigs-cli, which reads the file too, already says so.)
  ASSERT_NO_FATAL_FAILURE(edit("name: \"hup\"", "name: [unclosed"));
  auto bad = a_->cli({"--reload"});
  EXPECT_EQ(bad.exit_code, 4) << bad.out << bad.err;
  EXPECT_NE(bad.err.find(a_->config_path()), std::string::npos) << bad.err;
  Json::Value refused = a_->rpc("reloadConfig");
  EXPECT_EQ(refused["error"]["code"], -32602) << to_json(refused);
  EXPECT_NE(refused["error"]["message"].asString().find("nothing changed"), std::string::npos);
  ::kill(a_->pid(), SIGHUP);
  EXPECT_TRUE(wait_until([&] { return a_->log().find("reload: the config file is not valid") !=
                                      std::string::npos; },
                         50, 100ms));
  EXPECT_EQ(name(), "hup");
  EXPECT_TRUE(a_->running());
}

TEST_F(DaemonControl, BrokenConfigFileStopsStartWithTheReason) {
  a_->options().append("gateway:\n  maxConnections: [1\n");
  a_->start();
  for (int i = 0; i < 100 && a_->running(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  ASSERT_FALSE(a_->running());
  EXPECT_EQ(a_->exit_code(), 1);
  EXPECT_NE(a_->log().find("YAML syntax error"), std::string::npos) << a_->log_tail();
}

}  // namespace
}  // namespace mnigs::test
