// How fast a gateway's offer spreads through the DHT, on a real babel mesh.
//
// For each size, a grid of network namespaces is linked with veth pairs and
// each node runs babeld and mnigsd with the DHT on; nodes join the DHT
// through what their babel discovery plugin reports, as they would on a
// real mesh, and nobody scans. The gateway sits in one corner, the
// subscriber in the opposite one. Each run times:
//
//   listed  setConfig gateway.enabled=true on the gateway, until the
//           subscriber's listGateways lists it from the DHT;
//   gone    setConfig gateway.enabled=false, until it no longer does.
//
// The references, from the same subscriber in the same run: a scan of the
// mesh (startScan until scanStatus says it finished: the other way to learn
// of the gateway) and one direct nodeInfo round trip to the gateway. The
// table shows medians, the ratio listed / scan, and the slowest listing.
//
//   mnigs_dht_bench [--sizes 12,30] [--runs 5] [--disable PLUGIN,...] [--verbose]
//
// Needs root (network namespaces). See bench/README.md.
#include <json/json.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "harness/babel.hpp"
#include "harness/node.hpp"
#include "harness/rpc_client.hpp"
#include "harness/topology.hpp"
#include "args.hpp"
#include "mesh.hpp"

namespace mnigs::test {
namespace {

using namespace bench;

struct Options {
  std::vector<int> sizes{12, 30};
  int runs = 5;
  bool verbose = false;               // each run's figures on stderr
  std::vector<std::string> disabled;  // plugins.disabled of every node
};

// One size's figures; medians over the runs.
struct Row {
  int nodes = 0;
  int hops = 0;         // between gateway and subscriber, on the grid
  double converge = 0;  // babeld launched -> full routing tables
  double dht_up = 0;    // mnigsd launched -> every DHT node runs and has a peer
  std::vector<double> listed, gone, scans, direct;
  int found_min = 0;  // fewest nodes a reference scan found
};

// How often the subscriber is asked while waiting: fine enough for the
// figures, light enough not to slow the mesh down.
constexpr auto poll_every = 5ms;
constexpr double wait_limit_s = 120;

Json::Value result_of(const Node& node, const std::string& method,
                      const Json::Value& params = Json::Value(Json::objectValue)) {
  const Json::Value r = node.rpc(method, params);
  if (!rpc_succeeded(r))
    throw std::runtime_error(method + " on " + node.name() + ": " + to_json(r));
  return r["result"];
}

// Whether `sub` lists the gateway whose DHT id is `id` from the DHT
// ("dht" or, once a reference scan found it too, "scan+dht").
bool lists_from_dht(const Node& sub, const std::string& id) {
  const Json::Value list = result_of(sub, "listGateways");
  for (const auto& g : list["gateways"])
    if (g["dhtId"].asString() == id && g["source"].asString().find("dht") != std::string::npos)
      return true;
  return false;
}

// setConfig gateway.enabled on `gw`, then listGateways on `sub` every
// poll_every until it says `listed`; the seconds from sending setConfig.
double timed_switch(const Node& gw, const Node& sub, const std::string& id, bool enabled) {
  Json::Value params(Json::objectValue);
  params["gateway.enabled"] = enabled;
  const auto t0 = Clock::now();
  result_of(gw, "setConfig", params);
  while (seconds_since(t0) < wait_limit_s) {
    if (lists_from_dht(sub, id) == enabled) return seconds_since(t0);
    std::this_thread::sleep_for(poll_every);
  }
  throw std::runtime_error(
      std::string("the subscriber did not see the gateway ") + (enabled ? "listed" : "withdrawn") +
      " within " + std::to_string(static_cast<int>(wait_limit_s)) +
      " s of gateway.enabled=" + (enabled ? "true" : "false") +
      "\ngateway's dhtStatus: " + to_json(result_of(gw, "dhtStatus")) +
      "\nsubscriber's dhtStatus: " + to_json(result_of(sub, "dhtStatus")) +
      "\nsubscriber's listGateways: " + to_json(result_of(sub, "listGateways")));
}

// startScan, then scanStatus every 2 ms until that scan is over.
double timed_scan(const Node& node, int& found) {
  const auto t0 = Clock::now();
  const Json::Value started = result_of(node, "startScan");
  if (!started["started"].asBool()) throw std::runtime_error("a scan was already running");
  const auto scan = started["scan"].asUInt64();
  while (seconds_since(t0) < wait_limit_s) {
    const Json::Value s = result_of(node, "scanStatus");
    if (!s["running"].asBool() && s["scan"].asUInt64() >= scan) {
      found = s["found"].asInt();
      return seconds_since(t0);
    }
    std::this_thread::sleep_for(2ms);
  }
  throw std::runtime_error("a reference scan did not finish within " +
                           std::to_string(wait_limit_s) + " s");
}

// One nodeInfo from the subscriber's namespace to the gateway's address.
double timed_node_info(const std::string& ns, const std::string& address, int port) {
  const auto t0 = Clock::now();
  const Json::Value r = rpc(ns, address, port, "nodeInfo");
  const double s = seconds_since(t0);
  if (!rpc_succeeded(r)) throw std::runtime_error("nodeInfo to " + address + ": " + to_json(r));
  return s;
}

// Every node's DHT runs and has at least one good peer; returns the
// seconds since `t0`.
double wait_dht_up(const std::vector<std::unique_ptr<Node>>& nodes, Clock::time_point t0) {
  for (const auto& node : nodes) {
    for (;;) {
      const Json::Value s = result_of(*node, "dhtStatus");
      if (s["running"].asBool() &&
          s["peers"]["ipv4"]["good"].asInt() + s["peers"]["ipv6"]["good"].asInt() > 0)
        break;
      if (seconds_since(t0) > 600)
        throw std::runtime_error("the DHT node of " + node->name() +
                                 " has no peer 600 s after start: " + to_json(s));
      std::this_thread::sleep_for(100ms);
    }
  }
  return seconds_since(t0);
}

Row measure(int n, const Options& o) {
  Row row;
  row.nodes = n;
  const auto [rows, cols] = grid_shape(n);
  row.hops = rows - 1 + cols - 1;
  const std::string sub_name = node_name(1), gw_name = node_name(n);

  Topology topology = grid(n);
  topology.up();
  BabelMesh mesh(topology, {gw_name});
  mesh.start();
  row.converge = mesh.wait_converged(120s);

  std::vector<std::unique_ptr<Node>> nodes;
  for (const auto& name : topology.nodes()) {
    NodeOptions options;
    options.verbose = false;  // debug logging would be part of what is timed
    options.set("dht", "enabled", "true");
    options.set("scan", "interval", "0");
    options.set("gateway", "enabled", "false");  // until the first run turns it on
    if (!o.disabled.empty()) {
      std::string list;
      for (const auto& p : o.disabled) list += (list.empty() ? "" : ", ") + yaml_quote(p);
      options.set("plugins", "disabled", "[" + list + "]");
    }
    nodes.push_back(std::make_unique<Node>(topology, name, options));
  }
  const auto launched = Clock::now();
  for (auto& node : nodes) node->start();
  for (auto& node : nodes) node->wait_ready(300);
  row.dht_up = wait_dht_up(nodes, launched);

  const Node& sub = *nodes.front();
  const Node& gw = *nodes.back();
  const std::string gw_id = result_of(gw, "nodeInfo")["dht"]["id"].asString();
  if (gw_id.empty()) throw std::runtime_error("the gateway's nodeInfo names no DHT id");

  row.found_min = n;
  for (int run = 0; run < o.runs; ++run) {
    row.listed.push_back(timed_switch(gw, sub, gw_id, true));
    int found = 0;
    row.scans.push_back(timed_scan(sub, found));
    row.found_min = std::min(row.found_min, found);
    row.direct.push_back(timed_node_info(sub.ns(), mesh.address(gw_name), gw.rpc_port()));
    row.gone.push_back(timed_switch(gw, sub, gw_id, false));
    if (o.verbose)
      std::cerr << n << " nodes, run " << run + 1 << ": listed " << row.listed.back() << " s, gone "
                << row.gone.back() << " s, scan " << row.scans.back() << " s (found " << found
                << "), nodeInfo " << row.direct.back() * 1000 << " ms\n";
  }
  return row;
}

void print_header(const Options& o) {
  std::cout << "DHT offer spread: grid babel meshes, gateway and subscriber in opposite corners;"
               " median of "
            << o.runs << " run(s)\n"
            << "listed: setConfig gateway.enabled=true -> the subscriber's listGateways lists it"
               " (source dht)\n"
            << "gone:   setConfig gateway.enabled=false -> it no longer does\n"
            << "reference: a scan from the subscriber, and one direct nodeInfo to the gateway\n";
  std::string disabled;
  for (const auto& p : o.disabled) disabled += " " + p;
  std::cout << "plugins disabled:" << (disabled.empty() ? " none" : disabled) << "\n\n"
            << "nodes  hops  converge s  dht up s  listed s  (max)   gone s  scan s  found"
               "  nodeInfo ms  listed/scan\n";
}

void print_row(const Row& r) {
  const double listed = median(r.listed), scan = median(r.scans);
  char line[200];
  std::snprintf(line, sizeof line,
                "%5d  %4d  %10.1f  %8.1f  %8.3f  (%5.3f)  %6.3f  %6.3f  %5d  %11.2f  %11.2f",
                r.nodes, r.hops, r.converge, r.dht_up, listed,
                *std::max_element(r.listed.begin(), r.listed.end()), median(r.gone), scan,
                r.found_min, median(r.direct) * 1000, scan > 0 ? listed / scan : 0.0);
  std::cout << line;
  if (r.found_min != r.nodes - 1)
    std::cout << "  (a scan found " << r.found_min << " of " << r.nodes - 1 << ")";
  std::cout << std::endl;
}

Options parse(int argc, char** argv) {
  Options o;
  for (Args args(argc, argv); args.next();) {
    const std::string a = args.flag();
    if (a == "--sizes") {
      o.sizes = args.numbers();
    } else if (a == "--runs") {
      o.runs = args.number();
    } else if (a == "--disable") {
      o.disabled = args.list();
    } else if (a == "--verbose" || a == "-v") {
      o.verbose = true;
    } else {
      args.unknown("--sizes A,B,..., --runs N, --disable P,Q,..., --verbose");
    }
  }
  for (int n : o.sizes)
    if (n < 2 || n > 99) throw std::invalid_argument("sizes must be 2..99 nodes");
  if (o.runs < 1) throw std::invalid_argument("--runs must be at least 1");
  return o;
}

}  // namespace
}  // namespace mnigs::test

int main(int argc, char** argv) {
  using namespace mnigs::test;
  return bench::bench_main("mnigs_dht_bench", argc, argv, parse, [](const Options& o) {
    print_header(o);
    for (int n : o.sizes) print_row(measure(n, o));
    return 0;
  });
}
