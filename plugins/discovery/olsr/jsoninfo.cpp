#include "jsoninfo.hpp"

#include <json/reader.h>
#include <json/value.h>

#include <cmath>
#include <limits>
#include <memory>

#include "http_reply.hpp"

namespace mnigs::olsr::jsoninfo {

namespace {

// olsrd's link cost for ETX 1.0 (LQ_PLUGIN_LC_MULTIPLIER): costs are kept in
// this unit so that both jsoninfo generations report the same numbers.
constexpr double kCostPerEtx = 1024.0;

std::string entry_name(const char* table, Json::ArrayIndex i) {
  return std::string(table) + " entry " + std::to_string(i + 1);
}

// The address in member `key`, or nullopt (and a note in `why`).
std::optional<std::string> address_member(const Json::Value& entry, const char* key,
                                          std::string& why) {
  const Json::Value& v = entry[key];
  if (!v.isString()) {
    why = std::string("has no \"") + key + "\" string";
    return std::nullopt;
  }
  auto a = canonical_address(v.asString());
  if (!a) why = std::string("\"") + key + "\" is not an IP address";
  return a;
}

// A non-negative integer member, or nullopt.
std::optional<std::uint32_t> count_member(const Json::Value& entry, const char* key) {
  const Json::Value& v = entry[key];
  if (!v.isNumeric()) return std::nullopt;
  double d = v.asDouble();
  if (!(d >= 0) || d > std::numeric_limits<std::uint32_t>::max()) return std::nullopt;
  return static_cast<std::uint32_t>(d);
}

// tcEdgeCost in olsrd's internal unit: 0.9 prints a float ETX, 0.6 the raw
// integer cost.
std::uint32_t edge_cost(const Json::Value& v) {
  if (v.type() == Json::realValue) {
    double c = v.asDouble() * kCostPerEtx;
    if (!(c >= 0)) return 0;
    if (c >= std::numeric_limits<std::uint32_t>::max())
      return std::numeric_limits<std::uint32_t>::max();
    return static_cast<std::uint32_t>(std::lround(c));
  }
  if (v.isUInt()) return v.asUInt();
  return 0;
}

// Calls `each(entry, index)` for every element of array `table`, noting
// elements that are not objects. A missing table is fine (a daemon without
// HNA, say); one that is not an array is a skipped entry of its own.
// jsoncpp's messages span lines ("* Line 1, Column 9\n  Syntax error...").
std::string one_line(const std::string& text) {
  std::string out;
  for (char c : text) {
    bool space = c == '\n' || c == '\r' || c == '\t' || c == ' ';
    if (space && (out.empty() || out.back() == ' ')) continue;
    out += space ? ' ' : c;
    if (out.size() >= 160) break;
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

template <class Each>
void for_each_entry(const Json::Value& root, const char* table, View& view, Each each) {
  const Json::Value& list = root[table];
  if (list.isNull()) return;
  if (!list.isArray()) {
    view.skip(std::string("\"") + table + "\" is not an array");
    return;
  }
  for (Json::ArrayIndex i = 0; i < list.size(); ++i) {
    if (!list[i].isObject()) {
      view.skip(entry_name(table, i) + " is not an object");
      continue;
    }
    each(list[i], i);
  }
}

void read_neighbors(const Json::Value& root, View& view) {
  for_each_entry(root, "neighbors", view, [&](const Json::Value& e, Json::ArrayIndex i) {
    std::string why;
    // olsrd 0.6 called the field ipv4Address (for IPv6 too).
    auto a = address_member(e, e.isMember("ipAddress") ? "ipAddress" : "ipv4Address", why);
    if (!a) return view.skip(entry_name("neighbors", i) + " " + why);
    // An asymmetric neighbour is heard but cannot be reached yet.
    if (e.isMember("symmetric") && !e["symmetric"].isBool())
      return view.skip(entry_name("neighbors", i) +
                       " has a \"symmetric\" that is not true or false");
    if (e.isMember("symmetric") && !e["symmetric"].asBool()) return;
    view.node(*a).neighbour = true;
    view.set_hops(*a, 1);
    view.add_link("", *a, 0);
  });
}

void read_routes(const Json::Value& root, View& view) {
  for_each_entry(root, "routes", view, [&](const Json::Value& e, Json::ArrayIndex i) {
    std::string why;
    auto dst = address_member(e, "destination", why);
    auto len = count_member(e, "genmask");
    if (!dst || !len)
      return view.skip(entry_name("routes", i) + " " + (dst ? "has no genmask" : why));
    // Host routes go to nodes; the others are networks announced by HNA.
    bool v6 = dst->find(':') != std::string::npos;
    if (*len != (v6 ? 128u : 32u)) return;
    auto& node = view.node(*dst);
    if (auto hops = count_member(e, "metric")) view.set_hops(*dst, *hops);
    if (e["networkInterface"].isString()) node.zone = e["networkInterface"].asString();
  });
}

void read_hna(const Json::Value& root, View& view) {
  for_each_entry(root, "hna", view, [&](const Json::Value& e, Json::ArrayIndex i) {
    std::string why;
    auto gw = address_member(e, "gateway", why);
    if (!gw) return view.skip(entry_name("hna", i) + " " + why);
    const Json::Value& dst = e["destination"];
    auto len = count_member(e, "genmask");
    if (!dst.isString() || !len || !canonical_address(dst.asString()))
      return view.skip(entry_name("hna", i) + " has no valid destination/genmask");
    auto& node = view.node(*gw);
    if (is_default_route(dst.asString(), static_cast<int>(*len))) node.gateway = true;
  });
}

void read_topology(const Json::Value& root, View& view) {
  for_each_entry(root, "topology", view, [&](const Json::Value& e, Json::ArrayIndex i) {
    std::string why;
    auto from = address_member(e, "lastHopIP", why);
    auto to = from ? address_member(e, "destinationIP", why) : std::nullopt;
    if (!from || !to) return view.skip(entry_name("topology", i) + " " + why);
    view.node(*from);
    view.node(*to);
    view.add_link(*from, *to, edge_cost(e["tcEdgeCost"]));
  });
}

}  // namespace

std::string request() { return "GET /neighbors/routes/hna/topology HTTP/1.0\r\n\r\n"; }

std::string parse(std::string_view reply, View& view) {
  HttpReply http = split_http(reply);
  if (!http.error.empty()) return http.error;
  // 204: olsrd had nothing to say (no tables at all).
  if (http.has_header && http.status == 204) return "";
  if (http.has_header && http.status != 200)
    return "the daemon answered HTTP " + std::to_string(http.status) +
           (http.reason.empty() ? "" : " " + http.reason);

  Json::CharReaderBuilder builder;
  builder["collectComments"] = false;
  builder["failIfExtra"] = true;
  builder["rejectDupKeys"] = false;
  std::unique_ptr<Json::CharReader> reader(builder.newCharReader());
  Json::Value root;
  std::string errors;
  const char* begin = http.body.data();
  try {
    if (!reader->parse(begin, begin + http.body.size(), &root, &errors))
      return "the reply is not valid JSON (" + one_line(errors) + ")";
  } catch (const Json::Exception&) {  // jsoncpp throws past its stack limit
    return "the reply is not valid JSON (nested too deeply)";
  }
  if (!root.isObject()) return "the reply is JSON but not an object";
  if (root["error"].isString()) return "the daemon answered \"" + root["error"].asString() + "\"";

  read_neighbors(root, view);
  read_routes(root, view);
  read_hna(root, view);
  read_topology(root, view);
  return "";
}

}  // namespace mnigs::olsr::jsoninfo
