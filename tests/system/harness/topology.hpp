// A test network built from a small description: nodes are network
// namespaces, links are veth pairs between two of them, bridges are Linux
// bridges in a namespace of their own with one veth to each member.
//
//   Topology t;
//   t.node("a"); t.node("b");
//   t.link("a", "b");
//   t.up();
//   t.address("a", "b");    // "10.77.1.1": a's address on its link to b
//
// Addressing: the n-th link or bridge (from 1, in declaration order) is
// 10.77.n.0/24 and fd77:0:0:n::/64; members are .1, .2, ... in order (::1,
// ::2, ...). A node's interface toward peer P (node or bridge) is "to-P".
// There are no default routes and nothing is connected to the root namespace.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "harness/netns.hpp"

namespace mnigs::test {

class Topology {
 public:
  Topology() = default;
  // Removes everything up() created, even after a failed test.
  ~Topology();
  Topology(Topology&& other) noexcept;
  Topology& operator=(Topology&&) = delete;
  Topology(const Topology&) = delete;
  Topology& operator=(const Topology&) = delete;

  // Builds a topology from text, one statement a line, '#' starts a comment:
  //   node NAME...            link A B            bridge NAME MEMBER...
  static Topology parse(std::string_view text);

  // Declares a node; names match [a-z0-9-]{1,8} and are unique.
  Topology& node(const std::string& name);
  // Declares a point-to-point link between two declared nodes.
  Topology& link(const std::string& a, const std::string& b);
  // Declares a bridge (its own namespace) with one port per member node.
  Topology& bridge(const std::string& name, const std::vector<std::string>& members);

  // Creates all namespaces, links and addresses. Throws CommandError (naming
  // the command) on failure, after removing what was already created.
  void up();
  // Ends every process in the namespaces and deletes them. Idempotent.
  void down() noexcept;
  bool is_up() const { return up_; }

  // Namespace name of a node or bridge: "mn<pid>-<name>".
  std::string ns(const std::string& name) const;
  // Interface of `node` toward `peer` (a node it is linked to, or a bridge).
  std::string interface(const std::string& node, const std::string& peer) const;
  // IPv4 / IPv6 address (without prefix length) of `node` toward `peer`.
  std::string address(const std::string& node, const std::string& peer) const;
  std::string address6(const std::string& node, const std::string& peer) const;

  const std::vector<std::string>& nodes() const { return nodes_; }
  // Every namespace this topology owns (nodes first, then bridges).
  std::vector<std::string> namespaces() const;

  // Runs a command inside a node's (or bridge's) namespace.
  CommandResult exec(const std::string& name, const std::vector<std::string>& argv,
                     std::chrono::milliseconds timeout = 30s) const;

 private:
  struct Segment {
    int index;                         // n in 10.77.n.0/24
    std::string bridge;                // "" for a point-to-point link
    std::vector<std::string> members;  // host number = position + 1
  };

  bool declared(const std::string& name) const;
  const Segment& segment(const std::string& node, const std::string& peer, size_t& host) const;
  void build_link(const Segment& s);
  void build_bridge(const Segment& s);
  void add_addresses(const std::string& node, const std::string& ifname, const Segment& s,
                     size_t host);

  std::string prefix_ = ns_prefix();  // fixed at construction, see ns()
  std::vector<std::string> nodes_;
  std::vector<std::string> bridges_;
  std::vector<Segment> segments_;
  std::vector<std::string> created_;  // namespaces, in creation order
  bool up_ = false;
};

}  // namespace mnigs::test
