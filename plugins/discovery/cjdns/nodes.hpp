// What cjdroute's admin answers mean for discovery: the entries of
// NodeStore_dumpTable and InterfaceController_peerStats become candidates
// and links.
//
//   NodeStore_dumpTable {page: N} ->
//     {"routingTable": [{"ip": "fc..", "addr": "v20.0000.0000.0000.0013.<key>.k",
//       "path": "0000.0000.0000.0013", "link": .., "version": .., "time": ..,
//       "bucket": ..}, ...], "more": 1 (when another page exists), "count": .., "peers": ..}
//   InterfaceController_peerStats {page: N} ->
//     {"peers": [{"addr": "v20.0000.0000.0000.0013.<key>.k", "state": "ESTABLISHED", ...}],
//      "more": 1?, "total": ..}
//
// Pure functions; thread-safe.
#pragma once

#include <mnigs/plugin.hpp>
#include <string>
#include <vector>

#include "bencode.hpp"

namespace mnigs::cjdns {

inline constexpr const char* kDumpTable = "NodeStore_dumpTable";
inline constexpr const char* kPeerStats = "InterfaceController_peerStats";

// The list each paged function returns its entries in.
const char* list_key(const std::string& function);

struct NodesFound {
  std::vector<Candidate> candidates;  // one per address, nearest first
  std::vector<Link> links;            // "" -> each established peer, by key
  std::size_t peers = 0;              // established peers
  std::vector<std::string> skipped;   // why each malformed entry was skipped
};

// Turns the routing table and peer entries (all pages concatenated) into
// candidates and links.
//
// Candidates: every node of the routing table but this node itself (label
// 0000.0000.0000.0001), at its fc00::/8 address, node = its public key (its
// address when the entry names no key), detail "cjdns nodestore", distance
// from its switch label (label_reach). Established peers the table lacks are
// added with detail "cjdns peer". A peer's address is derived from its key.
// cjdns knows nothing of gateways: gateway stays false.
NodesFound interpret(const std::vector<bencode::Value>& routing_table,
                     const std::vector<bencode::Value>& peers);

}  // namespace mnigs::cjdns
