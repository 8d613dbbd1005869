// The tether's cost: throughput and round trips from a laptop to a host on
// the "Internet" through a phone's browser (headless Chromium running the
// tether page), beside a subscriber's plain websocket tunnel to the same
// gateway in the same run (suite static-websocket-free): the ratio is what
// the browser relay costs. (The reference cannot be the phone's own tunnel:
// a gateway holds one session per subscriber address.)
//
//   laptop ---- phone ---- gw ---- inet     (static discovery)
//                          |
//                         sub
//
// iperf3 -s and a UDP echo run on inet. Each run: iperf3 TCP, one stream,
// each way (-R: inet sends), from the laptop through the tether and from
// sub through its tunnel, one after the other; then 200 UDP round trips
// each. Where the tether's time goes: the CPU seconds per GB of Chromium
// (every process in the phone's namespace), of the laptop's mnigsd and of
// the gateway's, and the mean size of the messages the laptop and the page
// exchanged.
//
//   sudo bench/run.sh tether                 # 3 runs of 10 s
//   sudo bench/run.sh tether --runs 5 --seconds 20
//   sudo bench/run.sh tether --no-offload    # tether.offload off: a message per packet
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <memory>
#include <thread>

#include "args.hpp"
#include "harness/browser.hpp"
#include "harness/netns.hpp"
#include "harness/node.hpp"
#include "harness/wait.hpp"
#include "mesh.hpp"
#include "udp.hpp"

namespace mnigs::test {
namespace {

using namespace std::chrono_literals;
using bench::Clock;

constexpr int kIperfPort = 5201;
constexpr int kEchoPort = 9;
constexpr int kTetherPort = 6354;
constexpr int kRoundTrips = 200;
const std::string kSuite = "static-websocket-free";

struct Options {
  int runs = 3;
  int seconds = 10;
  bool offload = true;  // tether.offload
};

Options parse(int argc, char** argv) {
  Options o;
  bench::Args args(argc, argv);
  while (args.next()) {
    if (args.flag() == "--runs")
      o.runs = args.number();
    else if (args.flag() == "--seconds")
      o.seconds = args.number();
    else if (args.flag() == "--no-offload")
      o.offload = false;
    else
      args.unknown("--runs N, --seconds S, --no-offload");
  }
  if (o.runs < 1 || o.runs > 100) throw std::invalid_argument("--runs takes 1..100");
  if (o.seconds < 2 || o.seconds > 600) throw std::invalid_argument("--seconds takes 2..600");
  return o;
}

std::string program(const std::string& name) {
  for (const char* dir : {"/usr/bin/", "/usr/sbin/", "/bin/", "/sbin/"})
    if (::access((dir + name).c_str(), X_OK) == 0) return dir + name;
  throw std::runtime_error(name + " is not installed (scripts/deps.sh: install_deps test)");
}

// kRoundTrips datagrams from `ns` to the echo, one at a time: the round
// trips in ms (lost ones left out).
std::vector<double> round_trips(const std::string& ns, const std::string& echo) {
  const int fd = udp_socket_in(ns, 500ms);
  const sockaddr_in to = ipv4_endpoint(echo, kEchoPort);
  std::vector<double> out;
  for (int i = 0; i < kRoundTrips; ++i) {
    const std::uint32_t seq = static_cast<std::uint32_t>(i);
    const auto t0 = Clock::now();
    ::sendto(fd, &seq, sizeof seq, 0, reinterpret_cast<const sockaddr*>(&to), sizeof to);
    std::uint32_t got = ~0u;
    while (::recv(fd, &got, sizeof got, 0) == sizeof got && got != seq) {
    }
    if (got == seq)
      out.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
    std::this_thread::sleep_for(5ms);
  }
  ::close(fd);
  return out;
}

// What one iperf3 run moved, in Gbit/s.
double iperf3(const Topology& t, const std::string& from, const std::string& server, int seconds,
              bool reverse) {
  std::vector<std::string> argv = {
      program("iperf3"),       "-c", server, "-p", std::to_string(kIperfPort), "-t",
      std::to_string(seconds), "-J"};
  if (reverse) argv.push_back("-R");
  auto r = t.exec(from, argv, std::chrono::seconds(seconds + 30));
  Json::Value j;
  Json::CharReaderBuilder b;
  std::unique_ptr<Json::CharReader> reader(b.newCharReader());
  if (!reader->parse(r.out.data(), r.out.data() + r.out.size(), &j, nullptr))
    throw std::runtime_error("iperf3 from " + from + " gave no JSON: " + r.err);
  if (j.isMember("error"))
    throw std::runtime_error("iperf3 from " + from + ": " + j["error"].asString());
  return j["end"]["sum_received"]["bits_per_second"].asDouble() / 1e9;
}

double cpu_of(const std::vector<pid_t>& pids) {
  double s = 0;
  for (pid_t p : pids) s += bench::process_cpu_seconds(p);
  return s;
}

Json::Value tether_status(const Node& laptop) {
  Json::Value r = laptop.rpc("listPlugins");
  for (const auto& p : r["result"]["plugins"])
    if (p["name"].asString() == "tether") return p["status"];
  return Json::Value();
}

int run(const Options& o) {
  program("iperf3");
  bench::Scratch scratch("tether-bench");
  Topology t;
  t.node("laptop").node("phone").node("gw").node("inet").node("sub");
  t.link("laptop", "phone").link("phone", "gw").link("gw", "inet").link("sub", "gw");
  t.up();
  const std::string inet = t.address("inet", "gw");
  const pid_t iperf_server = spawn_in_ns(
      t.ns("inet"), {program("iperf3"), "-s", "-B", inet, "-p", std::to_string(kIperfPort)},
      scratch.path() + "/iperf3.log");
  Reaper::instance().watch_pid(iperf_server);
  struct Cleanup {
    pid_t pid;
    ~Cleanup() {
      terminate_processes({pid}, 3s);
      Reaper::instance().forget_pid(pid);
    }
  } cleanup{iperf_server};
  bench::UdpEcho echo(t.ns("inet"), inet, kEchoPort);

  Node gw(t, "gw", NodeOptions().only_discovery("static").set("gateway", "enabled", "true"));
  const std::string gateway = t.address("gw", "phone") + ":" + std::to_string(gw.rpc_port());
  Node laptop(t, "laptop",
              NodeOptions()
                  .only_discovery("static")
                  .set("tether", "enabled", "true")
                  .set("tether", "listen",
                       yaml_quote(t.address("laptop", "phone") + ":" + std::to_string(kTetherPort)))
                  .set("tether", "gateway", yaml_quote(gateway))
                  .set("tether", "offload", o.offload ? "true" : "false"));
  Node sub(t, "sub", NodeOptions().only_discovery("static"));
  gw.launch();
  laptop.launch();
  sub.launch();
  auto c =
      sub.cli({"-c", t.address("gw", "sub"), "-p", std::to_string(gw.rpc_port()), "-m", kSuite});
  if (c.exit_code != 0) throw std::runtime_error("sub's websocket tunnel: " + c.out + c.err);

  Browser browser(t.ns("phone"), scratch.path() + "/chromium");
  const std::string code = laptop.rpc("tether.pairing")["result"]["code"].asString();
  browser.open("http://" + t.address("laptop", "phone") + ":" + std::to_string(kTetherPort) + "/#" +
               code);
  if (!wait_until([&] { return tether_status(laptop)["state"] == "connected"; }, 200, 100ms))
    throw std::runtime_error("the tether did not connect: " + to_json(tether_status(laptop)) +
                             laptop.log_tail());
  // iperf3 reaches inet both ways before anything is measured.
  iperf3(t, "laptop", inet, 1, false);
  iperf3(t, "sub", inet, 1, false);

  const std::vector<pid_t> chromium = namespace_pids(t.ns("phone"));

  std::cout << "tether (offload " << (o.offload ? "on" : "off") << "): iperf3 TCP, 1 stream, "
            << o.seconds << " s, " << o.runs
            << " run(s) each way; laptop -> phone's Chromium -> gw's websocket tunnel -> inet,\n"
               "beside sub's websocket tunnel to the same gateway\n";
  std::vector<double> up_t, up_w, down_t, down_w;
  double tether_gb = 0, chromium_cpu = 0, laptop_cpu = 0, gw_cpu = 0;
  Json::Value before = tether_status(laptop);
  for (int run = 1; run <= o.runs; ++run) {
    for (bool reverse : {false, true}) {
      const double c0 = cpu_of(chromium), l0 = bench::process_cpu_seconds(laptop.pid()),
                   g0 = bench::process_cpu_seconds(gw.pid());
      const double tether = iperf3(t, "laptop", inet, o.seconds, reverse);
      chromium_cpu += cpu_of(chromium) - c0;
      laptop_cpu += bench::process_cpu_seconds(laptop.pid()) - l0;
      gw_cpu += bench::process_cpu_seconds(gw.pid()) - g0;
      tether_gb += tether * o.seconds / 8;
      const double websocket = iperf3(t, "sub", inet, o.seconds, reverse);
      (reverse ? down_t : up_t).push_back(tether);
      (reverse ? down_w : up_w).push_back(websocket);
      std::printf("run %d %s: tether %.3f Gbit/s, websocket %.3f Gbit/s, ratio %.2f\n", run,
                  reverse ? "inet -> laptop" : "laptop -> inet", tether, websocket,
                  websocket > 0 ? tether / websocket : 0);
    }
  }
  const Json::Value after = tether_status(laptop);
  auto mean_size = [&](const char* bytes, const char* packets) {
    const double b = after[bytes].asDouble() - before[bytes].asDouble();
    const double p = after[packets].asDouble() - before[packets].asDouble();
    return p > 0 ? b / p : 0;
  };
  const auto rt_t = round_trips(t.ns("laptop"), inet);
  const auto rt_w = round_trips(t.ns("sub"), inet);

  const double mu_t = bench::median(up_t), mu_w = bench::median(up_w);
  const double md_t = bench::median(down_t), md_w = bench::median(down_w);
  std::printf("\n%-16s %14s %14s %8s\n", "", "tether", "websocket", "ratio");
  std::printf("%-16s %10.3f Gb/s %10.3f Gb/s %8.2f\n", "laptop -> inet", mu_t, mu_w,
              mu_w > 0 ? mu_t / mu_w : 0);
  std::printf("%-16s %10.3f Gb/s %10.3f Gb/s %8.2f\n", "inet -> laptop", md_t, md_w,
              md_w > 0 ? md_t / md_w : 0);
  const double rtt_t = bench::median(rt_t), rtt_w = bench::median(rt_w);
  std::printf(
      "%-16s %11.3f ms %11.3f ms %8.2f   (median of %zu and %zu of %d; p99 %.3f / %.3f ms)\n",
      "round trip", rtt_t, rtt_w, rtt_w > 0 ? rtt_t / rtt_w : 0, rt_t.size(), rt_w.size(),
      kRoundTrips, bench::percentile(rt_t, 0.99), bench::percentile(rt_w, 0.99));
  if (tether_gb > 0)
    std::printf(
        "\nCPU per GB through the tether: Chromium %.2f s, the laptop's mnigsd %.2f s, "
        "the gateway's mnigsd %.2f s\n",
        chromium_cpu / tether_gb, laptop_cpu / tether_gb, gw_cpu / tether_gb);
  std::printf("mean message: laptop -> page %.0f bytes, page -> laptop %.0f bytes\n",
              mean_size("bytesToPage", "packetsToPage"),
              mean_size("bytesFromPage", "packetsFromPage"));
  std::printf("dropped: by the laptop %llu, refused by its tun %llu, its queue full %llu\n",
              static_cast<unsigned long long>(after["dropped"].asUInt64()),
              static_cast<unsigned long long>(after["tunRefused"].asUInt64()),
              static_cast<unsigned long long>(after["droppedQueueFull"].asUInt64()));
  return 0;
}

}  // namespace
}  // namespace mnigs::test

int main(int argc, char** argv) {
  return mnigs::test::bench::bench_main("mnigs_tether_bench", argc, argv, mnigs::test::parse,
                                        mnigs::test::run);
}
