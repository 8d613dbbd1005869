// Tunnel throughput: iperf3 TCP from a subscriber namespace to a gateway
// namespace, one stream and four, over each transport of the table below:
//
//   raw            the veth link itself (the ceiling)
//   openvpn-udp    Debian's openvpn, TLS, AES-256-GCM, dev tun, UDP (the reference)
//   mnigs-openvpn  the same openvpn, run and steered by mnigsd (suite static-openvpn-free)
//   openvpn-tcp    openvpn-udp over TCP, like the websocket tunnel
//   mnigs-ws       mnigsd's L3 websocket tunnel (suite static-websocket-free), plain ws
//   mnigs-wss      the same over TLS on the gateway's wss port, its key pinned (the default)
//   mnigs-l2       mnigsd's vpn-ws compatible L2 switch, joined with websocket.join
//   mnigs-gre      mnigsd's GRE tunnel in userspace (suite static-gre-free)
//   mnigs-ipip     mnigsd's IP-in-IP tunnel in userspace (suite static-ipip-free)
//
// Each transport gets its own pair of namespaces, "sub-<tag>" and "gw-<tag>",
// joined by one veth link; nothing else is linked to them and nothing routes
// out. All transports are set up first, then the runs go round-robin over
// them, so a change in what else loads the machine falls on every row alike.
// The table shows medians: Gbit/s received, the ratios to the raw veth link
// and to openvpn over UDP with as many streams, and CPU seconds per GB (of
// the processes, and of the whole host, kernel time included). The goals
// under the table are reported, never asserted.
//
//   mnigs_tunnel_bench [--seconds 10] [--runs 3] [--streams 1,4] [--only NAME,...]
//                      [--reverse] [--verbose]
//
// Needs root (network namespaces), iperf3, openvpn and openssl. See bench/README.md.
#include <json/json.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "harness/netns.hpp"
#include "harness/node.hpp"
#include "harness/reaper.hpp"
#include "harness/rpc_client.hpp"
#include "harness/text.hpp"
#include "harness/topology.hpp"
#include "args.hpp"
#include "mesh.hpp"

namespace mnigs::test {
namespace {

using bench::Args;
using bench::Clock;
using bench::median;
using bench::process_cpu_seconds;
using bench::seconds_since;

constexpr int kIperfPort = 5201;
constexpr int kOpenvpnPort = 1194;
// The openvpn server's subnet: the server is .1 (iperf3's target), the
// client gets .2 from the pool.
const std::string kOpenvpnNet = "10.99.0.0";
const std::string kOpenvpnServer = "10.99.0.1";
// The websocket tunnel's IPv4 pool on the gateway (section websocket, key
// pool4); the gateway's own tun address is the pool's first host.
const std::string kWebsocketPool4 = "10.98.0.0/24";
const std::string kWebsocketSuite = "static-websocket-free";
// The L2 switch: the gateway's own port on it (section websocket, key
// l2Address), and the subscriber's tap that joins it.
const std::string kSwitchGatewayPort = "10.97.0.1/24";
const std::string kSwitchGateway = "10.97.0.1";
const std::string kSwitchSubscriber = "10.97.0.2/24";
const std::string kSwitchInterface = "mnl2";
const std::string kWebsocketPlugin = std::string(MNIGS_PLUGIN_BUILD_DIR) + "/tunnel_websocket.so";
const std::string kGrePlugin = std::string(MNIGS_PLUGIN_BUILD_DIR) + "/tunnel_gre.so";
const std::string kIpipPlugin = std::string(MNIGS_PLUGIN_BUILD_DIR) + "/tunnel_ipip.so";
// mnigsd's openvpn tunnel: its IPv4 pool on the gateway (section openvpn,
// key pool4; the gateway's servers hold the first host) and the
// subscriber's device (key subscriberInterface, its default).
const std::string kOpenvpnPlugin = std::string(MNIGS_PLUGIN_BUILD_DIR) + "/tunnel_openvpn.so";
const std::string kMnigsOpenvpnPool4 = "10.93.0.0/24";
const std::string kMnigsOpenvpnInterface = "mnovpn0";

struct Options {
  int seconds = 10;
  int runs = 3;
  std::vector<int> streams{1, 4};
  std::vector<std::string> only;  // transport names; empty: all
  bool reverse = false;           // iperf3 -R: gw sends, sub receives
  bool verbose = false;           // each run's figures and the setup steps on stderr
};

std::vector<std::string> split(const std::string& list, char sep = ',') {
  std::vector<std::string> out;
  std::istringstream in(list);
  for (std::string s; std::getline(in, s, sep);)
    if (!s.empty()) out.push_back(s);
  return out;
}

// spawn_in_ns takes an absolute path; openvpn lives in /usr/sbin, which a
// non-login root shell may not have on PATH.
std::string find_program(const std::string& name) {
  std::string path = std::getenv("PATH") ? std::getenv("PATH") : "";
  path += ":/usr/sbin:/usr/bin:/sbin:/bin";
  for (const auto& dir : split(path, ':')) {
    const std::string candidate = dir + "/" + name;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  throw std::runtime_error(name + " is not installed (apt-get install " + name +
                           ", or scripts/deps.sh: install_deps test)");
}

// Busy CPU seconds of the whole host so far, every CPU: the user, nice,
// system, irq and softirq time of /proc/stat's "cpu" line (idle, iowait
// and steal left out). Kernel packet work charged to no process is in it;
// so is whatever else the machine runs. 0 when it cannot be read.
double host_busy_seconds() {
  std::ifstream stat("/proc/stat");
  std::string label;
  double user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0;
  if (!(stat >> label >> user >> nice >> system >> idle >> iowait >> irq >> softirq) ||
      label != "cpu")
    return 0;
  return (user + nice + system + irq + softirq) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

// A long-lived process the bench started in a namespace (iperf3 -s, openvpn),
// with its output in a log file. The reaper knows its PID, so it is ended
// even if the bench dies; the destructor ends it by PID.
class Spawned {
 public:
  Spawned(std::string what, const std::string& ns, const std::vector<std::string>& argv,
          std::string log_path)
      : what_(std::move(what)), log_path_(std::move(log_path)) {
    pid_ = spawn_in_ns(ns, argv, log_path_);
    Reaper::instance().watch_pid(pid_);
  }
  ~Spawned() { stop(); }
  Spawned(const Spawned&) = delete;
  Spawned& operator=(const Spawned&) = delete;

  void stop() noexcept {
    if (pid_ <= 0) return;
    terminate_processes({pid_}, 3s);
    Reaper::instance().forget_pid(pid_);
    pid_ = -1;
  }
  // False once the process has exited; it is then reaped and its PID
  // forgotten, so that nothing is ever sent to a PID the system reused.
  bool alive() {
    if (pid_ <= 0) return false;
    if (!wait_exit(pid_, 0ms) && process_alive(pid_)) return true;
    Reaper::instance().forget_pid(pid_);
    pid_ = -1;
    return false;
  }
  pid_t pid() const { return pid_; }
  std::string log() const { return read_all(log_path_); }
  std::string log_tail(size_t lines = 30) const {
    std::vector<std::string> all = split(log(), '\n');
    std::string out;
    for (size_t i = all.size() > lines ? all.size() - lines : 0; i < all.size(); ++i)
      out += "  " + all[i] + "\n";
    return what_ + " (" + log_path_ + "), last lines:\n" + out;
  }
  // Waits until the log has a line with `needle`; throws with the log tail
  // if the process exits or `timeout` passes first.
  void wait_for_log(const std::string& needle, std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    while (Clock::now() < deadline) {
      if (log().find(needle) != std::string::npos) return;
      if (!alive())
        throw std::runtime_error(what_ + " exited before \"" + needle + "\"; " + log_tail());
      std::this_thread::sleep_for(100ms);
    }
    throw std::runtime_error(what_ + " did not log \"" + needle + "\" within " +
                             std::to_string(timeout.count() / 1000) + " s; " + log_tail());
  }

 private:
  std::string what_;
  std::string log_path_;
  pid_t pid_ = -1;
};

// One transport's world: its two namespaces and everything started in them.
// Members are destroyed in reverse order: daemons first, then the spawned
// processes, then the namespaces (which ends whatever is still inside).
struct Lab {
  Lab(const std::string& tag, std::string scratch, bool verbose_)
      : sub("sub-" + tag), gw("gw-" + tag), dir(std::move(scratch)), verbose(verbose_) {
    topology.node(sub).node(gw).link(sub, gw);
  }
  ~Lab() {
    nodes.clear();
    processes.clear();
    topology.down();
  }
  Spawned& spawn(const std::string& what, const std::string& node,
                 const std::vector<std::string>& argv, const std::string& log_name) {
    processes.push_back(
        std::make_unique<Spawned>(what, topology.ns(node), argv, dir + "/" + log_name));
    return *processes.back();
  }
  void say(const std::string& text) const {
    if (verbose) std::cerr << "[" << gw << "] " << text << std::endl;
  }

  const std::string sub, gw;  // node names
  const std::string dir;      // scratch directory of this transport
  const bool verbose;
  Topology topology;
  std::vector<std::unique_ptr<Spawned>> processes;
  std::vector<std::unique_ptr<Node>> nodes;
};

// What a transport's setup hands to the measurement.
struct Target {
  std::string address;           // where iperf3 in sub connects to (iperf3 -s runs in gw)
  std::vector<pid_t> processes;  // the tunnel's own processes, whose CPU time is counted
  std::string note;              // shown under the table, e.g. the negotiated cipher
};

// One row group of the table. `unavailable` says why the transport cannot
// be measured in this build ("" when it can); `setup` builds the tunnel in a
// Lab whose topology is up; `teardown` undoes what setup did beyond what
// ~Lab removes anyway (it may be empty).
struct Transport {
  std::string name;  // for --only
  std::string tag;   // namespace names: sub-<tag>, gw-<tag>
  std::string label;
  std::function<std::string()> unavailable;
  std::function<Target(Lab&)> setup;
  std::function<void(Lab&)> teardown;
};

// ------------------------------------------------------------ raw veth

Target setup_raw(Lab& lab) { return {lab.topology.address(lab.gw, lab.sub), {}, ""}; }

// ------------------------------------------------------------- openvpn

// A throwaway CA and a server and a client certificate (P-256, valid two
// days) in `dir`, made with the openssl CLI.
void make_pki(const std::string& dir) {
  const std::string openssl = find_program("openssl");
  auto run = [&](const std::vector<std::string>& args) {
    std::vector<std::string> argv = {openssl};
    argv.insert(argv.end(), args.begin(), args.end());
    run_checked(argv, "", 30s);
  };
  const std::vector<std::string> ec = {"-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                                       "-nodes"};
  auto with = [](std::vector<std::string> a, const std::vector<std::string>& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
  };
  run(with({"req", "-x509"}, with(ec, {"-keyout", dir + "/ca.key", "-out", dir + "/ca.crt", "-days",
                                       "2", "-subj", "/CN=mnigs-bench-ca"})));
  for (const std::string who : {"server", "client"}) {
    {
      std::ofstream ext(dir + "/" + who + ".ext");
      ext << "basicConstraints=CA:FALSE\n"
          << "keyUsage=critical,digitalSignature\n"
          << "extendedKeyUsage=" << (who == "server" ? "serverAuth" : "clientAuth") << "\n";
    }
    run(with({"req"}, with(ec, {"-keyout", dir + "/" + who + ".key", "-out",
                                dir + "/" + who + ".csr", "-subj", "/CN=mnigs-bench-" + who})));
    run({"x509", "-req", "-in", dir + "/" + who + ".csr", "-CA", dir + "/ca.crt", "-CAkey",
         dir + "/ca.key", "-CAcreateserial", "-days", "2", "-extfile", dir + "/" + who + ".ext",
         "-out", dir + "/" + who + ".crt"});
  }
}

// openvpn's own settings common to both ends: TLS with the throwaway PKI,
// AES-256-GCM as the only data cipher, a tun device, data channel offload
// off (the data channel runs in openvpn's process, as with Debian 12's kernel).
std::vector<std::string> openvpn_common(const std::string& pki, const std::string& who,
                                        const std::string& proto) {
  // Kept as option-value pairs, one pair a line.
  // clang-format off
  return {find_program("openvpn"),
          "--dev", "tun",
          "--proto", proto,
          "--ca", pki + "/ca.crt",
          "--cert", pki + "/" + who + ".crt",
          "--key", pki + "/" + who + ".key",
          "--remote-cert-tls", who == "server" ? "client" : "server",
          "--tls-version-min", "1.2",
          "--cipher", "AES-256-GCM",
          "--data-ciphers", "AES-256-GCM",
          "--disable-dco",
          "--keepalive", "10", "60",
          "--verb", "3"};
  // clang-format on
}

Target setup_openvpn(Lab& lab, bool tcp) {
  const std::string pki = lab.dir + "/pki";
  std::filesystem::create_directories(pki);
  make_pki(pki);
  const std::string server_address = lab.topology.address(lab.gw, lab.sub);

  auto server = openvpn_common(pki, "server", tcp ? "tcp-server" : "udp");
  server.insert(server.end(),
                {"--server", kOpenvpnNet, "255.255.255.0", "--topology", "subnet", "--dh", "none",
                 "--local", server_address, "--port", std::to_string(kOpenvpnPort)});
  lab.say("openvpn server: " + [&] {
    std::string s;
    for (const auto& a : server) s += a + " ";
    return s;
  }());
  Spawned& srv = lab.spawn("openvpn server", lab.gw, server, "openvpn-server.log");
  srv.wait_for_log("Initialization Sequence Completed", 30s);

  auto client = openvpn_common(pki, "client", tcp ? "tcp-client" : "udp");
  client.insert(client.end(), {"--client", "--nobind", "--remote", server_address,
                               std::to_string(kOpenvpnPort), "--connect-retry", "1"});
  Spawned& cli = lab.spawn("openvpn client", lab.sub, client, "openvpn-client.log");
  cli.wait_for_log("Initialization Sequence Completed", 30s);

  // The data channel must be the cipher the row claims; openvpn names it
  // just after the initialization line.
  cli.wait_for_log("Data Channel: cipher", 10s);
  std::string cipher_line;
  for (const auto& line : split(cli.log(), '\n'))
    if (line.find("Data Channel: cipher") != std::string::npos) cipher_line = line;
  if (cipher_line.find("AES-256-GCM") == std::string::npos)
    throw std::runtime_error("openvpn did not report AES-256-GCM for its data channel; " +
                             cli.log_tail());
  lab.say("openvpn up: " + cipher_line);
  // "OpenVPN 2.6.14 x86_64-pc-linux-gnu [SSL (OpenSSL)] ...": the first two words.
  std::istringstream version(run_command({find_program("openvpn"), "--version"}, "", 10s).out);
  std::string product = "openvpn", number;
  version >> product >> number;
  return {kOpenvpnServer,
          {srv.pid(), cli.pid()},
          product + " " + number + ", " + (tcp ? "TCP" : "UDP") +
              ", tun, data channel AES-256-GCM in openvpn's process (no DCO)"};
}

void teardown_openvpn(Lab& lab) {
  // Client first, so the server sees it leave; both by PID.
  for (auto it = lab.processes.rbegin(); it != lab.processes.rend(); ++it) (*it)->stop();
}

// ---------------------------------------------------------------- mnigs

// "" when the plugin at `path` is built, else why the row is not measured.
std::function<std::string()> plugin_unavailable(const std::string& path) {
  return [path] {
    if (std::filesystem::exists(path)) return std::string();
    const std::string target = std::filesystem::path(path).stem().string();
    return path + " does not exist (build the target " + target + " to measure it)";
  };
}

// Settings of one node that name its own scratch directory (Node::dir()),
// known only once the Node exists; applied before it starts.
using PerNode = std::function<void(Node&)>;

// A gateway mnigsd in gw and a subscriber mnigsd in sub, with static
// discovery only unless told (so the websocket suite is
// static-websocket-free) and without -v (debug logging would be part of
// what is measured). `per_node`, if given, adds to each node's options.
// Returns once both answer; lab.nodes is {gw, sub}.
void start_mnigs(Lab& lab, NodeOptions gw_options,
                 NodeOptions sub_options = NodeOptions().only_discovery("static"),
                 const PerNode& per_node = {}) {
  gw_options.verbose = sub_options.verbose = false;
  lab.nodes.push_back(std::make_unique<Node>(lab.topology, lab.gw, gw_options));
  lab.nodes.push_back(std::make_unique<Node>(lab.topology, lab.sub, sub_options));
  for (auto& node : lab.nodes) {
    if (per_node) per_node(*node);
    node->start();
  }
  for (auto& node : lab.nodes) node->wait_ready();
}

// An L3 tunnel of `suite`, connected as in tests/system/03_sessions_test.cpp
// with the forwarding suite: the subscriber's admin RPC `connect` to gw's
// address on the link; then gw's tunnel address (the pool's first host,
// the session's gateway4) is the target. `options` and `per_node` go to
// both nodes; gw also gets gateway.enabled.
Target setup_mnigs_tunnel(Lab& lab, const std::string& suite, const NodeOptions& options,
                          const PerNode& per_node = {}) {
  start_mnigs(lab, NodeOptions(options).set("gateway", "enabled", "true"), options, per_node);
  Node& gw = *lab.nodes[0];
  Node& sub = *lab.nodes[1];
  const Json::Value info = gw.rpc("nodeInfo");
  const Json::Value& suites = info["result"]["suites"];
  if (std::find(suites.begin(), suites.end(), Json::Value(suite)) == suites.end())
    throw std::runtime_error("gw does not offer " + suite + ": " + to_json(info) +
                             "\nplugins: " + to_json(gw.rpc("listPlugins")) + "\n" +
                             gw.log_tail(20));

  const std::string gw_address = lab.topology.address(lab.gw, lab.sub);
  Json::Value params(Json::objectValue);
  params["address"] = gw_address;
  params["port"] = gw.rpc_port();
  params["suite"] = suite;
  lab.say("connect " + to_json(params));
  const Json::Value connected =
      rpc(sub.ns(), "127.0.0.1", sub.rpc_port(), "connect", params, "", 60s);
  if (!rpc_succeeded(connected))
    throw std::runtime_error("connect " + to_json(params) + ": " + to_json(connected) + "\n" +
                             sub.log_tail(20));
  Json::Value state;
  for (int i = 0; i < 100; ++i) {
    state = sub.rpc("listSessions")["result"]["subscriber"];
    if (state["state"].asString() == "connected") break;
    std::this_thread::sleep_for(200ms);
  }
  if (state["state"].asString() != "connected")
    throw std::runtime_error("the subscriber did not report connected within 20 s: " +
                             to_json(state) + "\n" + sub.log_tail(20));
  // The session's tunnel object names the gateway's tunnel address.
  Json::Value tunnel = state["connection"]["tunnel"];
  if (!tunnel["gateway4"].isString())
    throw std::runtime_error("the session has no IPv4 tunnel address: " + to_json(tunnel));
  const std::string target = tunnel["gateway4"].asString();
  tunnel.removeMember("token");
  tunnel.removeMember("cert");  // openvpn's: a PEM certificate
  lab.say("connected, tunnel " + to_json(tunnel));
  return {target, {gw.pid(), sub.pid()}, ""};
}

// The L3 websocket tunnel: over TLS (websocket.tls, the default; the
// subscriber learns the gateway's key from its nodeInfo), or plain.
Target setup_mnigs_l3(Lab& lab, bool tls) {
  Target t = setup_mnigs_tunnel(lab, kWebsocketSuite,
                                NodeOptions()
                                    .only_discovery("static")
                                    .set("websocket", "pool4", yaml_quote(kWebsocketPool4))
                                    .set("websocket", "tls", tls ? "true" : "false"));
  const Json::Value up = lab.nodes[1]->rpc("listPlugins");
  for (const auto& p : up["result"]["plugins"])
    if (p["name"].asString() == "websocket") {
      const Json::Value& s = p["status"]["subscriber"]["sessions"][0];
      if (s["tls"].asBool() != tls)
        throw std::runtime_error(std::string("the tunnel is not ") + (tls ? "wss" : "plain ws") +
                                 ": " + to_json(p["status"]["subscriber"]));
      if (tls) t.note = s["cipher"].asString() + ", the gateway's key pinned";
    }
  return t;
}

// GRE and IP in IP in userspace, the mode a kernel without their modules
// (this one's) gets; on a kernel with them, mode auto would take its
// devices instead.
Target setup_mnigs_encap(Lab& lab, const std::string& method) {
  Target t = setup_mnigs_tunnel(
      lab, "static-" + method + "-free",
      NodeOptions().only_discovery("static").set(method, "mode", yaml_quote("userspace")));
  t.note = "userspace: raw IP sockets and tun devices, no encryption";
  return t;
}

// openvpn run by mnigsd, as a user gets it from the plugin's defaults (UDP,
// its own certificates, the gateway pinned; plugins/tunnel/openvpn/README.md).
// Each node keeps openvpn's files in a runDir of its own: the default
// (/run/mnigs/openvpn) would be one directory for both, and each mnigsd
// ends at start the openvpns whose pid files it finds there. The openvpn
// processes carry the data, so their CPU time is counted with the mnigsds'.
Target setup_mnigs_openvpn(Lab& lab) {
  auto run_dir = [](const Node& node) { return node.dir() + "/openvpn"; };
  Target t = setup_mnigs_tunnel(
      lab, "static-openvpn-free",
      NodeOptions().only_discovery("static").set("openvpn", "pool4",
                                                 yaml_quote(kMnigsOpenvpnPool4)),
      [&](Node& node) { node.options().set("openvpn", "runDir", yaml_quote(run_dir(node))); });
  // The subscriber's client is started with the session: wait until both
  // ends have written their pid files, and take every openvpn they name.
  std::vector<pid_t> openvpns;
  int ends = 0;  // nodes with a running openvpn
  for (int i = 0; i < 100; ++i) {
    openvpns.clear();
    ends = 0;
    for (const auto& node : lab.nodes) {
      bool any = false;
      std::error_code ec;
      for (const auto& e : std::filesystem::directory_iterator(run_dir(*node), ec)) {
        if (e.path().extension() != ".pid") continue;
        std::ifstream in(e.path());
        pid_t pid = 0;
        if (in >> pid && pid > 1 && process_alive(pid)) {
          openvpns.push_back(pid);
          any = true;
        }
      }
      ends += any;
    }
    if (ends == 2) break;
    std::this_thread::sleep_for(200ms);
  }
  if (ends != 2)
    throw std::runtime_error("no running openvpn named by the pid files in both " + lab.gw +
                             "'s and " + lab.sub + "'s runDir within 20 s\n" +
                             lab.nodes[0]->log_tail(20) + lab.nodes[1]->log_tail(20));
  t.processes.insert(t.processes.end(), openvpns.begin(), openvpns.end());
  // The target must be reached through the tunnel's device.
  const auto route =
      run_command({"ip", "-4", "route", "get", t.address}, lab.topology.ns(lab.sub), 10s);
  if (route.out.find("dev " + kMnigsOpenvpnInterface) == std::string::npos)
    throw std::runtime_error("in " + lab.sub + ", " + t.address + " is not routed into " +
                             kMnigsOpenvpnInterface + ": " + route.out + route.err);
  lab.say("openvpn pids: " + std::to_string(openvpns.size()) + ", route: " + route.out);
  t.note =
      "openvpn run by mnigsd: UDP, the plugin's certificates and admission, "
      "openvpn's default data ciphers";
  return t;
}

void teardown_mnigs_tunnel(Lab& lab) {
  if (lab.nodes.size() < 2 || !lab.nodes[1]->running()) return;
  const Node& sub = *lab.nodes[1];
  try {
    rpc(sub.ns(), "127.0.0.1", sub.rpc_port(), "disconnect", Json::Value(Json::objectValue), "",
        15s);
  } catch (const std::exception& e) {
    std::cerr << "mnigs_tunnel_bench: disconnect on " << sub.name() << ": " << e.what() << "\n";
  }
}

// The L2 switch: gw serves it with a port of its own (a tap holding
// 10.97.0.1/24); the subscriber joins it as a vpn-ws client would, with the
// admin RPC `websocket.join`, through a tap that gets 10.97.0.2/24. Anyone
// who reaches gw may join (l2Auth none): only the bench's namespaces can.
Target setup_mnigs_l2(Lab& lab) {
  start_mnigs(lab, NodeOptions()
                       .only_discovery("static")
                       .set("gateway", "enabled", "true")
                       .set("websocket", "l2Address", yaml_quote(kSwitchGatewayPort))
                       .set("websocket", "l2Auth", yaml_quote("none")));
  Node& gw = *lab.nodes[0];
  Node& sub = *lab.nodes[1];
  Json::Value params(Json::objectValue);
  params["url"] = "ws://" + lab.topology.address(lab.gw, lab.sub) + ":" +
                  std::to_string(gw.rpc_port()) + "/vpn";
  params["interface"] = kSwitchInterface;
  lab.say("websocket.join " + to_json(params));
  const Json::Value joined =
      rpc(sub.ns(), "127.0.0.1", sub.rpc_port(), "websocket.join", params, "", 30s);
  if (!rpc_succeeded(joined))
    throw std::runtime_error("websocket.join " + to_json(params) + ": " + to_json(joined) + "\n" +
                             sub.log_tail(20));
  run_checked({"ip", "addr", "add", kSwitchSubscriber, "dev", kSwitchInterface}, sub.ns(), 10s);
  lab.say("joined: " + to_json(joined["result"]));
  return {kSwitchGateway, {gw.pid(), sub.pid()}, ""};
}

void teardown_mnigs_l2(Lab& lab) {
  if (lab.nodes.size() < 2 || !lab.nodes[1]->running()) return;
  const Node& sub = *lab.nodes[1];
  Json::Value params(Json::objectValue);
  params["interface"] = kSwitchInterface;
  try {
    rpc(sub.ns(), "127.0.0.1", sub.rpc_port(), "websocket.leave", params, "", 15s);
  } catch (const std::exception& e) {
    std::cerr << "mnigs_tunnel_bench: websocket.leave on " << sub.name() << ": " << e.what()
              << "\n";
  }
}

std::vector<Transport> transports() {
  auto always = [] { return std::string(); };
  return {
      {"raw", "raw", "raw veth", always, setup_raw, {}},
      {"openvpn-udp", "ovu", "openvpn UDP", always,
       [](Lab& lab) { return setup_openvpn(lab, false); }, teardown_openvpn},
      {"mnigs-openvpn", "mov", "mnigs openvpn", plugin_unavailable(kOpenvpnPlugin),
       setup_mnigs_openvpn, teardown_mnigs_tunnel},
      {"openvpn-tcp", "ovt", "openvpn TCP", always,
       [](Lab& lab) { return setup_openvpn(lab, true); }, teardown_openvpn},
      {"mnigs-ws", "ws", "mnigs websocket ws", plugin_unavailable(kWebsocketPlugin),
       [](Lab& lab) { return setup_mnigs_l3(lab, false); }, teardown_mnigs_tunnel},
      {"mnigs-wss", "wss", "mnigs websocket wss", plugin_unavailable(kWebsocketPlugin),
       [](Lab& lab) { return setup_mnigs_l3(lab, true); }, teardown_mnigs_tunnel},
      {"mnigs-l2", "l2", "mnigs L2 switch", plugin_unavailable(kWebsocketPlugin), setup_mnigs_l2,
       teardown_mnigs_l2},
      {"mnigs-gre", "gre", "mnigs GRE", plugin_unavailable(kGrePlugin),
       [](Lab& lab) { return setup_mnigs_encap(lab, "gre"); }, teardown_mnigs_tunnel},
      {"mnigs-ipip", "ipip", "mnigs IP in IP", plugin_unavailable(kIpipPlugin),
       [](Lab& lab) { return setup_mnigs_encap(lab, "ipip"); }, teardown_mnigs_tunnel},
  };
}

// ---------------------------------------------------------------- iperf3

struct Sample {
  double gbits = 0;       // received, Gbit/s
  double cpu_per_gb = 0;   // CPU seconds per 1e9 bytes received
  double host_per_gb = 0;  // the host's busy CPU seconds per 1e9 bytes
  double iperf_cpu = 0, tunnel_cpu = 0, host_cpu = 0, gbytes = 0;
};

// Runs `iperf3 -c` in sub against gw's server and parses its JSON. CPU: the
// two iperf3 processes' own figures (cpu_utilization_percent x duration)
// plus what the tunnel's processes used meanwhile.
Sample iperf3_run(const Lab& lab, const Target& target, int streams, int seconds, bool reverse) {
  // clang-format off
  std::vector<std::string> argv = {"iperf3", "-c", target.address,
                                   "-p", std::to_string(kIperfPort),
                                   "-t", std::to_string(seconds),
                                   "-P", std::to_string(streams),
                                   "-J", "--connect-timeout", "5000"};
  // clang-format on
  if (reverse) argv.push_back("-R");
  std::vector<double> before;
  for (pid_t p : target.processes) before.push_back(process_cpu_seconds(p));
  const double host_before = host_busy_seconds();
  const CommandResult r =
      run_command(argv, lab.topology.ns(lab.sub), std::chrono::seconds(seconds + 30));
  const double host_cpu = std::max(0.0, host_busy_seconds() - host_before);
  double tunnel_cpu = 0;
  for (size_t i = 0; i < target.processes.size(); ++i)
    tunnel_cpu += std::max(0.0, process_cpu_seconds(target.processes[i]) - before[i]);

  Json::Value json;
  std::string errors;
  std::istringstream in(r.out);
  Json::CharReaderBuilder builder;
  const bool parsed = Json::parseFromStream(builder, in, &json, &errors);
  if (!parsed || !json.isObject()) {
    throw std::runtime_error("iperf3 to " + target.address + " gave no JSON (exit " +
                             std::to_string(r.exit_code) + (r.timed_out ? ", timed out" : "") +
                             "): " + r.err + r.out.substr(0, 400));
  }
  if (json.isMember("error"))
    throw std::runtime_error("iperf3 to " + target.address + ": " + json["error"].asString());
  const Json::Value& received = json["end"]["sum_received"];
  const Json::Value& cpu = json["end"]["cpu_utilization_percent"];
  Sample s;
  s.gbits = received["bits_per_second"].asDouble() / 1e9;
  s.gbytes = received["bytes"].asDouble() / 1e9;
  const double duration = received["seconds"].asDouble();
  s.iperf_cpu = (cpu["host_total"].asDouble() + cpu["remote_total"].asDouble()) / 100 * duration;
  s.tunnel_cpu = tunnel_cpu;
  s.host_cpu = host_cpu;
  if (s.gbytes > 0) s.cpu_per_gb = (s.iperf_cpu + s.tunnel_cpu) / s.gbytes;
  if (s.gbytes > 0) s.host_per_gb = s.host_cpu / s.gbytes;
  if (s.gbits <= 0) throw std::runtime_error("iperf3 to " + target.address + " received nothing");
  return s;
}

// iperf3 -s in gw, then a one-second run that retries until the path works
// (a tunnel may need a moment after it reports being up).
void start_iperf3_server(Lab& lab, const Target& target) {
  lab.spawn("iperf3 server", lab.gw,
            {find_program("iperf3"), "-s", "-p", std::to_string(kIperfPort)}, "iperf3-server.log");
  const auto t0 = Clock::now();
  const std::string port = ":" + std::to_string(kIperfPort);
  for (;;) {
    const auto ss = run_command({"ss", "-Hltn"}, lab.topology.ns(lab.gw), 5s);
    if (ss.out.find(port + " ") != std::string::npos) break;
    if (seconds_since(t0) > 10)
      throw std::runtime_error("iperf3 -s in " + lab.gw + " does not listen; " +
                               lab.processes.back()->log_tail());
    std::this_thread::sleep_for(50ms);
  }
  std::string last;
  for (int attempt = 0; attempt < 20; ++attempt) {
    try {
      iperf3_run(lab, target, 1, 1, false);
      return;
    } catch (const std::exception& e) {
      last = e.what();
    }
    std::this_thread::sleep_for(500ms);
  }
  throw std::runtime_error("no iperf3 run to " + target.address + " succeeded: " + last);
}

// ------------------------------------------------------------- the table

struct Row {
  const Transport* transport = nullptr;
  std::string skipped;  // "not measured: ..." or "failed: ..."
  std::string note;
  std::map<int, std::vector<Sample>> samples;  // by stream count
  double gbits(int streams) const {
    auto it = samples.find(streams);
    if (it == samples.end()) return 0;
    std::vector<double> v;
    for (const auto& s : it->second) v.push_back(s.gbits);
    return median(v);
  }
  double cpu_per_gb(int streams) const { return median_of(streams, &Sample::cpu_per_gb); }
  double host_per_gb(int streams) const { return median_of(streams, &Sample::host_per_gb); }
  double median_of(int streams, double Sample::*field) const {
    auto it = samples.find(streams);
    if (it == samples.end()) return 0;
    std::vector<double> v;
    for (const auto& s : it->second) v.push_back(s.*field);
    return median(v);
  }
};

std::string ratio_text(double value, double reference) {
  if (value <= 0 || reference <= 0) return "-";
  const double r = value / reference;
  char buf[32];
  std::snprintf(buf, sizeof buf, r >= 10 ? "%.1f" : r >= 1 ? "%.2f" : "%.3f", r);
  return buf;
}

void print_table(const std::vector<Row>& rows, const Options& o) {
  const Row* raw = nullptr;
  const Row* ovpn = nullptr;
  for (const auto& r : rows) {
    if (r.transport->name == "raw" && r.skipped.empty()) raw = &r;
    if (r.transport->name == "openvpn-udp" && r.skipped.empty()) ovpn = &r;
  }
  std::cout << "\ntransport            streams   Gbit/s  x raw veth  x openvpn UDP  CPU s/GB"
               "  host CPU s/GB\n";
  for (const auto& r : rows) {
    if (!r.skipped.empty()) {
      std::printf("%-20s %7s   %s\n", r.transport->label.c_str(), "-", r.skipped.c_str());
      continue;
    }
    for (int n : o.streams) {
      const double g = r.gbits(n);
      std::printf("%-20s %7d  %7.2f  %10s  %13s  %8.2f  %13.2f\n", r.transport->label.c_str(),
                  n, g, ratio_text(g, raw ? raw->gbits(n) : 0).c_str(),
                  ratio_text(g, ovpn ? ovpn->gbits(n) : 0).c_str(), r.cpu_per_gb(n),
                  r.host_per_gb(n));
    }
  }
  for (const auto& r : rows)
    if (!r.note.empty()) std::cout << r.transport->label << ": " << r.note << "\n";

  // The throughput goals, reported (never asserted): one stream, against
  // openvpn over UDP and the raw veth link. A row with no goal but an
  // expected ratio to openvpn UDP gets that ratio printed, without a verdict.
  struct Goal {
    const char* name;
    double openvpn, raw;  // at least these multiples; 0: no goal
    double about = 0;     // no goal: about this multiple of openvpn UDP expected
  };
  for (const Goal& goal : {Goal{"mnigs-ws", 0, 0.6}, Goal{"mnigs-wss", 5, 0.3},
                           Goal{"mnigs-gre", 3, 0}, Goal{"mnigs-openvpn", 0, 0, 1.0}}) {
    for (const auto& r : rows) {
      if (r.transport->name != goal.name) continue;
      if (goal.about > 0) {
        std::cout << "expected for " << r.transport->label << ", 1 stream: about " << goal.about
                  << "x openvpn UDP (no goal)";
        if (!r.skipped.empty() || !r.samples.count(1) || !ovpn) {
          std::cout << ": not measured\n";
          continue;
        }
        const double g = r.gbits(1);
        std::cout << ": " << ratio_text(g, ovpn->gbits(1)) << "x openvpn UDP";
        if (raw) std::cout << ", " << ratio_text(g, raw->gbits(1)) << "x raw veth";
        std::cout << "\n";
        continue;
      }
      std::cout << "goal for " << r.transport->label << ", 1 stream:";
      if (goal.openvpn > 0) std::cout << " >= " << goal.openvpn << "x openvpn UDP";
      if (goal.raw > 0) std::cout << (goal.openvpn > 0 ? " and" : "") << " >= " << goal.raw
                                  << "x raw veth";
      if (!r.skipped.empty() || !r.samples.count(1) || !raw || !ovpn) {
        std::cout << ": not measured\n";
        continue;
      }
      const double g = r.gbits(1);
      const bool met = g >= goal.openvpn * ovpn->gbits(1) && g >= goal.raw * raw->gbits(1);
      std::cout << ": " << (met ? "met" : "not met") << " (" << ratio_text(g, ovpn->gbits(1))
                << "x openvpn UDP, " << ratio_text(g, raw->gbits(1)) << "x raw veth)\n";
    }
  }
  std::cout << std::flush;
}

Options parse(int argc, char** argv) {
  Options o;
  std::vector<std::string> names;
  for (const auto& t : transports()) names.push_back(t.name);
  for (Args args(argc, argv); args.next();) {
    const std::string a = args.flag();
    if (a == "--seconds") {
      o.seconds = args.number();
    } else if (a == "--runs") {
      o.runs = args.number();
    } else if (a == "--streams") {
      o.streams = args.numbers();
    } else if (a == "--only") {
      o.only = args.list();
      for (const auto& n : o.only)
        if (std::find(names.begin(), names.end(), n) == names.end()) {
          std::string all;
          for (const auto& m : names) all += (all.empty() ? "" : ", ") + m;
          throw std::invalid_argument("unknown transport " + n + " (known: " + all + ")");
        }
    } else if (a == "--reverse" || a == "-R") {
      o.reverse = true;
    } else if (a == "--verbose" || a == "-v") {
      o.verbose = true;
    } else {
      args.unknown("--seconds N, --runs N, --streams A,B, --only NAME,..., --reverse, --verbose");
    }
  }
  if (o.seconds < 1 || o.seconds > 600) throw std::invalid_argument("--seconds must be 1..600");
  if (o.runs < 1 || o.runs > 50) throw std::invalid_argument("--runs must be 1..50");
  if (o.streams.empty()) throw std::invalid_argument("--streams needs at least one count");
  for (int n : o.streams)
    if (n < 1 || n > 128) throw std::invalid_argument("stream counts must be 1..128");
  return o;
}

int run(const Options& o) {
  find_program("iperf3");
  const std::vector<Transport> all = transports();
  std::vector<const Transport*> chosen;
  for (const auto& t : all)
    if (o.only.empty() || std::find(o.only.begin(), o.only.end(), t.name) != o.only.end())
      chosen.push_back(&t);

  std::string streams;
  for (int n : o.streams) streams += (streams.empty() ? "" : ", ") + std::to_string(n);
  std::cout << "tunnel throughput: iperf3 TCP, " << (o.reverse ? "gw -> sub" : "sub -> gw") << ", "
            << streams << " stream(s), " << o.seconds << " s per run, median of " << o.runs
            << " run(s)\n"
            << "each transport in its own two namespaces joined by one veth link\n"
            << std::flush;

  bench::Scratch scratch("tunnel-bench");
  std::vector<Row> rows;
  std::vector<std::unique_ptr<Lab>> labs;  // parallel to rows; null when not measured
  std::vector<Target> targets;
  int failures = 0;
  for (const Transport* t : chosen) {
    Row row;
    row.transport = t;
    std::unique_ptr<Lab> lab;
    Target target;
    if (const std::string why = t->unavailable ? t->unavailable() : ""; !why.empty() || !t->setup) {
      row.skipped = "not measured: " + (why.empty() ? "no setup" : why);
    } else {
      try {
        const std::string dir = scratch.path() + "/" + t->name;
        std::filesystem::create_directories(dir);
        lab = std::make_unique<Lab>(t->tag, dir, o.verbose);
        lab->topology.up();
        target = t->setup(*lab);
        start_iperf3_server(*lab, target);
        row.note = target.note;
      } catch (const std::exception& e) {
        row.skipped = std::string("failed: ") + e.what();
        std::cerr << "mnigs_tunnel_bench: " << t->label << ": " << e.what() << "\n";
        ++failures;
        lab.reset();
      }
    }
    rows.push_back(std::move(row));
    labs.push_back(std::move(lab));
    targets.push_back(target);
  }

  // Round-robin: run r of every stream count of every transport, then r+1.
  for (int run = 0; run < o.runs; ++run)
    for (int n : o.streams)
      for (size_t i = 0; i < rows.size(); ++i) {
        if (!labs[i] || !rows[i].skipped.empty()) continue;
        try {
          const Sample s = iperf3_run(*labs[i], targets[i], n, o.seconds, o.reverse);
          rows[i].samples[n].push_back(s);
          if (o.verbose)
            std::fprintf(stderr,
                         "%s, %d stream(s), run %d: %.3f Gbit/s, %.3f GB, CPU %.2f s iperf3 + "
                         "%.2f s tunnel = %.3f s/GB\n",
                         rows[i].transport->label.c_str(), n, run + 1, s.gbits, s.gbytes,
                         s.iperf_cpu, s.tunnel_cpu, s.cpu_per_gb);
        } catch (const std::exception& e) {
          rows[i].skipped = std::string("failed: ") + e.what();
          rows[i].samples.clear();
          std::cerr << "mnigs_tunnel_bench: " << rows[i].transport->label << ": " << e.what()
                    << "\n";
          for (const auto& p : labs[i]->processes) std::cerr << p->log_tail(10);
          ++failures;
        }
      }

  for (size_t i = 0; i < rows.size(); ++i) {
    if (!labs[i]) continue;
    if (rows[i].transport->teardown) {
      try {
        rows[i].transport->teardown(*labs[i]);
      } catch (const std::exception& e) {
        std::cerr << "mnigs_tunnel_bench: tearing down " << rows[i].transport->label << ": "
                  << e.what() << "\n";
      }
    }
    labs[i].reset();
  }
  print_table(rows, o);
  return failures ? 1 : 0;
}

}  // namespace
}  // namespace mnigs::test

int main(int argc, char** argv) {
  using namespace mnigs::test;
  return bench::bench_main("mnigs_tunnel_bench", argc, argv, parse, run);
}
