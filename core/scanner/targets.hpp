// How a scan turns what the discovery plugins report into probes: one probe
// target per node and port, however many plugins and addresses reported it.
// Pure functions, so the planning can be tested without a network.
#pragma once

#include <mnigs/plugin.hpp>

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace mnigs::scan {

// What one discovery plugin reported.
struct Report {
  std::string network;  // e.g. "babel"
  Discovery found;
};

// One node (as far as discovery can tell) on one port.
struct Target {
  // Tried in this order until one answers: IPv4, then routable IPv6, then
  // link-local IPv6 (with its zone).
  std::vector<std::string> addresses;
  std::uint16_t port = 0;
  std::set<std::string> networks;                  // the networks that reported it
  std::map<std::string, std::string> mesh_ids;     // network -> the protocol's node id
  bool gateway_hint = false;                       // some protocol says it is a gateway
  std::uint32_t distance = 0;                      // nearest reported; 0 unknown
};

struct Plan {
  std::vector<Target> targets;  // nearest first; unknown distances last
  std::size_t candidates = 0;   // candidate addresses reported, before merging
  std::vector<std::string> rejected;  // candidates that were not IP addresses, as "network: address"
};

// Groups candidates into nodes: candidates with the same (network, node id)
// are one node, and nodes sharing an address are one node. A candidate's
// port 0 means each of `scanports`. This host's own addresses are probed like
// any other (another mnigsd may run here on another port); the scanner knows
// itself by its id.
Plan plan(const std::vector<Report>& reports, const std::vector<std::uint16_t>& scanports);

// The address without an IPv6 zone ("fe80::1%eth0" -> "fe80::1").
std::string without_zone(const std::string& address);

}  // namespace mnigs::scan
