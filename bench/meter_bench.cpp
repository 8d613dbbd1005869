// The cost of metering: iperf3 TCP through a gateway to a host behind it
// ("the Internet"), with the gateway's meter off, on (a counter per session
// and direction), and on with a voucher's quota and rate limits (a limit
// above what the link carries, so only the cost of the rules shows), for the
// forwarding tunnel and the websocket tunnel, in one run.
//
//   inet ---- gw ---- sub     inet: iperf3 -s; gw: mnigsd; sub: mnigsd, iperf3 -c
//
// "off" is the same session with the meter's four lookups taken out of its
// forward chain (nft flush chain inet mnigs_meter forward): everything else,
// the tunnel included, stays as it is. Runs go round-robin over the rows of
// one tunnel and suite, so a change in what else loads the machine falls on
// every row alike; the table shows medians and the ratio to "off".
//
//   mnigs_meter_bench [--seconds 5] [--runs 3] [--only forwarding,websocket] [--verbose]
//
// Needs root (network namespaces) and iperf3. See bench/README.md.
#include <json/json.h>

#include <cstdio>
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
#include "harness/rpc_client.hpp"
#include "harness/topology.hpp"
#include "args.hpp"
#include "mesh.hpp"

namespace mnigs::test {
namespace {

using bench::Args;
using bench::median;

constexpr int kIperfPort = 5201;

struct Options {
  int seconds = 5;
  int runs = 3;
  std::vector<std::string> tunnels{"forwarding", "websocket"};
  bool verbose = false;
};

Options parse(int argc, char** argv) {
  Options o;
  Args args(argc, argv);
  while (args.next()) {
    if (args.flag() == "--seconds") o.seconds = args.number();
    else if (args.flag() == "--runs") o.runs = args.number();
    else if (args.flag() == "--only") o.tunnels = args.list();
    else if (args.flag() == "--verbose") o.verbose = true;
    else args.unknown("--seconds N, --runs N, --only forwarding,websocket, --verbose");
  }
  if (o.seconds < 1 || o.runs < 1) throw std::invalid_argument("--seconds and --runs: 1 or more");
  for (const auto& t : o.tunnels)
    if (t != "forwarding" && t != "websocket")
      throw std::invalid_argument("--only takes forwarding and websocket");
  return o;
}

struct Lab {
  Topology topology;
  std::unique_ptr<Node> gw, sub;
  pid_t iperf = -1;
  ~Lab() {
    if (iperf > 0) terminate_processes({iperf});
  }
};

std::string inet_address(const Lab& lab) { return lab.topology.address("inet", "gw"); }

// Gbit/s received by one iperf3 run from sub to inet (`reverse`: inet sends).
double iperf3(const Lab& lab, int seconds, bool reverse) {
  std::vector<std::string> argv = {"iperf3", "-c", inet_address(lab), "-p",
                                   std::to_string(kIperfPort), "-t", std::to_string(seconds),
                                   "-J", "--connect-timeout", "5000"};
  if (reverse) argv.push_back("-R");
  const CommandResult r =
      run_command(argv, lab.topology.ns("sub"), std::chrono::seconds(seconds + 30));
  Json::Value json;
  std::string errors;
  std::istringstream in(r.out);
  Json::CharReaderBuilder builder;
  if (!Json::parseFromStream(builder, in, &json, &errors) || json.isMember("error"))
    throw std::runtime_error("iperf3: " + (json.isMember("error") ? json["error"].asString()
                                                                   : r.err + r.out.substr(0, 300)));
  const double bps = json["end"]["sum_received"]["bits_per_second"].asDouble();
  if (bps <= 0) throw std::runtime_error("iperf3 received nothing");
  return bps / 1e9;
}

// The meter's lookups in its forward chain: out (false) or back in.
void set_meter(Lab& lab, bool on) {
  std::vector<std::string> argv = {"nft", "flush", "chain", "inet", "mnigs_meter", "forward"};
  if (on) {
    argv = {"nft", "-f", "-"};
    // The rules of core/gateway/meter.cpp's table, as it writes them for
    // one uplink (IPv4: the lab has no IPv6 path).
    const std::string script =
        "flush chain inet mnigs_meter forward\n"
        "add rule inet mnigs_meter forward oifname \"" + lab.topology.interface("gw", "inet") +
        "\" ip saddr vmap @out4\n"
        "add rule inet mnigs_meter forward iifname \"" + lab.topology.interface("gw", "inet") +
        "\" ip daddr vmap @in4\n";
    const std::string file = lab.gw->dir() + "/meter-on.nft";
    std::FILE* f = std::fopen(file.c_str(), "w");
    if (!f) throw std::runtime_error("cannot write " + file);
    std::fputs(script.c_str(), f);
    std::fclose(f);
    argv = {"nft", "-f", file};
  }
  auto r = lab.topology.exec("gw", argv, std::chrono::seconds(10));
  if (r.exit_code != 0) throw std::runtime_error("nft in gw: " + r.err);
}

void connect(Lab& lab, const std::string& suite) {
  auto r = lab.sub->cli({"-c", lab.topology.address("gw", "sub"), "-m", suite});
  if (r.exit_code != 0) throw std::runtime_error("connect with " + suite + ": " + r.out + r.err);
}

void disconnect(Lab& lab) { lab.sub->cli({"-d"}); }

// Pays the session with a voucher whose quota and rates are far beyond what
// the run moves, so its rules are evaluated on every packet and never bite.
void pay(Lab& lab) {
  Json::Value terms(Json::objectValue);
  terms["bytes"] = "1T";
  terms["rateDown"] = "100gbit";
  terms["rateUp"] = "100gbit";
  Json::Value made = lab.gw->rpc("createVouchers", terms);
  if (!rpc_succeeded(made)) throw std::runtime_error("createVouchers: " + to_json(made));
  const std::string code = made["result"]["vouchers"][0]["code"].asString();
  const std::string host = lab.topology.address("gw", "sub");
  const std::string body = "code=" + code + "&accept=yes";
  auto r = run_command({"curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-d", body,
                        "http://" + host + ":65534/redeem"},
                       lab.topology.ns("sub"), std::chrono::seconds(10));
  if (r.out != "303") throw std::runtime_error("redeeming the voucher answered " + r.out);
}

int run(const Options& o) {
  Lab lab;
  lab.topology.node("inet").node("gw").node("sub");
  lab.topology.link("inet", "gw").link("gw", "sub");
  lab.topology.up();
  run_checked({"ip", "route", "add", "10.77.0.0/16", "via", lab.topology.address("gw", "inet")},
              lab.topology.ns("inet"));
  NodeOptions gw = NodeOptions()
                       .only_discovery("static")
                       .set("gateway", "enabled", "true")
                       .set("gateway", "payments", "[free, webpage]")
                       .set("forwarding", "uplink",
                            yaml_quote(lab.topology.interface("gw", "inet")))
                       // Both tunnels out of one uplink: forwarding must not
                       // drop the websocket tunnel's subscribers.
                       .set("forwarding", "restrict", "false")
                       .set("websocket", "uplink",
                            yaml_quote(lab.topology.interface("gw", "inet")))
                       .set("gateway", "uplinks",
                            "[" + yaml_quote(lab.topology.interface("gw", "inet")) + "]");
  lab.gw = std::make_unique<Node>(lab.topology, "gw", gw);
  lab.sub = std::make_unique<Node>(lab.topology, "sub", NodeOptions().only_discovery("static"));
  lab.gw->start();
  lab.sub->start();
  lab.gw->wait_ready();
  lab.sub->wait_ready();
  lab.iperf = spawn_in_ns(lab.topology.ns("inet"),
                          {"/usr/bin/iperf3", "-s", "-p", std::to_string(kIperfPort), "-B",
                           inet_address(lab)},
                          lab.gw->dir() + "/iperf3.log");
  std::this_thread::sleep_for(std::chrono::milliseconds(500));

  std::printf("%-11s %-5s %-12s %8s %8s\n", "tunnel", "way", "meter", "Gbit/s", "ratio");
  for (const auto& tunnel : o.tunnels) {
    // Phase 1: a free session, the meter off and on. Phase 2: a paid one
    // with a voucher's quota and limits, and off again for its reference.
    for (int phase = 0; phase < 2; ++phase) {
      connect(lab, "static-" + tunnel + (phase == 0 ? "-free" : "-webpage"));
      if (phase == 1) pay(lab);
      const std::vector<std::string> rows =
          phase == 0 ? std::vector<std::string>{"off", "counters"}
                     : std::vector<std::string>{"off", "quota+limit"};
      for (bool reverse : {false, true}) {
        std::map<std::string, std::vector<double>> got;
        for (int run = 0; run < o.runs; ++run) {
          for (const auto& row : rows) {
            set_meter(lab, row != "off");
            const double g = iperf3(lab, o.seconds, reverse);
            got[row].push_back(g);
            if (o.verbose)
              std::cerr << tunnel << " " << (reverse ? "down" : "up") << " " << row << " run "
                        << run << ": " << g << " Gbit/s\n";
          }
        }
        set_meter(lab, true);
        const double reference = median(got["off"]);
        for (const auto& row : rows) {
          if (phase == 1 && row == "off") continue;  // phase 0 printed it
          const double m = median(got[row]);
          std::printf("%-11s %-5s %-12s %8.2f %8.3f\n", tunnel.c_str(), reverse ? "down" : "up",
                      row.c_str(), m, m / reference);
        }
      }
      disconnect(lab);
    }
  }
  std::printf("ratio: to the same session with the meter's lookups taken out (\"off\"); "
              "the goal is above 0.95\n");
  return 0;
}

}  // namespace
}  // namespace mnigs::test

int main(int argc, char** argv) {
  return mnigs::test::bench::bench_main("mnigs_meter_bench", argc, argv, mnigs::test::parse,
                                        mnigs::test::run);
}
