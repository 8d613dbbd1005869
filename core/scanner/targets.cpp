#include "scanner/targets.hpp"

#include <boost/asio/ip/address.hpp>

#include <algorithm>
#include <limits>
#include <numeric>

namespace mnigs::scan {

std::string without_zone(const std::string& address) {
  auto percent = address.find('%');
  return percent == std::string::npos ? address : address.substr(0, percent);
}

namespace {

// 0 for IPv4, 1 for routable IPv6, 2 for link-local IPv6: the probing order.
int address_rank(const std::string& address) {
  boost::system::error_code ec;
  auto a = boost::asio::ip::make_address(without_zone(address), ec);
  if (ec || a.is_v4()) return 0;
  return a.to_v6().is_link_local() ? 2 : 1;
}

// Normalises an address literal; "" when it is not one. A link-local IPv6
// address keeps its zone, without which it cannot be reached.
std::string normalise(const std::string& text) {
  boost::system::error_code ec;
  auto a = boost::asio::ip::make_address(text, ec);
  if (ec || a.is_unspecified() || a.is_multicast()) return "";
  if (a.is_v6() && a.to_v6().is_v4_mapped())
    return boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, a.to_v6()).to_string();
  std::string out = a.to_string();
  // make_address drops an unknown zone silently; keep what the plugin said.
  if (a.is_v6() && a.to_v6().is_link_local() && out.find('%') == std::string::npos) {
    auto percent = text.find('%');
    if (percent == std::string::npos) return "";  // unreachable without a zone
    out += text.substr(percent);
  }
  return out;
}

// Union-find over group indexes.
struct Groups {
  std::vector<std::size_t> parent;
  std::size_t add() {
    parent.push_back(parent.size());
    return parent.size() - 1;
  }
  std::size_t find(std::size_t i) {
    while (parent[i] != i) i = parent[i] = parent[parent[i]];
    return i;
  }
  void join(std::size_t a, std::size_t b) { parent[find(a)] = find(b); }
};

struct Entry {
  std::size_t group;
  std::string address;
  std::uint16_t port;
  const std::string* network;
  const Candidate* candidate;
};

}  // namespace

Plan plan(const std::vector<Report>& reports, const std::vector<std::uint16_t>& scanports) {
  Plan out;
  Groups groups;
  std::map<std::string, std::size_t> by_node;     // "network\nnode id" -> group
  std::map<std::string, std::size_t> by_address;  // address without zone -> group
  std::vector<Entry> entries;

  for (const auto& report : reports) {
    for (const auto& c : report.found.candidates) {
      ++out.candidates;
      std::string address = normalise(c.address);
      if (address.empty()) {
        out.rejected.push_back(report.network + ": " + c.address);
        continue;
      }
      std::size_t group;
      if (c.node.empty()) {
        group = groups.add();
      } else {
        auto [it, fresh] = by_node.try_emplace(report.network + "\n" + c.node, 0);
        if (fresh) it->second = groups.add();
        group = it->second;
      }
      auto [at, fresh] = by_address.try_emplace(without_zone(address), group);
      if (!fresh) groups.join(group, at->second);
      entries.push_back({group, address, c.port, &report.network, &c});
    }
  }

  // One target per (node, port), addresses in the order they were reported.
  std::map<std::pair<std::size_t, std::uint16_t>, std::size_t> target_of;
  for (const auto& e : entries) {
    std::vector<std::uint16_t> ports =
        e.port ? std::vector<std::uint16_t>{e.port} : scanports;
    for (auto port : ports) {
      auto key = std::make_pair(groups.find(e.group), port);
      auto [it, fresh] = target_of.try_emplace(key, out.targets.size());
      if (fresh) {
        out.targets.emplace_back();
        out.targets.back().port = port;
      }
      Target& t = out.targets[it->second];
      if (std::find(t.addresses.begin(), t.addresses.end(), e.address) == t.addresses.end())
        t.addresses.push_back(e.address);
      t.networks.insert(*e.network);
      if (!e.candidate->node.empty()) t.mesh_ids[*e.network] = e.candidate->node;
      t.gateway_hint = t.gateway_hint || e.candidate->gateway;
      if (e.candidate->distance && (!t.distance || e.candidate->distance < t.distance))
        t.distance = e.candidate->distance;
    }
  }

  for (auto& t : out.targets)
    std::stable_sort(t.addresses.begin(), t.addresses.end(),
                     [](const std::string& a, const std::string& b) {
                       return address_rank(a) < address_rank(b);
                     });
  // Breadth first: nearer nodes first, so the scan's early results are the
  // gateways a subscriber would pick anyway.
  auto key = [](const Target& t) {
    return t.distance ? t.distance : std::numeric_limits<std::uint32_t>::max();
  };
  std::stable_sort(out.targets.begin(), out.targets.end(),
                   [&](const Target& a, const Target& b) { return key(a) < key(b); });
  return out;
}

}  // namespace mnigs::scan
