#include "txtinfo.hpp"

#include <cmath>
#include <cstdlib>
#include <limits>

#include "fields.hpp"
#include "http_reply.hpp"
#include "util/net.hpp"

namespace mnigs::olsr::txtinfo {

namespace {

constexpr double kCostPerEtx = 1024.0;  // olsrd's link cost for ETX 1.0

// "10.0.0.0/24" or "fd00::/64", as olsrd prints destinations.
std::optional<Prefix> parse_destination(std::string_view text) {
  return parse_prefix(text, nullptr, {.bare_address = false, .host_bits = true});
}

// ETX text ("1.000") in olsrd's internal unit; "INFINITE" saturates.
std::uint32_t parse_cost(std::string_view text) {
  std::string t(text);
  char* end = nullptr;
  double etx = std::strtod(t.c_str(), &end);
  if (end == t.c_str() || *end != '\0' || !(etx >= 0))
    return std::numeric_limits<std::uint32_t>::max();
  double c = etx * kCostPerEtx;
  if (c >= std::numeric_limits<std::uint32_t>::max())
    return std::numeric_limits<std::uint32_t>::max();
  return static_cast<std::uint32_t>(std::lround(c));
}

// One table: its name, column titles and rows, with line numbers for notes.
struct Table {
  std::string name;
  std::vector<std::string_view> columns;
  std::vector<std::pair<std::size_t, std::string_view>> rows;  // (line number, text)
};

std::size_t column(const Table& t, std::string_view title, std::size_t fallback) {
  for (std::size_t i = 0; i < t.columns.size(); ++i)
    if (t.columns[i] == title) return i;
  return fallback;
}

std::string where(const Table& t, std::size_t line) {
  return t.name + " row on line " + std::to_string(line);
}

void read_neighbors(const Table& t, View& view) {
  for (auto [line, text] : t.rows) {
    auto f = split_tabs(text);
    auto a = canonical_address(f[0]);
    if (!a || f.size() < 2) {
      view.skip(where(t, line) + ": not \"address<TAB>SYM...\"");
      continue;
    }
    if (f[1] != "YES") continue;  // asymmetric: heard, not yet reachable
    view.node(*a).neighbour = true;
    view.set_hops(*a, 1);
    view.add_link("", *a, 0);
  }
}

void read_routes(const Table& t, View& view) {
  std::size_t metric_col = column(t, "Metric", 2), if_col = column(t, "Interface", 4);
  for (auto [line, text] : t.rows) {
    auto f = split_tabs(text);
    auto dst = parse_destination(f[0]);
    if (!dst || f.size() <= metric_col) {
      view.skip(where(t, line) + ": not \"prefix<TAB>gateway<TAB>metric...\"");
      continue;
    }
    if (dst->length != (dst->network.is_v6() ? 128u : 32u)) continue;  // a network, not a node
    const std::string address = dst->network.to_string();
    auto& node = view.node(address);
    if (auto hops = parse_count(f[metric_col])) view.set_hops(address, *hops);
    if (f.size() > if_col && !f[if_col].empty()) node.zone = std::string(f[if_col]);
  }
}

void read_hna(const Table& t, View& view) {
  for (auto [line, text] : t.rows) {
    auto f = split_tabs(text);
    auto dst = f.size() >= 2 ? parse_destination(f[0]) : std::nullopt;
    auto gw = f.size() >= 2 ? canonical_address(f[1]) : std::nullopt;
    if (!dst || !gw) {
      view.skip(where(t, line) + ": not \"prefix<TAB>gateway\"");
      continue;
    }
    auto& node = view.node(*gw);
    if (dst->length == 0) node.gateway = true;
  }
}

void read_topology(const Table& t, View& view) {
  std::size_t cost_col = column(t, "Cost", 4);
  for (auto [line, text] : t.rows) {
    auto f = split_tabs(text);
    auto to = canonical_address(f[0]);
    auto from = f.size() >= 2 ? canonical_address(f[1]) : std::nullopt;
    if (!to || !from) {
      view.skip(where(t, line) + ": not \"destination<TAB>last hop...\"");
      continue;
    }
    view.node(*from);
    view.node(*to);
    view.add_link(*from, *to, f.size() > cost_col ? parse_cost(f[cost_col]) : 0);
  }
}

// Splits the body into tables; stray lines outside a table are noted.
std::vector<Table> tables(std::string_view body, View& view) {
  std::vector<Table> out;
  Table* current = nullptr;
  bool want_columns = false;
  std::size_t number = 0;
  while (!body.empty()) {
    auto eol = body.find('\n');
    auto line = body.substr(0, eol);
    body = eol == std::string_view::npos ? std::string_view() : body.substr(eol + 1);
    ++number;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.substr(0, 7) == "Table: ") {
      out.push_back(Table{std::string(line.substr(7)), {}, {}});
      current = &out.back();
      want_columns = true;
    } else if (line.empty()) {
      current = nullptr;
    } else if (current && want_columns) {
      current->columns = split_tabs(line);
      want_columns = false;
    } else if (current) {
      current->rows.emplace_back(number, line);
    } else {
      view.skip("line " + std::to_string(number) + " is outside any table");
    }
  }
  return out;
}

}  // namespace

std::string request() { return "GET /all HTTP/1.0\r\n\r\n"; }

std::string parse(std::string_view reply, View& view) {
  HttpReply http = split_http(reply);
  if (!http.error.empty()) return http.error;
  if (http.has_header && http.status == 204) return "";
  if (http.has_header && http.status != 200)
    return "the daemon answered HTTP " + std::to_string(http.status) +
           (http.reason.empty() ? "" : " " + http.reason);
  if (http.body.substr(0, 7) == "error: ")
    return "the daemon answered \"" + std::string(http.body.substr(7, http.body.find('\n') - 7)) +
           "\"";

  auto all = tables(http.body, view);
  bool known = false;
  for (const auto& t : all) {
    if (t.name == "Neighbors")
      read_neighbors(t, view);
    else if (t.name == "Routes")
      read_routes(t, view);
    else if (t.name == "HNA")
      read_hna(t, view);
    else if (t.name == "Topology")
      read_topology(t, view);
    else
      continue;
    known = true;
  }
  // A reply without any of these tables did not come from txtinfo (or was cut
  // off before the first one): nothing in it can be trusted.
  if (!known) return "the reply holds no txtinfo table (Neighbors, Routes, HNA, Topology)";
  return "";
}

}  // namespace mnigs::olsr::txtinfo
