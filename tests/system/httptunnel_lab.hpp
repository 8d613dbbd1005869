// Helpers shared by the httptunnel system tests (19_httptunnel_*, 20_...):
// the plugin's status, a node that takes no connection from outside, and
// curl from a namespace of the test.
#pragma once

#include <json/json.h>

#include <string>
#include <vector>

#include "harness/system_test.hpp"

namespace mnigs::test::httptunnel {

// The httptunnel plugin's status in listPlugins; null when the daemon does
// not answer.
inline Json::Value status(const Node& n) {
  Json::Value r = n.rpc("listPlugins");
  if (!rpc_succeeded(r)) return Json::Value();
  for (const auto& p : r["result"]["plugins"])
    if (p["name"].asString() == "httptunnel") return p["status"];
  return Json::Value();
}

// The node has `count` links, all up.
inline bool links_up(const Node& n, unsigned count) {
  const Json::Value links = status(n)["node"]["links"];
  if (links.size() != count) return false;
  for (const auto& l : links)
    if (l["state"].asString() != "up") return false;
  return true;
}

// The node's link to `gateway` ("ADDRESS:PORT") as its status shows it;
// null if it has none.
inline Json::Value link(const Node& n, const std::string& gateway) {
  const Json::Value s = status(n);  // a range-for would not keep a temporary alive
  for (const auto& l : s["node"]["links"])
    if (l["gateway"].asString() == gateway) return l;
  return Json::Value();
}

// Nothing reaches `node` that it did not ask for: only its own connections
// (and loopback) pass its input hook, so the only way in is a link it opened.
inline void hide(const Topology& t, const std::string& node) {
  for (const std::vector<std::string>& argv :
       {std::vector<std::string>{"nft", "add", "table", "inet", "hidden"},
        {"nft", "add", "chain", "inet", "hidden", "input",
         "{ type filter hook input priority 0; policy accept; }"},
        {"nft", "add", "rule", "inet", "hidden", "input", "iif", "lo", "accept"},
        {"nft", "add", "rule", "inet", "hidden", "input", "ct", "state", "new", "drop"}}) {
    auto r = t.exec(node, argv, 10s);
    if (r.exit_code != 0) throw CommandError(argv, r);
  }
}

// curl from `from`'s namespace, 20 s at most: "<body>\n<status>" (status
// 000 when no answer came).
inline std::string curl(const Topology& t, const std::string& from,
                        const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"curl", "-s", "-m", "20", "-w", "\n%{http_code}"};
  argv.insert(argv.end(), args.begin(), args.end());
  return t.exec(from, argv, 30s).out;
}

}  // namespace mnigs::test::httptunnel
