#include "masquerade.hpp"

namespace mnigs::tunnels {

std::string uplink_match(const std::string& uplink, const std::string& devices) {
  return uplink.empty() ? "oifname != " + devices : "oifname \"" + uplink + "\"";
}

std::string masquerade_chain(const std::string& pool4, const std::string& pool6,
                             const std::string& out) {
  std::string s = "  chain postrouting {\n    type nat hook postrouting priority srcnat; policy "
                  "accept;\n";
  if (!pool4.empty()) s += "    ip saddr " + pool4 + " " + out + " masquerade\n";
  if (!pool6.empty()) s += "    ip6 saddr " + pool6 + " " + out + " masquerade\n";
  s += "  }\n";
  return s;
}

std::string masquerade_table(const std::string& table, const std::string& pool4,
                             const std::string& pool6, const std::string& out) {
  // add (so that delete cannot fail), delete, define: one transaction.
  return "add table inet " + table + "\ndelete table inet " + table + "\ntable inet " + table +
         " {\n" + masquerade_chain(pool4, pool6, out) + "}\n";
}

}  // namespace mnigs::tunnels
