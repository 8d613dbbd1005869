#include "table.hpp"

#include <algorithm>
#include <tuple>
#include <type_traits>

namespace mnigs::babel {

namespace {

template <class T>
void fold(std::map<std::string, T>& map, Verb verb, const T& object, const std::string& key) {
  if (verb == Verb::flush)
    map.erase(key);
  else
    map[key] = object;
}

// An address the scanner can reach without knowing an interface: not
// link-local (that needs a zone), loopback, multicast or unspecified.
bool probeable(const boost::asio::ip::address& a) {
  if (a.is_unspecified() || a.is_loopback() || a.is_multicast()) return false;
  if (a.is_v6() && a.to_v6().is_link_local()) return false;
  return true;
}

}  // namespace

void Table::apply(const Update& update) {
  std::visit(
      [&](const auto& o) {
        using T = std::decay_t<decltype(o)>;
        if constexpr (std::is_same_v<T, Route>)
          fold(routes_, update.verb, o, o.handle);
        else if constexpr (std::is_same_v<T, Neighbour>)
          fold(neighbours_, update.verb, o, o.handle);
        else if constexpr (std::is_same_v<T, Xroute>)
          fold(xroutes_, update.verb, o, o.handle);
        else
          fold(interfaces_, update.verb, o, o.name);
      },
      update.object);
}

void Table::clear() {
  routes_.clear();
  neighbours_.clear();
  xroutes_.clear();
  interfaces_.clear();
}

View Table::view(const std::string& my_id) const {
  View v;
  for (const auto& [handle, r] : routes_) {
    // A retracted route (or one through a neighbour now unreachable) says
    // nothing about the node being there.
    if (r.metric >= kInfinity || r.router_id.empty() || r.router_id == my_id) continue;
    bool host = r.prefix.is_host() && r.from.is_default() && probeable(r.prefix.address);
    bool gateway = r.prefix.is_default();
    if (!host && !gateway) continue;
    Node& n = v.nodes[r.router_id];
    n.id = r.router_id;
    if (gateway) n.gateway = true;
    if (host) {
      n.addresses.insert(r.prefix.address.to_string());
      n.distance = std::min(n.distance, r.metric);
    }
  }
  v.links = links(my_id);
  return v;
}

std::vector<Link> Table::links(const std::string& my_id) const {
  // A neighbour's router id is that of the routes it originates: those it
  // announces with metric 0 (refmetric 0) and we reach through it.
  std::map<std::string, std::uint32_t> best;  // router id -> cheapest cost
  for (const auto& [nh, n] : neighbours_) {
    if (n.cost && *n.cost >= kInfinity) continue;  // lost: no link any more
    for (const auto& [rh, r] : routes_) {
      if (r.refmetric != 0 || r.metric >= kInfinity || r.via != n.address || r.ifname != n.ifname)
        continue;
      if (r.router_id.empty() || r.router_id == my_id) continue;
      std::uint32_t cost = n.cost ? *n.cost : r.metric;
      auto [it, fresh] = best.emplace(r.router_id, cost);
      if (!fresh) it->second = std::min(it->second, cost);
      break;
    }
  }
  std::vector<Link> out;
  for (const auto& [id, cost] : best) out.push_back(Link{"", id, cost});
  return out;
}

std::vector<Candidate> View::candidates() const {
  std::vector<const Node*> order;
  for (const auto& [id, n] : nodes)
    if (!n.addresses.empty()) order.push_back(&n);
  std::stable_sort(order.begin(), order.end(),
                   [](const Node* a, const Node* b) { return a->distance < b->distance; });
  std::vector<Candidate> out;
  for (const Node* n : order) {
    for (const auto& address : n->addresses) {
      Candidate c;
      c.address = address;
      c.detail = "babel route";
      c.node = n->id;
      c.gateway = n->gateway;
      c.distance = n->distance;
      out.push_back(std::move(c));
    }
  }
  return out;
}

std::vector<std::string> View::unreachable_gateways() const {
  std::vector<std::string> out;
  for (const auto& [id, n] : nodes)
    if (n.gateway && n.addresses.empty()) out.push_back(id);
  return out;
}

std::size_t View::gateways() const {
  return static_cast<std::size_t>(
      std::count_if(nodes.begin(), nodes.end(), [](const auto& e) { return e.second.gateway; }));
}

std::size_t View::probeable() const {
  return static_cast<std::size_t>(std::count_if(
      nodes.begin(), nodes.end(), [](const auto& e) { return !e.second.addresses.empty(); }));
}

bool View::same_members(const View& other) const {
  if (nodes.size() != other.nodes.size()) return false;
  auto a = nodes.begin();
  auto b = other.nodes.begin();
  for (; a != nodes.end(); ++a, ++b) {
    if (std::tie(a->first, a->second.addresses, a->second.gateway) !=
        std::tie(b->first, b->second.addresses, b->second.gateway))
      return false;
  }
  return true;
}

}  // namespace mnigs::babel
