// What one OLSR daemon told us about the mesh, whichever interface it came
// from (olsrd jsoninfo, olsrd txtinfo, olsrd2 telnet): nodes by originator
// address, links between them, and the entries that could not be read. The
// parsers fill a View; the plugin turns it into a Discovery.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <mnigs/plugin.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mnigs::olsr {

struct NodeFacts {
  std::uint32_t hops = 0;  // from the daemon's routing table; 0 unknown
  bool neighbour = false;  // a symmetric one-hop neighbour
  bool gateway = false;    // announces 0.0.0.0/0 or ::/0 (HNA / attached network)
  std::string zone;        // interface of the route to it, for link-local IPv6
  // Other addresses of the same node (olsrd2 dual-stack originator).
  std::vector<std::string> aliases;
};

struct View {
  std::map<std::string, NodeFacts> nodes;  // by originator address, canonical text
  std::vector<Link> links;                 // "" is the local node
  // One short sentence per entry that was skipped, e.g.
  // "topology entry 3: \"lastHopIP\" is not an IP address"; the first
  // kMaxSkipNotes only, so a huge garbage reply cannot grow it without bound.
  std::vector<std::string> skipped;
  std::size_t skipped_total = 0;  // all entries skipped
  static constexpr std::size_t kMaxSkipNotes = 100;

  void skip(std::string why) {
    ++skipped_total;
    if (skipped.size() < kMaxSkipNotes) skipped.push_back(std::move(why));
  }

  // The node `address` (canonical), created on first use.
  NodeFacts& node(const std::string& address) { return nodes[address]; }
  // Records a link, ignoring repeats (olsrd lists one per direction and
  // olsrd2 one per metric domain; the first cost is kept).
  void add_link(const std::string& from, const std::string& to, std::uint32_t cost);
  // Records that `address` is `hops` away, keeping the smallest non-zero count.
  void set_hops(const std::string& address, std::uint32_t hops);
};

// The canonical text of an IPv4 or IPv6 address (as boost::asio prints it),
// or nullopt if `text` is not one. No zones, no prefix lengths.
std::optional<std::string> canonical_address(std::string_view text);

// True for a prefix that is a default route: 0.0.0.0/0 or ::/0, given as
// address and length.
bool is_default_route(std::string_view address, int prefix_length);
// Same for "0.0.0.0/0" / "::/0" text. False for anything else, including garbage.
bool is_default_route(std::string_view prefix);

// Candidates (one per node and alias, `detail` as their detail) and links.
// Link-local IPv6 addresses get their route's interface as zone; those
// without one are left out, since nothing could reach them.
Discovery to_discovery(const View& view, const std::string& detail);

}  // namespace mnigs::olsr
