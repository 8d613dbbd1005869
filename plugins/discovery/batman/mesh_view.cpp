#include "mesh_view.hpp"

#include "batadv.hpp"

#include <boost/asio/ip/address_v6.hpp>

#include <algorithm>
#include <cstdio>
#include <map>

namespace mnigs::batman {

std::string format_mac(const Mac& m) {
  char out[18];
  std::snprintf(out, sizeof out, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4],
                m[5]);
  return out;
}

std::string link_local_of(const Mac& m, const std::string& zone) {
  boost::asio::ip::address_v6::bytes_type b{};
  b[0] = 0xfe;
  b[1] = 0x80;
  b[8] = m[0] ^ 0x02;  // the universal/local bit, inverted in modified EUI-64
  b[9] = m[1];
  b[10] = m[2];
  b[11] = 0xff;
  b[12] = 0xfe;
  b[13] = m[3];
  b[14] = m[4];
  b[15] = m[5];
  std::string a = boost::asio::ip::address_v6(b).to_string();
  return zone.empty() ? a : a + "%" + zone;
}

std::uint32_t metric_distance(std::optional<std::uint8_t> tq,
                              std::optional<std::uint32_t> throughput_kbps) {
  if (tq) return 256u - *tq;
  if (throughput_kbps) {
    constexpr std::uint32_t scale = 10'000'000;  // kbit/s at which the distance would be 1
    std::uint32_t kbps = std::max<std::uint32_t>(*throughput_kbps, 1);
    return std::max<std::uint32_t>(1, (scale + kbps - 1) / kbps);
  }
  return 0;
}

std::string format_bandwidth(std::uint32_t down, std::uint32_t up) {
  char out[64];
  std::snprintf(out, sizeof out, "%u.%u/%u.%u Mbit/s", down / 10, down % 10, up / 10, up % 10);
  return out;
}

namespace {

bool multicast(const Mac& m) { return m[0] & 0x01; }

// The entry batman-adv routes through for each originator: the one flagged
// best, else (should the flag be missing) the one with the best metric.
std::map<Mac, OriginatorEntry> routes(const std::vector<OriginatorEntry>& entries) {
  std::map<Mac, OriginatorEntry> out;
  auto better = [](const OriginatorEntry& a, const OriginatorEntry& b) {
    if (a.best != b.best) return a.best;
    if (a.tq && b.tq) return *a.tq > *b.tq;
    if (a.throughput_kbps && b.throughput_kbps) return *a.throughput_kbps > *b.throughput_kbps;
    return false;
  };
  for (const auto& e : entries) {
    auto [it, fresh] = out.try_emplace(e.orig, e);
    if (!fresh && better(e, it->second)) it->second = e;
  }
  return out;
}

// Client MAC -> the originator announcing it, for MACs that can be a node's
// own mesh interface.
std::map<Mac, Mac> client_owners(const std::vector<ClientEntry>& clients) {
  constexpr std::uint32_t not_a_node =
      batadv::tt_client_wifi | batadv::tt_client_roam | batadv::tt_client_temp;
  std::map<Mac, Mac> out;
  std::map<Mac, bool> from_best;
  for (const auto& c : clients) {
    if (multicast(c.client) || (c.flags & not_a_node) || c.client == c.orig) continue;
    auto [it, fresh] = out.try_emplace(c.client, c.orig);
    if (fresh || (c.best && !from_best[c.client])) it->second = c.orig;
    from_best[c.client] = from_best[c.client] || c.best;
  }
  return out;
}

std::string describe(const NodeView& n) {
  std::string d = "batman-adv originator " + format_mac(n.orig) + " (";
  if (n.tq) d += "TQ " + std::to_string(*n.tq);
  else if (n.throughput_kbps) d += std::to_string(*n.throughput_kbps) + " kbit/s";
  d += n.direct ? ", direct" : ", via " + format_mac(n.nexthop);
  if (n.gateway) d += "; gateway " + format_bandwidth(n.gateway->down, n.gateway->up);
  return d + ")";
}

void add(std::vector<std::string>& list, std::string address) {
  if (std::find(list.begin(), list.end(), address) == list.end())
    list.push_back(std::move(address));
}

}  // namespace

MeshView build_view(const Snapshot& s, const ViewOptions& o) {
  MeshView view;
  std::map<Mac, std::size_t> index;  // originator MAC -> view.nodes
  for (const auto& [mac, e] : routes(s.originators)) {
    if (o.max_last_seen_ms && e.last_seen_ms > o.max_last_seen_ms) continue;
    NodeView n;
    n.orig = mac;
    n.nexthop = e.neigh;
    n.tq = e.tq;
    n.throughput_kbps = e.throughput_kbps;
    n.last_seen_ms = e.last_seen_ms;
    n.distance = metric_distance(e.tq, e.throughput_kbps);
    n.direct = e.neigh == e.orig;
    if (view.metric.empty()) view.metric = e.tq ? "tq" : "throughput";
    index[mac] = view.nodes.size();
    view.nodes.push_back(std::move(n));
  }
  for (const auto& g : s.gateways)
    if (auto it = index.find(g.orig); it != index.end()) {
      auto& slot = view.nodes[it->second].gateway;
      if (!slot || g.best) slot = g;
    }

  std::map<Mac, Mac> owner;  // MAC seen on the mesh interface -> originator
  if (o.use_clients) owner = client_owners(s.clients);
  for (const auto& [client, orig] : owner)
    if (auto it = index.find(orig); it != index.end())
      view.nodes[it->second].clients.push_back(client);  // map order: sorted

  // Neighbour addresses per MAC, in the kernel's order.
  std::map<Mac, std::vector<std::string>> by_mac;
  for (const auto& nb : s.neighbours) {
    if (o.zone_ifindex && nb.ifindex != o.zone_ifindex) continue;
    by_mac[nb.lladdr].push_back(nb.link_local && !o.zone.empty() ? nb.address + "%" + o.zone
                                                                  : nb.address);
  }
  auto neighbours_of = [&](const Mac& m) {
    auto it = by_mac.find(m);
    return it == by_mac.end() ? std::vector<std::string>{} : it->second;
  };

  for (auto& n : view.nodes) {
    for (auto& a : neighbours_of(n.orig)) add(n.addresses, a);
    add(n.addresses, link_local_of(n.orig, o.zone));
    for (const auto& c : n.clients)
      for (auto& a : neighbours_of(c)) add(n.addresses, a);
    if (n.clients.size() <= o.link_local_guesses)
      for (const auto& c : n.clients) add(n.addresses, link_local_of(c, o.zone));
  }

  std::stable_sort(view.nodes.begin(), view.nodes.end(),
                   [](const NodeView& a, const NodeView& b) { return a.distance < b.distance; });
  for (const auto& n : view.nodes) {
    const std::string id = format_mac(n.orig), detail = describe(n);
    for (const auto& a : n.addresses) {
      Candidate c;
      c.address = a;
      c.detail = detail;
      c.node = id;
      c.gateway = n.gateway.has_value();
      c.distance = n.distance;
      view.discovery.candidates.push_back(std::move(c));
    }
    if (n.direct) view.discovery.links.push_back(Link{"", id, n.distance});
  }
  return view;
}

}  // namespace mnigs::batman
