#include "harness/topology.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <iostream>
#include <sstream>
#include <stdexcept>
#include <utility>

#include "harness/reaper.hpp"

namespace mnigs::test {

namespace {

// One `ip` invocation; `ip -n NS` talks netlink inside NS without us having
// to enter it.
void ip(const std::vector<std::string>& args, const std::string& ns = "") {
  std::vector<std::string> argv{"ip"};
  if (!ns.empty()) argv.insert(argv.end(), {"-n", ns});
  argv.insert(argv.end(), args.begin(), args.end());
  run_checked(argv, "", 15s);
}

}  // namespace

Topology::Topology(Topology&& other) noexcept
    : prefix_(std::move(other.prefix_)),
      nodes_(std::move(other.nodes_)),
      bridges_(std::move(other.bridges_)),
      segments_(std::move(other.segments_)),
      created_(std::exchange(other.created_, {})),
      up_(std::exchange(other.up_, false)) {}

Topology::~Topology() { down(); }

Topology Topology::parse(std::string_view text) {
  Topology t;
  std::istringstream in{std::string(text)};
  int line_no = 0;
  for (std::string line; std::getline(in, line);) {
    ++line_no;
    line = line.substr(0, line.find('#'));
    std::istringstream words(line);
    std::vector<std::string> w;
    for (std::string word; words >> word;) w.push_back(word);
    if (w.empty()) continue;
    auto bad = [&](const std::string& why) {
      return std::invalid_argument("topology line " + std::to_string(line_no) + ": " + why);
    };
    if (w[0] == "node" && w.size() >= 2) {
      for (size_t i = 1; i < w.size(); ++i) t.node(w[i]);
    } else if (w[0] == "link" && w.size() == 3) {
      t.link(w[1], w[2]);
    } else if (w[0] == "bridge" && w.size() >= 3) {
      t.bridge(w[1], {w.begin() + 2, w.end()});
    } else {
      throw bad("expected \"node NAME...\", \"link A B\" or \"bridge NAME MEMBER...\"");
    }
  }
  return t;
}

bool Topology::declared(const std::string& name) const {
  return std::find(nodes_.begin(), nodes_.end(), name) != nodes_.end() ||
         std::find(bridges_.begin(), bridges_.end(), name) != bridges_.end();
}

Topology& Topology::node(const std::string& name) {
  validate_name(name);
  if (up_) throw std::logic_error("topology is already up");
  if (declared(name)) throw std::invalid_argument("\"" + name + "\" is declared twice");
  nodes_.push_back(name);
  return *this;
}

Topology& Topology::link(const std::string& a, const std::string& b) {
  if (up_) throw std::logic_error("topology is already up");
  for (const auto& n : {a, b})
    if (std::find(nodes_.begin(), nodes_.end(), n) == nodes_.end())
      throw std::invalid_argument("link " + a + " " + b + ": \"" + n + "\" is not a declared node");
  if (a == b) throw std::invalid_argument("link " + a + " " + b + ": a node cannot link to itself");
  for (const auto& s : segments_)
    if (s.bridge.empty() &&
        std::is_permutation(s.members.begin(), s.members.end(), std::vector{a, b}.begin()))
      throw std::invalid_argument("link " + a + " " + b + " is declared twice");
  if (segments_.size() >= 254) throw std::invalid_argument("at most 254 links and bridges");
  segments_.push_back({static_cast<int>(segments_.size()) + 1, "", {a, b}});
  return *this;
}

Topology& Topology::bridge(const std::string& name, const std::vector<std::string>& members) {
  validate_name(name);
  if (up_) throw std::logic_error("topology is already up");
  if (declared(name)) throw std::invalid_argument("\"" + name + "\" is declared twice");
  if (members.empty() || members.size() > 250)
    throw std::invalid_argument("bridge " + name + " needs 1..250 members");
  for (size_t i = 0; i < members.size(); ++i) {
    if (std::find(nodes_.begin(), nodes_.end(), members[i]) == nodes_.end())
      throw std::invalid_argument("bridge " + name + ": \"" + members[i] +
                                  "\" is not a declared node");
    if (std::find(members.begin(), members.begin() + static_cast<long>(i), members[i]) !=
        members.begin() + static_cast<long>(i))
      throw std::invalid_argument("bridge " + name + ": \"" + members[i] + "\" listed twice");
  }
  if (segments_.size() >= 254) throw std::invalid_argument("at most 254 links and bridges");
  bridges_.push_back(name);
  segments_.push_back({static_cast<int>(segments_.size()) + 1, name, members});
  return *this;
}

void Topology::up() {
  if (up_) throw std::logic_error("topology is already up");
  sweep_stale_namespaces();
  try {
    for (const auto& name : namespaces()) {
      // Registered before it exists: a kill between the two steps must not
      // leave a namespace nobody knows about.
      Reaper::instance().watch_namespace(name);
      created_.push_back(name);
      create_namespace(name);
      ip({"link", "set", "lo", "up"}, name);
    }
    for (const auto& s : segments_) s.bridge.empty() ? build_link(s) : build_bridge(s);
  } catch (...) {
    down();
    throw;
  }
  up_ = true;
}

void Topology::build_link(const Segment& s) {
  const auto& a = s.members[0];
  const auto& b = s.members[1];
  // Both ends are born inside their namespaces; neither ever exists in the
  // root namespace.
  ip({"link", "add", "to-" + b, "netns", ns(a), "type", "veth", "peer", "name", "to-" + a, "netns",
      ns(b)});
  add_addresses(a, "to-" + b, s, 1);
  add_addresses(b, "to-" + a, s, 2);
}

void Topology::build_bridge(const Segment& s) {
  const std::string br_ns = ns(s.bridge);
  // No multicast snooping: without a querier it can starve IPv6 neighbour
  // discovery between the members.
  ip({"link", "add", "br0", "type", "bridge", "mcast_snooping", "0"}, br_ns);
  ip({"link", "set", "br0", "up"}, br_ns);
  for (size_t i = 0; i < s.members.size(); ++i) {
    const auto& m = s.members[i];
    ip({"link", "add", "p-" + m, "netns", br_ns, "type", "veth", "peer", "name", "to-" + s.bridge,
        "netns", ns(m)});
    ip({"link", "set", "p-" + m, "master", "br0"}, br_ns);
    ip({"link", "set", "p-" + m, "up"}, br_ns);
    add_addresses(m, "to-" + s.bridge, s, i + 1);
  }
}

void Topology::add_addresses(const std::string& node, const std::string& ifname, const Segment& s,
                             size_t host) {
  const std::string v4 = "10.77." + std::to_string(s.index) + "." + std::to_string(host) + "/24";
  const std::string v6 =
      "fd77:0:0:" + std::to_string(s.index) + "::" + std::to_string(host) + "/64";
  ip({"addr", "add", v4, "dev", ifname}, ns(node));
  // nodad: usable at once, instead of after a second of duplicate detection.
  ip({"addr", "add", v6, "dev", ifname, "nodad"}, ns(node));
  ip({"link", "set", ifname, "up"}, ns(node));
}

void Topology::down() noexcept {
  std::string errors;
  while (!created_.empty()) {
    const std::string name = created_.back();
    created_.pop_back();
    if (auto err = destroy_namespace(name); !err.empty())
      errors += err + "\n";
    else
      Reaper::instance().forget_namespace(name);
  }
  up_ = false;
  if (!errors.empty()) {
    // Whatever is left stays registered with the reaper, which retries at exit.
    std::cerr << "[harness] teardown problems:\n" << errors;
    ADD_FAILURE() << "topology teardown left something behind:\n" << errors;
  }
}

std::string Topology::ns(const std::string& name) const {
  if (!declared(name)) throw std::invalid_argument("\"" + name + "\" is not in the topology");
  return prefix_ + name;
}

std::vector<std::string> Topology::namespaces() const {
  std::vector<std::string> out;
  for (const auto& n : nodes_) out.push_back(prefix_ + n);
  for (const auto& b : bridges_) out.push_back(prefix_ + b);
  return out;
}

const Topology::Segment& Topology::segment(const std::string& node, const std::string& peer,
                                           size_t& host) const {
  for (const auto& s : segments_) {
    auto it = std::find(s.members.begin(), s.members.end(), node);
    if (it == s.members.end()) continue;
    bool match =
        s.bridge.empty()
            ? std::find(s.members.begin(), s.members.end(), peer) != s.members.end() && peer != node
            : s.bridge == peer;
    if (!match) continue;
    host = static_cast<size_t>(it - s.members.begin()) + 1;
    return s;
  }
  throw std::invalid_argument("\"" + node + "\" has no link to \"" + peer + "\"");
}

std::string Topology::interface(const std::string& node, const std::string& peer) const {
  size_t host = 0;
  segment(node, peer, host);
  return "to-" + peer;
}

std::string Topology::address(const std::string& node, const std::string& peer) const {
  size_t host = 0;
  const auto& s = segment(node, peer, host);
  return "10.77." + std::to_string(s.index) + "." + std::to_string(host);
}

std::string Topology::address6(const std::string& node, const std::string& peer) const {
  size_t host = 0;
  const auto& s = segment(node, peer, host);
  return "fd77:0:0:" + std::to_string(s.index) + "::" + std::to_string(host);
}

CommandResult Topology::exec(const std::string& name, const std::vector<std::string>& argv,
                             std::chrono::milliseconds timeout) const {
  return run_command(argv, ns(name), timeout);
}

}  // namespace mnigs::test
