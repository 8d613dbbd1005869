#include "gateways/gateway_list.hpp"

#include "dht/offer.hpp"
#include "store/sqlite.hpp"
#include "store/store.hpp"
#include "util/json_text.hpp"

#include <algorithm>
#include <chrono>

namespace mnigs {

namespace {

// Adds the offers heard in the DHT to a gateway list read from scans: a
// gateway known both ways becomes "scan+dht" (and as fresh as the newer of
// the two), one known only from the DHT is added with what its offer says.
void merge_dht_offers(sqlite3* db, std::int64_t now, Json::Value& list) {
  Statement st(db, "SELECT offer, received FROM dht_offers WHERE expires > ? ORDER BY node_id");
  st.bind_int64(1, now);
  while (st.step()) {
    Json::Value o = from_json_text(st.column_text(0));
    const std::int64_t age = std::max<std::int64_t>(0, now - st.column_int64(1));
    const std::string id = o["id"].asString();
    bool merged = false;
    for (auto& g : list) {
      if (id.empty() || g["dhtId"].asString() != id) continue;
      g["source"] = "scan+dht";
      g["age"] = std::min<Json::Int64>(g["age"].asInt64(), age);
      g["capacity"]["sessions"] = o["sessions"];
      // What the signed offer announces wins over the unsigned nodeInfo.
      if (o["services"].isObject()) g["services"] = o["services"];
      merged = true;
    }
    if (merged) continue;
    Json::Value g(Json::objectValue);
    g["id"] = "";
    g["dhtId"] = id;
    g["name"] = o["name"];
    g["addresses"] = o["addresses"];
    g["address"] = o["addresses"].size() ? o["addresses"][0] : Json::Value("");
    g["port"] = o["rpcPort"];
    g["suites"] = o["suites"];
    g["gateway"] = true;
    g["price"] = o["price"];
    g["currency"] = o["currency"];
    g["paymentRequired"] = o["paymentRequired"].isBool() && o["paymentRequired"].asBool();
    if (o["pricePerGB"].isNumeric()) g["pricePerGB"] = o["pricePerGB"];
    if (o["voucherOnly"].isBool()) g["voucherOnly"] = o["voucherOnly"];
    Json::Value capacity(Json::objectValue);
    capacity["maxConnections"] = o["maxConnections"];
    capacity["sessions"] = o["sessions"];
    g["capacity"] = capacity;
    g["ipv6support"] = o["ipv6"];
    g["services"] = o["services"].isObject() ? o["services"] : Json::Value(Json::objectValue);
    g["expires"] = o["expires"];
    g["lastSeen"] = static_cast<Json::Int64>(st.column_int64(1));
    g["age"] = static_cast<Json::Int64>(age);
    g["current"] = true;
    g["source"] = "dht";
    list.append(g);
  }
}

Json::Value read_links(sqlite3* db) {
  Statement ls(db, "SELECT network, from_node, to_node, cost, last_seen FROM links "
                   "ORDER BY network, from_node, to_node");
  Json::Value links(Json::arrayValue);
  while (ls.step()) {
    Json::Value l(Json::objectValue);
    l["network"] = ls.column_text(0);
    l["from"] = ls.column_text(1);
    l["to"] = ls.column_text(2);
    l["cost"] = static_cast<Json::Int64>(ls.column_int64(3));
    l["lastSeen"] = static_cast<Json::Int64>(ls.column_int64(4));
    links.append(l);
  }
  return links;
}

}  // namespace

bool only_paid_access(const Json::Value& terms) {
  if (!terms.isObject() || terms.empty()) return false;
  for (const auto& method : terms.getMemberNames())
    if (!terms[method].isObject() || !terms[method]["charges"].isBool() ||
        !terms[method]["charges"].asBool())
      return false;
  return true;
}

std::optional<Price> cheapest_price(const Json::Value& terms) {
  if (!terms.isObject()) return std::nullopt;
  std::optional<Price> best;
  for (const auto& method : terms.getMemberNames()) {
    const Json::Value& t = terms[method];
    if (!t.isObject() || !t["price"].isNumeric()) continue;
    if (!best || t["price"].asDouble() < best->price.asDouble())
      best = Price{t["price"], t["currency"].isString() ? t["currency"].asString() : ""};
  }
  return best;
}

Json::Value read_node_list(sqlite3* db, std::int64_t now, bool gateways_only) {
  Statement latest(db, "SELECT COALESCE(MAX(id), 0) FROM scans");
  latest.step();
  const std::int64_t latest_scan = latest.column_int64(0);
  Statement st(db, std::string("SELECT id, name, address, port, addresses, networks, "
                               "mesh_ids, gateway, info, rtt_ms, first_seen, last_seen, "
                               "last_scan FROM nodes") +
                       (gateways_only ? " WHERE gateway = 1" : "") + " ORDER BY name, id");
  Json::Value list(Json::arrayValue);
  while (st.step()) {
    Json::Value n(Json::objectValue);
    Json::Value info = from_json_text(st.column_text(8));
    n["id"] = st.column_text(0);
    n["name"] = st.column_text(1);
    n["address"] = st.column_text(2);
    n["port"] = static_cast<Json::Int64>(st.column_int64(3));
    n["addresses"] = from_json_text(st.column_text(4));
    n["networks"] = from_json_text(st.column_text(5));
    n["meshIds"] = from_json_text(st.column_text(6));
    n["gateway"] = st.column_int64(7) != 0;
    n["suites"] = info["suites"].isArray() ? info["suites"] : Json::Value(Json::arrayValue);
    n["version"] = info["version"].isString() ? info["version"] : Json::Value("");
    n["ipv6support"] = info["ipv6support"].isBool() && info["ipv6support"].asBool();
    n["rtt"] = static_cast<Json::Int64>(st.column_int64(9));
    n["firstSeen"] = static_cast<Json::Int64>(st.column_int64(10));
    n["lastSeen"] = static_cast<Json::Int64>(st.column_int64(11));
    // Reached by the latest scan, or only remembered from an earlier one.
    n["current"] = st.column_int64(12) == latest_scan;
    n["source"] = "scan";
    n["age"] = static_cast<Json::Int64>(std::max<std::int64_t>(0, now - st.column_int64(11)));
    n["dhtId"] = info["dht"]["id"].isString() ? info["dht"]["id"] : Json::Value("");
    if (n["gateway"].asBool()) {
      n["price"] = Json::Value();
      n["currency"] = "";
      if (auto cheapest = cheapest_price(info["payments"])) {
        n["price"] = cheapest->price;
        n["currency"] = cheapest->currency;
      }
      n["payments"] =
          info["payments"].isObject() ? info["payments"] : Json::Value(Json::objectValue);
      n["paymentRequired"] = only_paid_access(info["payments"]);
      if (info["capacity"].isObject()) n["capacity"] = info["capacity"];
      // The services it announces beside its suites, as an offer allows them.
      auto services = services_from_json(info["services"], "services", nullptr);
      n["services"] = services ? services_to_json(*services) : Json::Value(Json::objectValue);
    }
    list.append(n);
  }
  if (gateways_only) {
    merge_dht_offers(db, now, list);
    // The last testGateway result of each, and its score (lower is better).
    Statement last(db,
                   "SELECT result FROM gateway_tests WHERE address = ? ORDER BY time DESC, id DESC "
                   "LIMIT 1");
    for (auto& g : list) {
      last.reset();
      last.bind_text(1, g["address"].asString());
      if (!last.step()) continue;
      Json::Value test = from_json_text(last.column_text(0));
      g["lastTest"] = test;
      if (test["score"].isNumeric()) g["score"] = test["score"];
    }
  }
  Json::Value r(Json::objectValue);
  r[gateways_only ? "gateways" : "nodes"] = list;
  if (!gateways_only) r["links"] = read_links(db);
  return r;
}

Json::Value read_dht_offer(sqlite3* db, const std::string& node_id, std::int64_t now) {
  Statement st(db, "SELECT offer FROM dht_offers WHERE node_id = ? AND expires > ?");
  st.bind_text(1, node_id).bind_int64(2, now);
  return st.step() ? from_json_text(st.column_text(0)) : Json::Value();
}

GatewayList::GatewayList(Store& store, boost::asio::any_io_executor ex)
    : store_(store), ex_(std::move(ex)) {}

void GatewayList::list(bool gateways_only, std::function<void(Json::Value)> done,
                       std::function<void(std::string)> failed) const {
  const std::int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                               std::chrono::system_clock::now().time_since_epoch())
                               .count();
  store_.query<Json::Value>(
      [gateways_only, now](sqlite3* db) { return read_node_list(db, now, gateways_only); }, ex_,
      std::move(done), std::move(failed));
}

}  // namespace mnigs
