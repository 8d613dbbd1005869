// What a probe learns about a node, and how it is kept: the checks on a
// nodeInfo reply (it comes from anyone on the mesh), the merge of what
// several targets say about one node, and the rows written to SQLite. Shared
// by the scans and by the re-probes that follow discovery.changed.
#pragma once

#include "scanner/targets.hpp"

#include <json/value.h>

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

struct sqlite3;

namespace mnigs::scan {

// "" when `info` is a well-formed nodeInfo reply, else why not.
std::string check_node_info(const Json::Value& info);

// A node that answered, as a scan merges what it learns.
struct Found {
  std::string id, name, address;
  std::uint16_t port = 0;
  bool gateway = false;
  std::vector<std::string> addresses;
  std::set<std::string> networks;
  std::map<std::string, std::string> mesh_ids;
  Json::Value info;
  std::int64_t rtt_ms = 0;
};

// Adds what `target` says about the node (its addresses, networks, mesh ids)
// to `found`. When `fresh`, first takes the reply itself: `info` (checked),
// the `address` and port that answered, the round trip.
void merge_reply(Found& found, bool fresh, const Target& target, const std::string& address,
                 const Json::Value& info, std::int64_t rtt_ms);

// The "scan.node" event announcing `found`, reached by scan `scan`.
Json::Value node_event(const Found& found, std::uint64_t scan);

// Inserts or updates the nodes' rows: last seen `seen` (unix seconds), by
// scan `scan`. On the store's worker, inside the caller's transaction.
void store_found(sqlite3* db, const std::vector<Found>& nodes, std::int64_t seen,
                 std::uint64_t scan);

}  // namespace mnigs::scan
