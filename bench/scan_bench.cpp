// Scan time against mesh size, on a real babel mesh.
//
// For each size, a grid of network namespaces is linked with veth pairs, each
// node runs babeld and mnigsd (two of them as gateways), and once babel has
// converged the node in one corner scans the mesh: startScan, then scanStatus
// until it reports the scan finished. The reference, measured in the same
// run from the same namespace, is one direct nodeInfo request to each other
// node's address, one after another: what a scan costs without discovery and
// parallel probing. Both are repeated; the table shows medians.
//
//   mnigs_scan_bench [--sizes 10,20,40] [--runs 3] [--parallelism N] [--converge-only]
//                    [--disable PLUGIN,...] [--verbose]
//
// Needs root (network namespaces). See bench/README.md.
#include <json/json.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <memory>
#include <set>
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
  std::vector<int> sizes{10, 20, 40};
  int runs = 3;
  int parallelism = 0;  // 0: the daemon's default scan.parallelism
  bool converge_only = false;
  bool verbose = false;  // each run's figures on stderr
  std::vector<std::string> disabled;  // plugins.disabled of every node
};

// One size's figures, medians over the runs.
struct Row {
  int nodes = 0;
  double converge = 0;  // seconds from launching the babelds to full routing tables
  int found_min = 0;    // fewest nodes a scan found (should be nodes - 1)
  std::vector<double> scans, directs;
  std::vector<double> scanner;  // the scan's own "seconds" from scanStatus
  int direct_failures = 0;
  std::string direct_error;  // the first failure's message
};

// startScan on `node`, then scanStatus every 2 ms until that scan is over.
// Returns the seconds it took; `status` gets the last scanStatus result.
double timed_scan(const Node& node, Json::Value& status) {
  const auto t0 = Clock::now();
  const Json::Value started = node.rpc("startScan");
  if (!rpc_succeeded(started) || !started["result"]["started"].asBool())
    throw std::runtime_error("startScan on " + node.name() + ": " + to_json(started));
  const auto scan = started["result"]["scan"].asUInt64();
  while (seconds_since(t0) < 300) {
    const Json::Value s = node.rpc("scanStatus");
    if (!rpc_succeeded(s)) throw std::runtime_error("scanStatus: " + to_json(s));
    status = s["result"];
    if (!status["running"].asBool() && status["scan"].asUInt64() >= scan) return seconds_since(t0);
    std::this_thread::sleep_for(2ms);
  }
  throw std::runtime_error("scan " + std::to_string(scan) + " on " + node.name() +
                           " did not finish within 300 s: " + to_json(status));
}

// One nodeInfo to each address in turn from namespace `ns`; counts failures
// and keeps the first one's message.
double timed_direct(const std::string& ns, const std::vector<std::string>& addresses, int port,
                    int& failures, std::string& first_error) {
  const auto t0 = Clock::now();
  for (const auto& a : addresses) {
    std::string error;
    try {
      Json::Value r = rpc(ns, a, port, "nodeInfo");
      if (!rpc_succeeded(r)) error = "nodeInfo to " + a + ": " + to_json(r);
    } catch (const RpcError& e) {
      error = e.what();
    }
    if (error.empty()) continue;
    ++failures;
    if (first_error.empty()) first_error = error;
  }
  return seconds_since(t0);
}

Row measure(int n, const Options& o) {
  Row row;
  row.nodes = n;
  const auto [rows, cols] = grid_shape(n);
  // The scanner sits in one corner; the gateways in the two corners of the
  // far column.
  const std::string scanner = node_name(1);
  const std::set<std::string> gateways = {node_name(cols), node_name(n)};

  Topology topology = grid(n);
  topology.up();
  BabelMesh mesh(topology, gateways);
  mesh.start();
  row.converge = mesh.wait_converged(120s);
  if (o.converge_only) return row;

  std::vector<std::unique_ptr<Node>> nodes;
  for (const auto& name : topology.nodes()) {
    NodeOptions options;
    options.verbose = false;  // debug logging would be part of what is timed
    options.set("scan", "interval", "0");
    if (o.parallelism > 0) options.set("scan", "parallelism", std::to_string(o.parallelism));
    if (!o.disabled.empty()) {
      std::string list;
      for (const auto& p : o.disabled) list += (list.empty() ? "" : ", ") + yaml_quote(p);
      options.set("plugins", "disabled", "[" + list + "]");
    }
    if (mesh.is_gateway(name)) options.set("gateway", "enabled", "true");
    nodes.push_back(std::make_unique<Node>(topology, name, options));
  }
  for (auto& node : nodes) node->start();
  for (auto& node : nodes) node->wait_ready(300);
  const Node& from = *nodes.front();
  if (const int known = wait_for_babel_plugin(from, n - 1, 30s); known < n - 1)
    throw std::runtime_error("the babel plugin of " + scanner + " knows " + std::to_string(known) +
                             " of " + std::to_string(n - 1) + " nodes");

  std::vector<std::string> targets;
  for (const auto& name : topology.nodes())
    if (name != scanner) targets.push_back(mesh.address(name));

  row.found_min = n;
  for (int run = 0; run < o.runs; ++run) {
    Json::Value status;
    row.scans.push_back(timed_scan(from, status));
    row.scanner.push_back(status["seconds"].asDouble());
    row.found_min = std::min(row.found_min, status["found"].asInt());
    const int failed_before = row.direct_failures;
    row.directs.push_back(timed_direct(from.ns(), targets, from.rpc_port(), row.direct_failures,
                                       row.direct_error));
    if (o.verbose)
      std::cerr << n << " nodes, run " << run + 1 << ": scan " << row.scans.back() << " s (scanner "
                << row.scanner.back() << " s), found " << status["found"].asInt() << ", direct "
                << row.directs.back() << " s, " << row.direct_failures - failed_before
                << " failed\n";
  }
  return row;
}

void print_header(const Options& o) {
  std::cout << "babel mesh scan: grid meshes, scanning from a corner; median of " << o.runs
            << " run(s)\n"
            << "reference: one direct nodeInfo to each other node, one after another\n";
  std::string disabled;
  for (const auto& p : o.disabled) disabled += " " + p;
  std::cout << "scan.parallelism: "
            << (o.parallelism > 0 ? std::to_string(o.parallelism) : "daemon default")
            << "; plugins disabled:" << (disabled.empty() ? " none" : disabled) << "\n\n";
  if (o.converge_only) {
    std::cout << "nodes  converge s\n";
    return;
  }
  std::cout << "nodes  converge s  found  scan s  (scanner s)   nodes/s  direct s  ratio\n";
}

void print_row(const Row& r, const Options& o) {
  char line[160];
  if (o.converge_only) {
    std::snprintf(line, sizeof line, "%5d  %10.1f", r.nodes, r.converge);
    std::cout << line << std::endl;
    return;
  }
  const double scan = median(r.scans), direct = median(r.directs);
  std::snprintf(line, sizeof line, "%5d  %10.1f  %5d  %6.3f  (%9.3f)  %8.1f  %8.3f  %5.2f",
                r.nodes, r.converge, r.found_min, scan, median(r.scanner),
                scan > 0 ? (r.nodes - 1) / scan : 0.0, direct, direct > 0 ? scan / direct : 0.0);
  std::cout << line;
  if (r.found_min != r.nodes - 1)
    std::cout << "  (a scan found " << r.found_min << " of " << r.nodes - 1 << ")";
  if (r.direct_failures > 0)
    std::cout << "  (" << r.direct_failures << " direct calls failed, first: " << r.direct_error
              << ")";
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
    } else if (a == "--parallelism") {
      o.parallelism = args.number();
    } else if (a == "--converge-only") {
      o.converge_only = true;
    } else if (a == "--disable") {
      o.disabled = args.list();
    } else if (a == "--verbose" || a == "-v") {
      o.verbose = true;
    } else {
      args.unknown("--sizes A,B,..., --runs N, --parallelism N, --disable P,Q,..., "
                   "--converge-only, --verbose");
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
  return bench::bench_main("mnigs_scan_bench", argc, argv, parse, [](const Options& o) {
    print_header(o);
    for (int n : o.sizes) print_row(measure(n, o), o);
    return 0;
  });
}
