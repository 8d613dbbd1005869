// The mesh the test olsrd describes, as read from its JSON description, and
// what an OLSR daemon on the "self" node would derive from it: hop counts,
// next hops, two-hop neighbours.
//
//   {"self": "10.77.1.1",
//    "interface": "mesh0",                       (optional, default "mesh0")
//    "hna": ["192.168.1.0/24"],                  (optional, announced by self)
//    "nodes": [
//      {"address": "10.77.1.2", "dualstack": "fd77::2"},  (via self: a neighbour;
//                                                          olsrd2 partner address)
//      {"address": "10.77.1.3", "via": "10.77.1.2", "hna": ["0.0.0.0/0"]},
//      {"address": "10.77.1.9", "symmetric": false}       (heard, not symmetric)
//    ]}
#pragma once

#include <json/value.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace olsrd_peer {

struct Prefix {
  std::string address;  // canonical
  unsigned length = 0;
  bool v6 = false;
  std::string text() const { return address + "/" + std::to_string(length); }
};

struct Node {
  std::string address;    // canonical
  std::string via;        // last hop before it; self for neighbours
  std::string dualstack;  // olsrd2: the same node's other originator, or ""
  std::vector<Prefix> hna;
  bool symmetric = true;  // only for neighbours
  unsigned hops = 0;      // from self
  std::string next_hop;   // the neighbour routes to it go through
  bool v6 = false;
};

struct Network {
  std::string self;
  std::string interface = "mesh0";
  std::vector<Prefix> own_hna;
  std::vector<Node> nodes;  // in the order given

  const Node* find(const std::string& address) const;
  // Neighbours (via self), symmetric or not.
  std::vector<const Node*> neighbours() const;
  // Nodes reachable from self (symmetric neighbours and what lies behind them).
  std::vector<const Node*> reachable() const;
  // Nodes whose last hop is `address`.
  std::vector<const Node*> behind(const std::string& address) const;
};

// Reads and checks a description; nullopt with `why` set when it is not
// usable (bad addresses, a "via" naming no node, a loop of vias).
std::optional<Network> read_network(const Json::Value& root, std::string* why);

}  // namespace olsrd_peer
