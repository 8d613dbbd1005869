// Auto mode's choice of gateway: every gateway that scans and the DHT know
// (listGateways' entries), ranked by what this subscriber can use and how
// good it is. Pure: no I/O, no clock; the connection manager feeds it.
//
// Left out: gateways with no suite in common, a price above the limit, no
// free session slot, on the avoid list, or this host itself. The rest are
// ranked by score, lowest first: round trip (measured through the tunnel
// when known: this run's probes, else the last testGateway's; else the
// scan's; else 100 ms), plus 1000 ms for each unit of
// loss, plus up to 50 ms for load, plus 100 ms when only remembered (not
// reached by the latest scan or current in the DHT). Gateways on the
// prefer list come before all others, in list order.
#pragma once

#include <json/value.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace mnigs {

struct GatewayQuality {
  std::optional<double> rtt_ms;  // median round trip of the probes
  double loss = 0;               // 0..1
};

struct ChoiceRules {
  std::vector<std::string> our_suites;
  double max_price = 0;                   // in the gateway's currency units
  std::vector<std::string> prefer, avoid;  // addresses or names
  std::vector<std::string> own_addresses;  // this host's: never its own gateway
};

struct GatewayChoice {
  std::string address;
  int port = 65533;
  std::string name;
  double score = 0;
  bool preferred = false;
  // Its entry's place on the prefer list; the list's size when not on it.
  std::size_t prefer_at = 0;
};

// Ranked best first; `skipped` (when given) gets one sentence per gateway left out.
std::vector<GatewayChoice> rank_gateways(const Json::Value& gateways, const ChoiceRules& rules,
                                         const std::map<std::string, GatewayQuality>& measured,
                                         std::vector<std::string>* skipped = nullptr);

}  // namespace mnigs
