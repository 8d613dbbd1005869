// The node list and the gateway list (listNodes, listGateways): the nodes
// that scans found, kept in SQLite by the scanner, merged with the gateway
// offers heard in the DHT (kept in SQLite by the DHT service). One module,
// so that "what gateways are there" is answered in one place.
#pragma once

#include <json/value.h>

#include <boost/asio/any_io_executor.hpp>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

struct sqlite3;

namespace mnigs {

class Store;

// The cheapest of a gateway's payment terms, as nodeInfo's "payments" and
// PluginHost::payment_terms give them: {"<method>": {"price": N,
// "currency": "..."}}. Terms without a numeric price are skipped; nullopt
// when none has one.
struct Price {
  Json::Value price;  // the number as given
  std::string currency;
};
std::optional<Price> cheapest_price(const Json::Value& terms);
// Whether every payment method in nodeInfo's "payments" charges (its terms
// say "charges": true): the gateway lets no traffic through before payment.
bool only_paid_access(const Json::Value& terms);

// listNodes ({"nodes": [...], "links": [...]}) or listGateways
// ({"gateways": [...]}) as of `now` (unix seconds). Gateways known only from
// the DHT have "source" "dht"; those known both ways "scan+dht". Runs on the
// store's worker (it reads the database directly).
Json::Value read_node_list(sqlite3* db, std::int64_t now, bool gateways_only);

// The offer heard in the DHT from the node `node_id` (the hex id of its
// identity), as offer_to_json rendered it once it was verified, unless it
// has expired at `now` (unix seconds); null when there is none. Runs on the
// store's worker.
Json::Value read_dht_offer(sqlite3* db, const std::string& node_id, std::int64_t now);

class GatewayList {
 public:
  // `ex` is where the answers are delivered.
  GatewayList(Store& store, boost::asio::any_io_executor ex);

  // read_node_list as of now, from the store's worker; exactly one of
  // done/failed runs, on `ex`. Thread-safe.
  void list(bool gateways_only, std::function<void(Json::Value)> done,
            std::function<void(std::string)> failed) const;

 private:
  Store& store_;
  boost::asio::any_io_executor ex_;
};

}  // namespace mnigs
