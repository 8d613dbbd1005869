// The admin interface of cjdroute (admin/Admin.c and the functions
// discovery uses), minus the router behind it: it answers from a fixed list
// of nodes and peers. What it sends is what cjdroute v21.1 sends (compare
// plugins/discovery/cjdns/testdata/admin-v21.1, captured from the real one):
//
//   cookie                          -> {"cookie": "<wall-clock ms / 1024>"}
//   auth (aq, args, cookie, hash)   -> checked as authValid() does (the cookie
//                                      at most 20 such units old), else
//                                      {"error": "Auth failed."}
//   NodeStore_dumpTable {page}      -> 4 entries a page, this node among them
//                                      (bucket 127, link 0); "more": 1 whenever
//                                      the page is full, so a full last page is
//                                      followed by an empty one; "count", "peers"
//   InterfaceController_peerStats   -> 6 peers a page; "more": 1 only when
//                                      peers remain; "total"
//   ping                            -> {"q": "pong"}
//   Core_nodeInfo                   -> {"myAddr": "v22.0000.0000.0000.0001.<key>.k",
//                                      "myIp6", "compressedSchemeHex",
//                                      "encodingScheme", "version": 22} (v22.3)
//   IpTunnel_allowConnection, _connectTo, _removeConnection,
//   _listConnections, _showConnection (authenticated only)
//                                   -> as cjdns v22.3's tunnel/IpTunnel_admin.c:
//                                      the same arguments, checks in the same
//                                      order, the same error strings and reply
//                                      shapes; connection numbers count up from
//                                      0 and are never reused
//   RouteGen_getPrefixes {page, ip6}, RouteGen_removePrefix {route},
//   RouteGen_commit {tunName} (authenticated only)
//                                   -> as tunnel/RouteGen_admin.c: prefixes
//                                      "addr/len" (20 a page, "routes"),
//                                      "none" / "no_such_route" / "parse_failed"
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
  std::int64_t version = 21;
  std::int64_t link = 0;
  std::int64_t bucket = 0;
  // Peers only:
  std::string state = "ESTABLISHED";
  std::string lladdr = "10.66.0.2:37000";  // "ip:port" of the peer's UDP interface
  std::string user;                        // the login it used; "" leaves "user" out
};

// Version_CURRENT_PROTOCOL of cjdns v22.3 (util/version/Version.h).
inline constexpr std::int64_t kProtocolVersion = 22;

// cjdroute's page sizes (NodeStore_admin.c, InterfaceController_admin.c).
inline constexpr std::size_t kTablePageSize = 4;
inline constexpr std::size_t kPeerPageSize = 6;

// The address a cjdns key owns ("fcxx:xxxx:...", every group four digits),
// or nullopt when the key is not valid (bad base32, or outside fc00::/8).
std::optional<std::string> key_to_ip(const std::string& key);

std::string sha256_hex(std::string_view data);

class AdminServer {
 public:
  // `start_ms`: wall-clock milliseconds when the router "started"; the
  // peers' counters grow from then.
  AdminServer(std::string password, std::uint64_t start_ms);

  // This node's own entry (label 1, bucket 127, link 0), at position `at` of
  // the routing table: cjdroute's node store lists it wherever its order puts it.
  void set_self(Node self, std::size_t at) {
    self_ = std::move(self);
    self_at_ = at;
  }
  void add_node(Node node) { nodes_.push_back(std::move(node)); }
  void add_peer(Node peer) { peers_.push_back(std::move(peer)); }

  // What the gateway with key `key` issues to this node's outgoing
  // connection (the "addresses" of cjdns' IpTunnel getAddresses reply:
  // ip4/ip6 with their Prefix and Alloc). With no cjdns network behind the
  // stand-in, they arrive at once with connectTo, and, as
  // tunnel/IpTunnel.c addAddress does, a prefix below 32/128 is added to
  // RouteGen's prefixes.
  struct Issue {
    std::string ip4, ip6;
    std::int64_t ip4_prefix = 32, ip4_alloc = 32, ip6_prefix = 128, ip6_alloc = 128;
  };
  void add_issue(const std::string& key, Issue issue) { issues_.emplace_back(key, issue); }
  // Acts on the next `count` calls of `function` but sends no reply, as if
  // the reply datagram were lost.
  void drop_replies(const std::string& function, int count) {
    drops_.emplace_back(function, count);
  }

  // The reply to one request datagram received at `now_ms` (wall-clock
  // milliseconds), or nullopt when cjdroute would stay silent (unparsable,
  // not a query).
  // The IpTunnel functions change the server's connections.
  std::optional<std::string> handle(const std::string& datagram, std::uint64_t now_ms);

 private:
  bool auth_valid(const Benc& message, const std::string& bytes, std::uint64_t now_ms) const;
  Benc dump_table(std::int64_t page, std::uint64_t now_ms) const;
  Benc peer_stats(std::int64_t page, std::uint64_t now_ms) const;
  Benc available_functions(std::int64_t page) const;
  Benc node_info() const;
  Benc ip_tunnel(const std::string& function, const Benc& args);
  Benc route_gen(const std::string& function, const Benc& args);
  static Benc routing_entry(const Node& n, std::int64_t since_ping_ms);

  std::string password_;
  std::uint64_t start_ms_;
  std::optional<Node> self_;
  std::size_t self_at_ = 0;
  std::vector<Node> nodes_, peers_;

  // IpTunnel's connections: allowed (incoming, kept first) and made
  // (outgoing), with the addresses of an allowed one.
  struct TunnelConnection {
    std::int64_t number = 0;
    std::string key;
    bool outgoing = false;
    std::string ip4, ip6;  // "" when none
    std::int64_t ip4_prefix = 32, ip4_alloc = 32, ip6_prefix = 128, ip6_alloc = 128;
  };
  std::vector<TunnelConnection> tunnels_;
  std::vector<std::pair<std::string, Issue>> issues_;
  std::vector<std::pair<std::string, int>> drops_;
  std::vector<std::string> prefixes4_, prefixes6_;  // RouteGen's, "addr/len"
  std::int64_t next_connection_ = 0;
};

}  // namespace cjdroute_peer
