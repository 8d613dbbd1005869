#include "nodes.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <map>
#include <optional>
#include <set>

#include "keys.hpp"

namespace mnigs::cjdns {

namespace {

// What one entry says about a node.
struct Entry {
  Ip6 ip{};
  std::string key;                     // "" when the entry names none
  std::optional<std::uint64_t> label;  // switch label, when given
};

std::string literal(const Ip6& ip) {
  char buf[INET6_ADDRSTRLEN];
  ::inet_ntop(AF_INET6, ip.data(), buf, sizeof buf);
  return buf;
}

// A routing-table entry: "ip" and/or "addr" (which carries label and key),
// and "path". When both name the address they must agree: the address is a
// hash of the key, so a mismatch is a broken entry.
std::optional<Entry> table_entry(const bencode::Value& v, std::string* why) {
  if (!v.is_dict()) {
    *why = "an entry that is not a dictionary";
    return std::nullopt;
  }
  Entry e;
  std::optional<Ip6> from_key;
  if (auto addr = v.get_string("addr")) {
    auto parsed = parse_node_address(*addr, why);
    if (!parsed) return std::nullopt;
    e.key = parsed->key;
    e.label = parsed->label;
    from_key = key_to_ip(e.key, why);
    if (!from_key) return std::nullopt;
  }
  if (auto path = v.get_string("path")) {
    e.label = parse_label(*path);
    if (!e.label) {
      *why = "path \"" + path->substr(0, 40) + "\" is not a switch label";
      return std::nullopt;
    }
  }
  if (auto ip = v.get_string("ip")) {
    auto parsed = parse_ip(*ip);
    if (!parsed || !is_cjdns_ip(*parsed)) {
      *why = "ip \"" + ip->substr(0, 45) + "\" is not an fc00::/8 address";
      return std::nullopt;
    }
    if (from_key && *from_key != *parsed) {
      *why = "ip " + *ip + " does not belong to key " + e.key;
      return std::nullopt;
    }
    e.ip = *parsed;
  } else if (from_key) {
    e.ip = *from_key;
  } else {
    *why = "an entry with neither \"ip\" nor \"addr\"";
    return std::nullopt;
  }
  return e;
}

// A peerStats entry: "addr" (current cjdroute) or "publicKey" and
// "switchLabel" (older ones), and "state". nullopt without `why` for a peer
// that is not established.
std::optional<Entry> peer_entry(const bencode::Value& v, std::string* why) {
  why->clear();
  if (!v.is_dict()) {
    *why = "a peer that is not a dictionary";
    return std::nullopt;
  }
  auto state = v.get_string("state");
  if (!state) {
    *why = "a peer without a \"state\"";
    return std::nullopt;
  }
  Entry e;
  if (auto addr = v.get_string("addr")) {
    auto parsed = parse_node_address(*addr, why);
    if (!parsed) return std::nullopt;
    e.key = parsed->key;
    e.label = parsed->label;
  } else if (auto key = v.get_string("publicKey")) {
    e.key = *key;
    if (auto label = v.get_string("switchLabel")) e.label = parse_label(*label);
  } else {
    *why = "a peer with neither \"addr\" nor \"publicKey\"";
    return std::nullopt;
  }
  auto ip = key_to_ip(e.key, why);
  if (!ip) return std::nullopt;
  e.ip = *ip;
  // Peers still handshaking or gone quiet are not links (yet).
  if (*state != "ESTABLISHED") return std::nullopt;
  return e;
}

Candidate candidate_for(const Entry& e, const char* detail) {
  Candidate c;
  c.address = literal(e.ip);
  c.port = 0;
  c.detail = detail;
  c.node = e.key.empty() ? c.address : e.key;
  c.gateway = false;
  c.distance = e.label ? label_reach(*e.label) : 0;
  return c;
}

// Keeps the nearer of two reports of one address (0 means unknown).
void merge(std::map<std::string, Candidate>& by_address, Candidate c) {
  auto [it, inserted] = by_address.emplace(c.address, c);
  if (inserted) return;
  Candidate& old = it->second;
  if (c.distance != 0 && (old.distance == 0 || c.distance < old.distance))
    old.distance = c.distance;
  if (old.node == old.address && c.node != c.address) old.node = c.node;
}

}  // namespace

const char* list_key(const std::string& function) {
  return function == kPeerStats ? "peers" : "routingTable";
}

NodesFound interpret(const std::vector<bencode::Value>& routing_table,
                     const std::vector<bencode::Value>& peers) {
  NodesFound out;
  std::map<std::string, Candidate> by_address;
  std::set<std::string> linked;
  std::string why;
  for (const auto& v : routing_table) {
    auto e = table_entry(v, &why);
    if (!e) {
      out.skipped.push_back("routing table: " + why);
      continue;
    }
    if (e->label == 1u) continue;  // this node itself
    merge(by_address, candidate_for(*e, "cjdns nodestore"));
  }
  for (const auto& v : peers) {
    auto e = peer_entry(v, &why);
    if (!e) {
      if (!why.empty()) out.skipped.push_back("peers: " + why);
      continue;
    }
    // A peer reached over two interfaces is listed twice; it is one link.
    if (!linked.insert(e->key).second) continue;
    ++out.peers;
    out.links.push_back(Link{"", e->key, 0});
    merge(by_address, candidate_for(*e, "cjdns peer"));
  }
  for (auto& [address, c] : by_address) out.candidates.push_back(std::move(c));
  // Nearest first; unknown distances (0) last.
  std::stable_sort(
      out.candidates.begin(), out.candidates.end(), [](const Candidate& a, const Candidate& b) {
        auto key = [](const Candidate& c) { return c.distance == 0 ? UINT32_MAX : c.distance; };
        return key(a) < key(b);
      });
  return out;
}

}  // namespace mnigs::cjdns
