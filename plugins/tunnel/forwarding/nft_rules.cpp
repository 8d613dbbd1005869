#include "nft_rules.hpp"

#include <set>
#include <sstream>

namespace mnigs::forwarding {

namespace {

// "elements = { a, b }" inside a set block; nothing for an empty set, which
// nft refuses to declare with an empty list.
void write_elements(std::ostream& out, const std::vector<std::string>& addresses) {
  // Sorted and unique: two sessions of one subscriber share an element, and
  // a stable order keeps the script comparable between runs.
  std::set<std::string> unique(addresses.begin(), addresses.end());
  if (unique.empty()) return;
  out << "    elements = { ";
  bool first = true;
  for (const auto& a : unique) {
    out << (first ? "" : ", ") << a;
    first = false;
  }
  out << " }\n";
}

Command nft(std::vector<std::string> args, bool removal = false) {
  Command c;
  c.argv.push_back("nft");
  for (auto& a : args) c.argv.push_back(std::move(a));
  c.removal = removal;
  return c;
}

}  // namespace

const char* set_name(Family family) {
  return family == Family::v4 ? "subscribers4" : "subscribers6";
}

std::string table_script(const TableSpec& spec) {
  const std::string table = std::string(kNftFamily) + " " + kNftTable;
  const std::string out_uplink = "oifname \"" + spec.uplink + "\"";
  std::ostringstream s;
  // Declaring the table first makes the delete valid when it does not exist
  // yet; the three statements commit as one transaction.
  s << "table " << table << "\n";
  s << "delete table " << table << "\n";
  s << "table " << table << " {\n";
  s << "  set subscribers4 {\n    type ipv4_addr\n";
  write_elements(s, spec.subscribers4);
  s << "  }\n";
  s << "  set subscribers6 {\n    type ipv6_addr\n";
  write_elements(s, spec.subscribers6);
  s << "  }\n";
  // Priority filter with policy accept: this chain only decides about the
  // uplink and leaves every other forwarded packet to the host's own rules.
  s << "  chain forward {\n";
  s << "    type filter hook forward priority filter; policy accept;\n";
  s << "    " << out_uplink << " ip saddr @subscribers4 counter accept\n";
  s << "    " << out_uplink << " ip6 saddr @subscribers6 counter accept\n";
  s << "    iifname \"" << spec.uplink << "\" ct state established,related accept\n";
  if (spec.restrict) s << "    " << out_uplink << " drop\n";
  s << "  }\n";
  // Subscribers keep their mesh addresses; the Internet sees the uplink's.
  s << "  chain postrouting {\n";
  s << "    type nat hook postrouting priority srcnat; policy accept;\n";
  s << "    " << out_uplink << " ip saddr @subscribers4 masquerade\n";
  s << "    " << out_uplink << " ip6 saddr @subscribers6 masquerade\n";
  s << "  }\n";
  s << "}\n";
  return s.str();
}

Command apply_table(const TableSpec& spec) {
  Command c = nft({"-f", "-"});
  c.input = table_script(spec);
  return c;
}

Command add_element(const Address& subscriber) {
  return nft({"add", "element", kNftFamily, kNftTable, set_name(subscriber.family), "{",
              subscriber.text, "}"});
}

Command delete_element(const Address& subscriber) {
  return nft({"delete", "element", kNftFamily, kNftTable, set_name(subscriber.family), "{",
              subscriber.text, "}"},
             true);
}

Command delete_table() { return nft({"delete", "table", kNftFamily, kNftTable}, true); }

const char* forwarding_sysctl(Family family) {
  return family == Family::v4 ? "net.ipv4.ip_forward" : "net.ipv6.conf.all.forwarding";
}

}  // namespace mnigs::forwarding
