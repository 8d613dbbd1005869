// babeld's state as this plugin keeps it: routes, neighbours, exported
// routes and interfaces by babeld's handle, folded from add/change/flush
// lines (the last line about a handle wins), and what that state says about
// other nodes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <mnigs/plugin.hpp>
#include <set>
#include <string>
#include <vector>

#include "parser.hpp"

namespace mnigs::babel {

// Another babel node, by router id.
struct Node {
  std::string id;
  // Its /32 and /128 routes from the default source prefix, reachable.
  std::set<std::string> addresses;
  // It announces 0.0.0.0/0 or ::/0 (from any source prefix).
  bool gateway = false;
  // The best metric of its address routes; kInfinity when it has none.
  std::uint32_t distance = kInfinity;
};

// What the table says about the other nodes.
struct View {
  std::map<std::string, Node> nodes;  // by router id; reachable nodes only
  std::vector<Link> links;            // from "" (this node) to each neighbour's router id

  // One candidate per address, nearest nodes first. Gateways without an
  // address cannot be probed and are left out.
  std::vector<Candidate> candidates() const;
  // Router ids of gateways that announce no address.
  std::vector<std::string> unreachable_gateways() const;
  std::size_t gateways() const;
  std::size_t probeable() const;  // nodes with at least one address

  // Same nodes, addresses and gateways; metrics and links are not compared.
  bool same_members(const View& other) const;
};

class Table {
 public:
  // Folds one line in. A change of an unknown handle adds it; a flush of an
  // unknown handle is ignored.
  void apply(const Update& update);
  void clear();

  // `my_id`: this node's router id, never reported as another node.
  View view(const std::string& my_id) const;

  std::size_t routes() const { return routes_.size(); }
  std::size_t neighbours() const { return neighbours_.size(); }
  std::size_t xroutes() const { return xroutes_.size(); }
  std::size_t interfaces() const { return interfaces_.size(); }

 private:
  std::vector<Link> links(const std::string& my_id) const;

  std::map<std::string, Route> routes_;
  std::map<std::string, Neighbour> neighbours_;
  std::map<std::string, Xroute> xroutes_;
  std::map<std::string, Interface> interfaces_;
};

}  // namespace mnigs::babel
