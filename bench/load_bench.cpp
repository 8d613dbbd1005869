// Load on one gateway: many subscribers' sessions renewed on their schedule,
// first alone (the reference), then while a hostile neighbour floods the
// gateway's RPC port, measured in the same run.
//
// One gateway namespace runs mnigsd (gateway.enabled, suite
// static-forwarding-free). K subscriber namespaces, each linked to it by a
// veth pair, hold one source address per session; a thread per namespace
// drives its sessions with Boost.Asio and Boost.Beast: requestConnection,
// then renewConnection every subscriberTimeout/3 (with jitter), each call on
// a new connection bound to the session's address, as mnigsd's subscriber
// does. A hostile namespace, also linked to the gateway, floods its RPC port
// during the second phase: back-to-back requests on many connections,
// malformed and oversized bodies, and stalled partial requests.
//
//   mnigs_load_bench [--sessions 1000] [--namespaces 4] [--seconds 30] [--timeout 15]
//                    [--flood-connections 64] [--flood-stalled 8] [--flood-sources 1]
//                    [--flood-method nodeInfo]
//                    [--ramp-parallel 32] [--cli-checks 3] [--verbose]
//
// Needs root (network namespaces). See bench/README.md.
#include <json/json.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

// After <utility>: Boost 1.74's asio/awaitable.hpp uses std::exchange without it.
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "harness/netns.hpp"
#include "harness/node.hpp"
#include "harness/reaper.hpp"
#include "harness/rpc_client.hpp"
#include "harness/topology.hpp"
#include "args.hpp"
#include "load_traffic.hpp"
#include "mesh.hpp"

namespace mnigs::test {
namespace {

using namespace load;

// ------------------------------------------------------------ the gateway process

struct ProcessSample {
  double cpu_seconds = 0;           // utime + stime, without children
  double children_cpu_seconds = 0;  // cutime + cstime: reaped children (ip, nft)
  double rss_mib = 0, hwm_mib = 0;
};

ProcessSample sample_process(pid_t pid) {
  ProcessSample out;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (std::getline(stat, line)) {
    const auto paren = line.rfind(')');
    if (paren != std::string::npos) {
      std::istringstream fields(line.substr(paren + 2));
      // After the command name: state is field 3; utime..cstime are 14..17.
      std::vector<std::string> f;
      for (std::string s; fields >> s && f.size() < 15;) f.push_back(s);
      const auto hz = static_cast<double>(::sysconf(_SC_CLK_TCK));
      if (f.size() == 15) {
        out.cpu_seconds = (std::stod(f[11]) + std::stod(f[12])) / hz;
        out.children_cpu_seconds = (std::stod(f[13]) + std::stod(f[14])) / hz;
      }
    }
  }
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  for (std::string l; std::getline(status, l);) {
    auto kib = [&](const char* key) {
      return l.rfind(key, 0) == 0 ? std::stod(l.substr(std::string(key).size())) / 1024 : -1.0;
    };
    if (double v = kib("VmRSS:"); v >= 0) out.rss_mib = v;
    if (double v = kib("VmHWM:"); v >= 0) out.hwm_mib = v;
  }
  return out;
}

// ------------------------------------------------------------ phases

struct PhaseResult {
  double seconds = 0;
  int held_gateway = -1;   // our sessions the gateway lists at the end
  int listed_total = -1;   // every session the gateway lists
  std::string list_error;
  double cpu_percent = 0, rss_mib = 0, rss_max_mib = 0, hwm_mib = 0;
  int cli_runs = 0, cli_ok = 0;
  double cli_max_ms = 0;
  std::string cli_error;
  Tally tally;
};

// Adds `addresses` (/32 each) to lo in namespace `ns` with one `ip -batch`.
void add_addresses(const Topology& t, const std::string& node,
                   const std::vector<std::string>& addresses, const std::string& dir) {
  const std::string file = dir + "/" + node + ".batch";
  {
    std::ofstream out(file);
    for (const auto& a : addresses) out << "address add " << a << "/32 dev lo\n";
  }
  run_checked({"ip", "-n", t.ns(node), "-batch", file}, "", 120s);
}

std::string subscriber_node(int k) { return "s" + std::to_string(k + 1); }

// Session j of subscriber namespace k: 10.(101+k).(j/250).(j%250+1).
std::string subscriber_address(int k, int j) {
  return "10." + std::to_string(101 + k) + "." + std::to_string(j / 250) + "." +
         std::to_string(j % 250 + 1);
}

// The gateway answers "starting" to session calls until it has loaded its
// stored sessions. A renewal of a session that does not exist tells the two
// apart without creating one: "starting", then "no such session".
void wait_sessions_ready(const Node& gw) {
  Json::Value p(Json::objectValue);
  p["sessionId"] = "0";
  p["secret"] = "0";
  Json::Value reply;
  const auto t0 = Clock::now();
  while (seconds_since(t0) < 30) {
    reply = gw.rpc("renewConnection", p);
    if (rpc_error_code(reply) == kNotFound) return;
    std::this_thread::sleep_for(50ms);
  }
  throw std::runtime_error("the gateway's sessions are not ready after 30 s: " + to_json(reply));
}

// Each subscriber namespace holds its sessions' addresses, the hostile one
// its own; the gateway routes each namespace's /16 back over its link.
void add_routes(const Topology& t, const std::vector<std::vector<std::string>>& sources,
                const std::vector<std::string>& hostile, const std::string& dir) {
  for (size_t k = 0; k < sources.size(); ++k) {
    const std::string node = subscriber_node(static_cast<int>(k));
    add_addresses(t, node, sources[k], dir);
    run_checked({"ip", "route", "add", "10." + std::to_string(101 + k) + ".0.0/16", "via",
                 t.address(node, "gw")},
                t.ns("gw"));
  }
  add_addresses(t, "hx", hostile, dir);
  run_checked({"ip", "route", "add", "10.200.0.0/16", "via", t.address("hx", "gw")}, t.ns("gw"));
  // An uplink for the forwarding plugin to find, as on a gateway with a
  // default route and the default config (forwarding.uplink empty).
  // (A veth pair inside the namespace: not every kernel has the dummy module.)
  run_checked({"ip", "link", "add", "up0", "type", "veth", "peer", "name", "up0-peer"}, t.ns("gw"));
  run_checked({"ip", "link", "set", "up0", "up"}, t.ns("gw"));
  run_checked({"ip", "link", "set", "up0-peer", "up"}, t.ns("gw"));
  run_checked({"ip", "address", "add", "192.0.2.1/24", "dev", "up0"}, t.ns("gw"));
  run_checked({"ip", "route", "add", "default", "via", "192.0.2.254"}, t.ns("gw"));
}

// Our session ids the gateway lists, and how many it lists in all.
void check_listed(const Node& gw, const std::vector<std::vector<std::string>>& ids,
                  PhaseResult& r) {
  Json::Value reply;
  try {
    reply = rpc(gw.ns(), "127.0.0.1", kRpcPort, "listSessions", Json::Value(Json::objectValue), "",
                30s);
  } catch (const RpcError& e) {
    r.list_error = e.what();
    return;
  }
  if (!rpc_succeeded(reply)) {
    r.list_error = to_json(reply).substr(0, 300);
    return;
  }
  std::set<std::string> listed;
  for (const auto& s : reply["result"]["gateway"]) listed.insert(s["sessionId"].asString());
  r.listed_total = static_cast<int>(listed.size());
  r.held_gateway = 0;
  for (const auto& group : ids)
    for (const auto& id : group) r.held_gateway += listed.count(id) ? 1 : 0;
}

// Runs for `seconds`: samples the gateway's RSS every 250 ms and runs
// `mnigs-cli --status` in the gateway namespace `cli_checks` times, spread
// over the phase.
void run_phase(const Node& gw, int seconds, int cli_checks, PhaseResult& r) {
  const auto t0 = Clock::now();
  const ProcessSample first = sample_process(gw.pid());
  r.rss_max_mib = first.rss_mib;
  int cli_done = 0;
  while (seconds_since(t0) < seconds) {
    const double due = seconds * (cli_done + 0.5) / std::max(1, cli_checks);
    if (cli_done < cli_checks && seconds_since(t0) >= due) {
      ++cli_done;
      const auto c0 = Clock::now();
      const CommandResult c = gw.cli({"--status"}, 20s);
      const double ms = seconds_since(c0) * 1000;
      ++r.cli_runs;
      r.cli_max_ms = std::max(r.cli_max_ms, ms);
      if (c.exit_code == 0 && c.out.find("sessions") != std::string::npos)
        ++r.cli_ok;
      else if (r.cli_error.empty())
        r.cli_error = "exit " + std::to_string(c.exit_code) + (c.timed_out ? " (timed out)" : "") +
                      ": " + c.err.substr(0, 200);
    }
    r.rss_max_mib = std::max(r.rss_max_mib, sample_process(gw.pid()).rss_mib);
    std::this_thread::sleep_for(250ms);
  }
  const ProcessSample last = sample_process(gw.pid());
  r.seconds = seconds_since(t0);
  r.cpu_percent = 100 * (last.cpu_seconds - first.cpu_seconds) / r.seconds;
  r.rss_mib = last.rss_mib;
  r.rss_max_mib = std::max(r.rss_max_mib, last.rss_mib);
  r.hwm_mib = last.hwm_mib;
}

// The table: one header, one row per phase, columns of the same widths.
constexpr const char* kHeaderFormat = "%-5s %11s %11s %7s %7s %8s %8s %8s %6s %6s %10s\n";
constexpr const char* kRowFormat =
    "%-5s %5d/%-5d %11.1f %7.1f %7.1f %8d %8.1f %8.1f %6.1f %4d/%-1d %10.0f\n";

void print_header() {
  std::printf(kHeaderFormat, "phase", "held", "renewals/s", "p50 ms", "p99 ms", "failures",
              "RSS MiB", "peak MiB", "CPU %", "CLI ok", "CLI max ms");
}

void print_row(const char* name, const PhaseResult& r, int sessions) {
  const auto& t = r.tally;
  std::printf(kRowFormat, name, r.held_gateway, sessions, t.renewed / r.seconds,
              percentile(t.latencies_ms, 0.5), percentile(t.latencies_ms, 0.99), t.failures(),
              r.rss_mib, r.hwm_mib, r.cpu_percent, r.cli_ok, r.cli_runs, r.cli_max_ms);
}

// Starts the subscribers, waits until every session was requested, and
// prints the ramp-up line. Returns the sessions established.
int ramp_up(std::vector<std::unique_ptr<Subscribers>>& groups, const Node& gw,
            const Options& o) {
  const ProcessSample before = sample_process(gw.pid());
  const auto t0 = Clock::now();
  for (auto& g : groups) g->start(std::max(1, o.ramp_parallel / o.namespaces));
  // Bounded: 60 s, plus a quarter of a second per session (the bench's
  // machine opens about 20 a second).
  const double limit = 60 + 0.25 * o.sessions;
  int established = 0, failed = 0, retries = 0;
  std::string request_error, retry_error;
  for (;;) {
    established = failed = retries = 0;
    for (auto& g : groups) {
      const auto s = g->snapshot();
      if (!s.thread_error.empty()) throw std::runtime_error("subscribers: " + s.thread_error);
      established += s.established;
      failed += s.request_failed;
      retries += s.retries;
      if (request_error.empty()) request_error = s.request_error;
      if (retry_error.empty()) retry_error = s.retry_error;
    }
    if (established + failed >= o.sessions) break;
    if (seconds_since(t0) > limit)
      throw std::runtime_error("ramp-up: " + std::to_string(established) + " of " +
                               std::to_string(o.sessions) + " sessions after " +
                               std::to_string(static_cast<int>(limit)) + " s");
    std::this_thread::sleep_for(20ms);
  }
  const double seconds = seconds_since(t0);
  const ProcessSample after = sample_process(gw.pid());
  std::printf("ramp-up: %d of %d sessions in %.1f s (%.0f/s), %d retried, %d failed; gateway CPU "
              "%.0f%% (and %.0f%% in the commands it ran), RSS %.1f MiB\n",
              established, o.sessions, seconds, established / seconds, retries, failed,
              100 * (after.cpu_seconds - before.cpu_seconds) / seconds,
              100 * (after.children_cpu_seconds - before.children_cpu_seconds) / seconds,
              after.rss_mib);
  if (retries) std::printf("  first retried request: %s\n", retry_error.c_str());
  if (failed) std::printf("  first request failure: %s\n", request_error.c_str());
  std::fflush(stdout);
  return established;
}

int run(const Options& o) {
  std::atomic<int> phase{ramp};
  Topology t;
  t.node("gw");
  for (int k = 0; k < o.namespaces; ++k) t.node(subscriber_node(k));
  t.node("hx");
  for (int k = 0; k < o.namespaces; ++k) t.link("gw", subscriber_node(k));
  t.link("gw", "hx");
  t.up();
  bench::Scratch scratch("load-bench");

  std::vector<std::vector<std::string>> sources(o.namespaces);
  for (int i = 0; i < o.sessions; ++i)
    sources[i % o.namespaces].push_back(
        subscriber_address(i % o.namespaces, static_cast<int>(sources[i % o.namespaces].size())));
  std::vector<std::string> hostile;
  for (int i = 0; i < o.flood_sources; ++i)
    hostile.push_back("10.200." + std::to_string(i / 250) + "." + std::to_string(i % 250 + 1));
  add_routes(t, sources, hostile, scratch.path());

  NodeOptions options;
  options.verbose = false;  // debug logging would be part of what is measured
  options.only_discovery("static")
      .set("gateway", "enabled", "true")
      .set("gateway", "maxConnections", std::to_string(o.sessions + 100))
      .set("gateway", "subscriberTimeout", std::to_string(o.timeout))
      .set("scan", "interval", "0");
  Node gw(t, "gw", options);
  gw.launch();
  const Json::Value info = gw.rpc("nodeInfo");
  bool offered = false;
  for (const auto& s : info["result"]["suites"]) offered |= s.asString() == kSuite;
  if (!offered)
    throw std::runtime_error("the gateway does not offer " + kSuite + ": " + to_json(info) +
                             "\nplugins: " + to_json(gw.rpc("listPlugins")));

  wait_sessions_ready(gw);

  std::cout << "gateway load: " << o.sessions << " sessions from " << o.namespaces
            << " namespaces, suite " << kSuite << ", gateway.subscriberTimeout " << o.timeout
            << " s (renewals every " << o.timeout / 3.0 << " s +-10%)\n"
            << "phases of " << o.seconds << " s: quiet (the reference), then flood: "
            << o.flood_connections << " connections sending back to back and "
            << o.flood_stalled << " stalled, from " << o.flood_sources
            << " hostile address(es); its well-formed requests call " << o.flood_method << "\n\n";

  std::vector<std::unique_ptr<Subscribers>> groups;
  for (int k = 0; k < o.namespaces; ++k) {
    const tcp::endpoint to(net::ip::make_address(t.address("gw", subscriber_node(k))), kRpcPort);
    groups.push_back(std::make_unique<Subscribers>(t.ns(subscriber_node(k)), sources[k], to, o,
                                                   phase, 1234u + k));
  }
  const int established = ramp_up(groups, gw, o);

  auto ids = [&] {
    std::vector<std::vector<std::string>> out;
    for (auto& g : groups) out.push_back(g->snapshot().ids);
    return out;
  };

  PhaseResult results[4];
  phase = quiet;
  if (o.verbose) std::cerr << "quiet phase\n";
  run_phase(gw, o.seconds, o.cli_checks, results[quiet]);
  // Renewals that start between the phases count for neither.
  phase = after;
  check_listed(gw, ids(), results[quiet]);

  if (o.verbose) std::cerr << "flood phase\n";
  const tcp::endpoint hostile_to(net::ip::make_address(t.address("gw", "hx")), kRpcPort);
  Flood flooder(t.ns("hx"), hostile, hostile_to, o.flood_connections, o.flood_stalled,
                o.flood_method);
  phase = flood;
  flooder.start();
  run_phase(gw, o.seconds, o.cli_checks, results[flood]);
  phase = after;
  flooder.stop();
  check_listed(gw, ids(), results[flood]);
  const Flood::Figures ff = flooder.figures();

  // Renewals that were under way when the flood stopped: a moment to end.
  std::this_thread::sleep_for(kCallTimeout + 1s);
  for (auto& g : groups) g->stop();
  // mnigsd closes the tunnel end of every session when it stops.
  const auto stop0 = Clock::now();
  const int stop_code = gw.stop(std::chrono::seconds(kStopSeconds));
  const double stop_seconds = seconds_since(stop0);

  int lost = 0;
  std::vector<std::string> lost_lines;
  for (auto& g : groups) {
    const auto s = g->snapshot();
    for (int p = 0; p < 4; ++p) results[p].tally.merge(s.tally[p]);
    lost += s.lost;
    lost_lines.insert(lost_lines.end(), s.lost_lines.begin(), s.lost_lines.end());
  }

  std::printf("\n");
  print_header();
  print_row("quiet", results[quiet], established);
  print_row("flood", results[flood], established);
  const auto& q = results[quiet];
  const auto& f = results[flood];
  const double q_rate = q.tally.renewed / q.seconds, f_rate = f.tally.renewed / f.seconds;
  const double q_p99 = percentile(q.tally.latencies_ms, 0.99);
  const double f_p99 = percentile(f.tally.latencies_ms, 0.99);
  std::printf("flood/quiet: renewals/s %.2f, p99 %.2f\n", q_rate > 0 ? f_rate / q_rate : 0.0,
              q_p99 > 0 ? f_p99 / q_p99 : 0.0);
  std::printf("flood: %ld requests (%.0f/s), %ld answered, %ld refused with 503, %ld 413, %ld "
              "other non-200; %ld connections opened, %ld failed to connect, %ld closed by the "
              "gateway; stalled: %ld opened, %ld closed by the gateway\n",
              ff.requests, ff.requests / f.seconds, ff.answered, ff.refused_503, ff.too_large_413,
              ff.other_status, ff.connects, ff.connect_failed, ff.closed, ff.stalled_opened,
              ff.stalled_closed);
  if (!flooder.error().empty()) std::printf("flood error: %s\n", flooder.error().c_str());

  bool failed = established < o.sessions || lost > 0;
  for (int p : {quiet, flood}) {
    const auto& r = results[p];
    if (r.tally.failures())
      std::printf("%s: %d renewals failed (%d refused, %d JSON-RPC errors, %d HTTP errors, %d "
                  "transport); first: %s\n",
                  phase_name(p), r.tally.failures(), r.tally.refused, r.tally.rpc_errors,
                  r.tally.http_errors, r.tally.transport, r.tally.first_error.c_str());
    if (!r.list_error.empty()) {
      std::printf("%s: listSessions failed: %s\n", phase_name(p), r.list_error.c_str());
      failed = true;
    } else if (r.held_gateway != established || r.listed_total != established) {
      std::printf("%s: the gateway lists %d sessions, %d of the %d established\n", phase_name(p),
                  r.listed_total, r.held_gateway, established);
      failed = true;
    }
    if (r.cli_ok < r.cli_runs) {
      std::printf("%s: mnigs-cli answered %d of %d times; first failure: %s\n", phase_name(p),
                  r.cli_ok, r.cli_runs, r.cli_error.c_str());
      failed = true;
    }
  }
  const std::string killed =
      stop_code == 128 + SIGKILL ? ", killed after " + std::to_string(kStopSeconds) + " s" : "";
  std::printf("gateway stopped in %.1f s with %d sessions held (SIGTERM; exit code %d%s)\n",
              stop_seconds, f.held_gateway, stop_code, killed.c_str());
  std::printf("sessions lost: %d\n", lost);
  for (size_t i = 0; i < lost_lines.size() && i < 10; ++i)
    std::printf("  %s\n", lost_lines[i].c_str());
  if (lost_lines.size() > 10) std::printf("  ... and %zu more\n", lost_lines.size() - 10);
  std::cout << std::flush;
  return failed ? 1 : 0;
}

Options parse(int argc, char** argv) {
  Options o;
  for (Args args(argc, argv); args.next();) {
    const std::string a = args.flag();
    if (a == "--sessions") {
      o.sessions = args.number();
    } else if (a == "--namespaces") {
      o.namespaces = args.number();
    } else if (a == "--seconds") {
      o.seconds = args.number();
    } else if (a == "--timeout") {
      o.timeout = args.number();
    } else if (a == "--flood-connections") {
      o.flood_connections = args.number();
    } else if (a == "--flood-stalled") {
      o.flood_stalled = args.number();
    } else if (a == "--flood-sources") {
      o.flood_sources = args.number();
    } else if (a == "--flood-method") {
      o.flood_method = args.value();
    } else if (a == "--ramp-parallel") {
      o.ramp_parallel = args.number();
    } else if (a == "--cli-checks") {
      o.cli_checks = args.number();
    } else if (a == "--verbose" || a == "-v") {
      o.verbose = true;
    } else {
      args.unknown("--sessions N, --namespaces N, --seconds N, --timeout N, "
                   "--flood-connections N, --flood-stalled N, --flood-sources N, "
                   "--flood-method NAME, --ramp-parallel N, --cli-checks N, --verbose");
    }
  }
  if (o.namespaces < 1 || o.namespaces > 50)
    throw std::invalid_argument("--namespaces must be 1..50");
  if (o.sessions < 1 || o.sessions > 250 * 256 * o.namespaces || o.sessions > 60000)
    throw std::invalid_argument("--sessions must be 1..60000 (at most 64000 per namespace)");
  if (o.seconds < 1 || o.seconds > 3600) throw std::invalid_argument("--seconds must be 1..3600");
  if (o.timeout < 5 || o.timeout > 86400)
    throw std::invalid_argument("--timeout must be 5..86400 (gateway.subscriberTimeout)");
  if (o.seconds * 3 < o.timeout)
    throw std::invalid_argument("--seconds must be at least --timeout/3: every session renews "
                                "once in a phase");
  if (o.flood_connections < 0 || o.flood_connections > 10000 || o.flood_stalled < 0 ||
      o.flood_stalled > 10000)
    throw std::invalid_argument("--flood-connections and --flood-stalled must be 0..10000");
  if (o.flood_sources < 1 || o.flood_sources > 10000)
    throw std::invalid_argument("--flood-sources must be 1..10000");
  if (o.ramp_parallel < 1 || o.ramp_parallel > 1000)
    throw std::invalid_argument("--ramp-parallel must be 1..1000");
  if (o.cli_checks < 0 || o.cli_checks > 100)
    throw std::invalid_argument("--cli-checks must be 0..100");
  return o;
}

}  // namespace
}  // namespace mnigs::test

int main(int argc, char** argv) {
  using namespace mnigs::test;
  // A connection the gateway closed must not end the bench when written to.
  ::signal(SIGPIPE, SIG_IGN);
  return bench::bench_main("mnigs_load_bench", argc, argv, parse, run);
}
