#include "olsrd2.hpp"

#include "fields.hpp"
#include "util/net.hpp"

#include <algorithm>
#include <array>

namespace mnigs::olsr::olsrd2 {

namespace {

enum class Section { none, neighbor, node, attached_network, edge, route };

struct Viewer {
  const char* command;  // telnet command
  const char* table;    // its subcommand
  Section section;
  const char* marker;  // a key that marks this table's head line
};

// In the order they are asked for.
constexpr std::array<Viewer, 5> kViewers{{
    {"nhdpinfo", "neighbor", Section::neighbor, "neighbor_originator"},
    {"olsrv2info", "node", Section::node, "node"},
    {"olsrv2info", "attached_network", Section::attached_network, "attached_net"},
    {"olsrv2info", "edge", Section::edge, "edge"},
    {"olsrv2info", "route", Section::route, "route_dst"},
}};

const char* section_name(Section s) {
  for (const auto& v : kViewers)
    if (v.section == s) return v.table;
  return "?";
}

// One data line, its fields looked up by key.
class Row {
 public:
  Row(const std::vector<std::string_view>& keys, std::vector<std::string_view> fields)
      : keys_(keys), fields_(std::move(fields)) {}
  // The field under `key`; "" when the head line has no such key.
  std::string_view operator[](std::string_view key) const {
    for (std::size_t i = 0; i < keys_.size() && i < fields_.size(); ++i)
      if (keys_[i] == key) return fields_[i];
    return {};
  }

 private:
  const std::vector<std::string_view>& keys_;
  std::vector<std::string_view> fields_;
};

// Reads one data line of `section` into `view`; returns a note when it
// could not be used, "" otherwise.
std::string read_row(Section section, const Row& row, View& view) {
  switch (section) {
    case Section::neighbor: {
      auto originator = row["neighbor_originator"];
      if (originator == "-") return "";  // its HELLOs have not named an originator yet
      auto a = canonical_address(originator);
      if (!a) return "neighbor_originator is not an IP address";
      if (row["neighbor_symmetric"] != "true") return "";
      auto& node = view.node(*a);
      node.neighbour = true;
      view.set_hops(*a, 1);
      if (auto partner = canonical_address(row["neighbor_dualstack"]))
        if (std::find(node.aliases.begin(), node.aliases.end(), *partner) == node.aliases.end())
          node.aliases.push_back(*partner);
      view.add_link("", *a, parse_count(row["domain_metric_out_raw"]).value_or(0));
      return "";
    }
    case Section::node: {
      auto a = canonical_address(row["node"]);
      if (!a) return "node is not an IP address";
      view.node(*a);
      return "";
    }
    case Section::attached_network: {
      auto a = canonical_address(row["node"]);
      if (!a) return "node is not an IP address";
      auto& node = view.node(*a);
      if (is_default_route(row["attached_net"])) node.gateway = true;
      return "";
    }
    case Section::edge: {
      auto from = canonical_address(row["node"]);
      auto to = canonical_address(row["edge"]);
      if (!from || !to) return "node or edge is not an IP address";
      view.node(*from);
      view.node(*to);
      view.add_link(*from, *to, parse_count(row["domain_metric_out_raw"]).value_or(0));
      return "";
    }
    case Section::route: {
      auto dst = row["route_dst"];
      if (dst.find('/') != std::string_view::npos) return "";  // a network, not a node
      auto a = canonical_address(dst);
      if (!a) return "route_dst is not an IP address or prefix";
      auto& node = view.node(*a);
      if (auto hops = parse_count(row["domain_path_hops"])) view.set_hops(*a, *hops);
      if (!row["route_if"].empty() && row["route_if"] != "-")
        node.zone = std::string(row["route_if"]);
      return "";
    }
    case Section::none:
      break;
  }
  return "is not part of any table";
}

// Data lines start with an address, a prefix (routes to networks) or "-"
// (unset); head lines and the daemon's messages start with a word.
bool is_data(std::string_view first) {
  return first == "-" || parse_prefix(first, nullptr, {.bare_address = true, .host_bits = true});
}

// The table whose head line this is, or none when it is not a head line.
// The node table's only mark is a first key "node", which the attached
// network and edge tables share, so it is tried last.
Section head_section(const std::vector<std::string_view>& fields) {
  for (const auto& v : kViewers)
    if (v.section != Section::node &&
        std::find(fields.begin(), fields.end(), std::string_view(v.marker)) != fields.end())
      return v.section;
  if (fields[0] == "node") return Section::node;
  return Section::none;
}

}  // namespace

std::string request() {
  std::string line;
  for (const auto& v : kViewers) {
    std::string viewer = std::string(v.command) + " ";
    line += "/" + viewer + "head " + v.table + "/" + viewer + v.table;
  }
  return line + "\n";
}

std::string parse(std::string_view reply, View& view) {
  Section section = Section::none;
  std::vector<std::string_view> keys;
  std::size_t number = 0, heads = 0;
  std::string first_message;
  while (!reply.empty()) {
    auto eol = reply.find('\n');
    auto line = reply.substr(0, eol);
    reply = eol == std::string_view::npos ? std::string_view() : reply.substr(eol + 1);
    ++number;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) continue;
    auto fields = split_tabs(line);
    if (!is_data(fields[0])) {
      // Not data: a head line, or a message from the daemon.
      section = head_section(fields);
      if (section != Section::none) {
        keys = std::move(fields);
        ++heads;
        continue;
      }
      if (first_message.empty()) first_message = std::string(line.substr(0, 120));
      view.skip("line " + std::to_string(number) + ": the daemon said \"" +
                std::string(line.substr(0, 120)) + "\"");
      continue;
    }
    if (section == Section::none) {
      view.skip("line " + std::to_string(number) + " comes before any head line");
      continue;
    }
    if (fields.size() != keys.size()) {
      view.skip(std::string(section_name(section)) + " line " + std::to_string(number) + " has " +
                std::to_string(fields.size()) + " fields, its head line " +
                std::to_string(keys.size()));
      continue;
    }
    std::string note = read_row(section, Row(keys, std::move(fields)), view);
    if (!note.empty())
      view.skip(std::string(section_name(section)) + " line " + std::to_string(number) + ": " +
                note);
  }
  if (heads == 0) {
    if (!first_message.empty()) return "the daemon answered \"" + first_message + "\"";
    return "the reply holds no nhdpinfo/olsrv2info table";
  }
  return "";
}

}  // namespace mnigs::olsr::olsrd2
