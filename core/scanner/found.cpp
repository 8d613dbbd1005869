#include "scanner/found.hpp"

#include "store/sqlite.hpp"
#include "util/json_text.hpp"

#include <algorithm>

namespace mnigs::scan {

namespace {

// A string of at most `max` bytes without control characters: names and
// suites end up in listNodes, the web UI and mnigs-cli's terminal, where an
// escape sequence from a hostile node must not arrive.
bool short_string(const Json::Value& v, std::size_t max) {
  if (!v.isString() || v.asString().size() > max) return false;
  for (unsigned char c : v.asString())
    if (c < 0x20 || c == 0x7f) return false;
  return true;
}

// Node ids are letters, digits, '-' and '_' (mnigsd's are 32 hex digits).
bool node_id(const Json::Value& v) {
  if (!short_string(v, 128) || v.asString().empty()) return false;
  for (char c : v.asString())
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
          c == '-' || c == '_'))
      return false;
  return true;
}

template <class List>
Json::Value strings(const List& list) {
  Json::Value out(Json::arrayValue);
  for (const auto& s : list) out.append(s);
  return out;
}

}  // namespace

std::string check_node_info(const Json::Value& info) {
  if (!info.isObject()) return "nodeInfo is not an object";
  if (!node_id(info["id"])) return "nodeInfo has no id";
  if (!short_string(info["name"], 256)) return "nodeInfo has no name";
  if (!info["gateway"].isBool()) return "nodeInfo has no gateway flag";
  if (!info["suites"].isArray() || info["suites"].size() > 1024) return "nodeInfo has no suites";
  for (const auto& s : info["suites"])
    if (!short_string(s, 128)) return "nodeInfo has a suite that is not a short string";
  if (info.isMember("payments") && !info["payments"].isObject())
    return "nodeInfo payments is not an object";
  return "";
}

void merge_reply(Found& f, bool fresh, const Target& t, const std::string& address,
                 const Json::Value& info, std::int64_t rtt_ms) {
  if (fresh) {
    f.id = info["id"].asString();
    f.name = info["name"].asString();
    f.address = address;
    f.port = t.port;
    f.gateway = info["gateway"].asBool();
    f.info = info;
    f.rtt_ms = rtt_ms;
  }
  for (const auto& a : t.addresses)
    if (std::find(f.addresses.begin(), f.addresses.end(), a) == f.addresses.end())
      f.addresses.push_back(a);
  f.networks.insert(t.networks.begin(), t.networks.end());
  for (const auto& [n, mid] : t.mesh_ids) f.mesh_ids[n] = mid;
}

Json::Value node_event(const Found& f, std::uint64_t scan) {
  Json::Value e(Json::objectValue);
  e["scan"] = static_cast<Json::UInt64>(scan);
  e["id"] = f.id;
  e["name"] = f.name;
  e["address"] = f.address;
  e["port"] = f.port;
  e["gateway"] = f.gateway;
  return e;
}

void store_found(sqlite3* db, const std::vector<Found>& nodes, std::int64_t seen,
                 std::uint64_t scan) {
  Statement node(db,
                 "INSERT INTO nodes (id, name, address, port, addresses, networks, mesh_ids, "
                 "gateway, info, rtt_ms, first_seen, last_seen, last_scan) "
                 "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?11, ?12) "
                 "ON CONFLICT(id) DO UPDATE SET name = ?2, address = ?3, port = ?4, "
                 "addresses = ?5, networks = ?6, mesh_ids = ?7, gateway = ?8, info = ?9, "
                 "rtt_ms = ?10, last_seen = ?11, last_scan = ?12");
  for (const auto& f : nodes) {
    Json::Value ids(Json::objectValue);
    for (const auto& [n, mid] : f.mesh_ids) ids[n] = mid;
    node.reset();
    node.bind_text(1, f.id)
        .bind_text(2, f.name)
        .bind_text(3, f.address)
        .bind_int64(4, f.port)
        .bind_text(5, to_json_text(strings(f.addresses)))
        .bind_text(6, to_json_text(strings(f.networks)))
        .bind_text(7, to_json_text(ids))
        .bind_int64(8, f.gateway)
        .bind_text(9, to_json_text(f.info))
        .bind_int64(10, f.rtt_ms)
        .bind_int64(11, seen)
        .bind_int64(12, static_cast<std::int64_t>(scan));
    node.step();
  }
}

}  // namespace mnigs::scan
