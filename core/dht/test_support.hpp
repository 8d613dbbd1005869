// Helpers shared by core/dht's test files (mnigs_dht_tests).
#pragma once

#include "dht/offer.hpp"

#include <json/reader.h>
#include <json/writer.h>

#include <chrono>
#include <cstdint>
#include <sstream>
#include <string>

namespace mnigs::dht_test {

inline std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

inline GatewayOffer sample_offer(const std::string& node_id, const std::string& name = "gw") {
  GatewayOffer o;
  o.node_id = node_id;
  o.name = name;
  o.addresses = {"10.1.0.1", "fd00::1"};
  o.rpc_port = 65533;
  o.suites = {"static-forwarding-free", "babel-forwarding-free"};
  o.price = 0.5;
  o.currency = "EUR";
  o.max_connections = 10;
  o.sessions = 2;
  o.ipv6 = true;
  o.expires = unix_now() + 600;
  return o;
}

inline Json::Value parse_json(const std::string& text) {
  Json::Value v;
  std::istringstream in(text);
  in >> v;
  return v;
}

inline std::string to_text(const Json::Value& v) {
  Json::StreamWriterBuilder b;
  b["indentation"] = "";
  return Json::writeString(b, v);
}

}  // namespace mnigs::dht_test
