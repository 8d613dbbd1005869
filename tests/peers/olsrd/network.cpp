#include "network.hpp"

#include <boost/asio/ip/address.hpp>
#include <charconv>

namespace olsrd_peer {

namespace {

std::optional<boost::asio::ip::address> parse_address(const std::string& text) {
  boost::system::error_code ec;
  auto a = boost::asio::ip::make_address(text, ec);
  if (ec || text.find('%') != std::string::npos) return std::nullopt;
  return a;
}

std::optional<Prefix> parse_prefix(const std::string& text) {
  auto slash = text.find('/');
  if (slash == std::string::npos) return std::nullopt;
  auto a = parse_address(text.substr(0, slash));
  unsigned len = 0;
  auto tail = text.substr(slash + 1);
  auto [p, ec] = std::from_chars(tail.data(), tail.data() + tail.size(), len);
  if (!a || ec != std::errc() || p != tail.data() + tail.size() || len > (a->is_v6() ? 128u : 32u))
    return std::nullopt;
  return Prefix{a->to_string(), len, a->is_v6()};
}

bool read_prefixes(const Json::Value& list, std::vector<Prefix>& out, std::string* why) {
  for (const auto& item : list) {
    auto p = item.isString() ? parse_prefix(item.asString()) : std::nullopt;
    if (!p) {
      *why = "\"" + item.asString() + "\" is not a prefix like 0.0.0.0/0";
      return false;
    }
    out.push_back(*p);
  }
  return true;
}

}  // namespace

const Node* Network::find(const std::string& address) const {
  for (const auto& n : nodes)
    if (n.address == address) return &n;
  return nullptr;
}

std::vector<const Node*> Network::neighbours() const { return behind(self); }

std::vector<const Node*> Network::reachable() const {
  std::vector<const Node*> out;
  for (const auto& n : nodes)
    if (n.hops > 0) out.push_back(&n);
  return out;
}

std::vector<const Node*> Network::behind(const std::string& address) const {
  std::vector<const Node*> out;
  for (const auto& n : nodes)
    if (n.via == address) out.push_back(&n);
  return out;
}

std::optional<Network> read_network(const Json::Value& root, std::string* why) {
  auto fail = [&](std::string reason) -> std::optional<Network> {
    *why = std::move(reason);
    return std::nullopt;
  };
  if (!root.isObject()) return fail("the description must be a JSON object");
  Network net;
  auto self = parse_address(root["self"].asString());
  if (!self) return fail("\"self\" must be an IP address");
  net.self = self->to_string();
  if (root.isMember("interface")) net.interface = root["interface"].asString();
  if (!read_prefixes(root["hna"], net.own_hna, why)) return std::nullopt;

  for (const auto& item : root["nodes"]) {
    Node n;
    auto a = parse_address(item["address"].asString());
    if (!a) return fail("node \"" + item["address"].asString() + "\" is not an IP address");
    n.address = a->to_string();
    n.v6 = a->is_v6();
    auto via = parse_address(item.get("via", net.self).asString());
    if (!via) return fail("node " + n.address + ": \"via\" is not an IP address");
    n.via = via->to_string();
    if (item.isMember("dualstack")) {
      auto d = parse_address(item["dualstack"].asString());
      if (!d) return fail("node " + n.address + ": \"dualstack\" is not an IP address");
      n.dualstack = d->to_string();
    }
    n.symmetric = item.get("symmetric", true).asBool();
    if (!read_prefixes(item["hna"], n.hna, why)) return std::nullopt;
    if (n.address == net.self || net.find(n.address))
      return fail("node " + n.address + " is listed twice");
    net.nodes.push_back(std::move(n));
  }

  // Hop counts along the vias; a via chain must end at self within as many
  // steps as there are nodes.
  for (auto& n : net.nodes) {
    const Node* at = &n;
    unsigned hops = 1;
    std::string first = n.address;
    while (at->via != net.self) {
      const Node* up = net.find(at->via);
      if (!up) return fail("node " + at->address + ": via " + at->via + " is not a node");
      first = up->address;
      at = up;
      if (++hops > net.nodes.size()) return fail("the vias of node " + n.address + " form a loop");
    }
    // An asymmetric neighbour carries no traffic, nor does anything behind it.
    const Node* neighbour = net.find(first);
    n.hops = neighbour->symmetric ? hops : 0;
    n.next_hop = first;
  }
  return net;
}

}  // namespace olsrd_peer
