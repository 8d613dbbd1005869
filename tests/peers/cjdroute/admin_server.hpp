// The admin interface of cjdroute (admin/Admin.c and the functions
// discovery uses), minus the router behind it: it answers from a fixed list
// of nodes and peers.
//
//   cookie                          -> {"cookie": "<unix seconds>"}
//   auth (aq, args, cookie, hash)   -> checked as authValid() does, else
//                                      {"error": "Auth failed."}
//   NodeStore_dumpTable {page}      -> {"routingTable": [...], "more": 1?, "count", "peers"}
//   InterfaceController_peerStats   -> {"peers": [...], "more": 1?, "total"}
//   ping                            -> {"q": "pong"}
//   Admin_availableFunctions {page} -> {"availableFunctions": {...}, "more": 1?}
//   anything else                   -> {"error": "No functions matched your request, ..."}
//
// Every reply carries the request's txid and the padded first key.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "benc.hpp"

namespace cjdroute_peer {

struct Node {
  std::string key;   // "<52 base32 chars>.k"
  std::string ip;    // derived from the key, printed as cjdroute prints it
  std::string path;  // "0000.0000.0000.0013"
  std::int64_t version = 20;
  std::int64_t link = 0;
  std::string state = "ESTABLISHED";  // peers only
};

// The address a cjdns key owns ("fcxx:xxxx:...", every group four digits),
// or nullopt when the key is not valid (bad base32, or outside fc00::/8).
std::optional<std::string> key_to_ip(const std::string& key);

std::string sha256_hex(std::string_view data);

class AdminServer {
 public:
  AdminServer(std::string password, std::size_t page_size);

  // This node's own key: listed first in the routing table with label 1.
  void set_self(Node self) { self_ = std::move(self); }
  void add_node(Node node) { nodes_.push_back(std::move(node)); }
  void add_peer(Node peer) { peers_.push_back(std::move(peer)); }

  // The reply to one request datagram received at `now` (unix seconds), or
  // nullopt when cjdroute would stay silent (unparsable, not a query).
  std::optional<std::string> handle(const std::string& datagram, std::uint64_t now) const;

 private:
  bool auth_valid(const Benc& message, const std::string& bytes, std::uint64_t now) const;
  Benc dump_table(std::int64_t page) const;
  Benc peer_stats(std::int64_t page) const;
  Benc available_functions(std::int64_t page) const;
  static Benc routing_entry(const Node& n);

  std::string password_;
  std::size_t page_size_;
  std::optional<Node> self_;
  std::vector<Node> nodes_, peers_;
};

}  // namespace cjdroute_peer
