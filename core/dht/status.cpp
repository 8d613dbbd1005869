#include "dht/status.hpp"

namespace mnigs {

Json::Value to_json(const DhtStatus& s) {
  Json::Value out(Json::objectValue);
  out["running"] = s.running;
  out["nodeId"] = s.node_id;
  out["routingId"] = s.routing_id;
  out["networkId"] = s.network_id;
  out["port4"] = s.port4;
  out["port6"] = s.port6;
  out["peers"]["ipv4"]["good"] = s.good4;
  out["peers"]["ipv4"]["dubious"] = s.dubious4;
  out["peers"]["ipv6"]["good"] = s.good6;
  out["peers"]["ipv6"]["dubious"] = s.dubious6;
  out["listening"] = s.listening;
  out["offers"] = Json::UInt64(s.offers);
  out["publishing"] = s.publishing;
  out["publishedExpires"] = Json::Int64(s.published_expires);
  out["puts"]["ok"] = Json::UInt64(s.puts_ok);
  out["puts"]["failed"] = Json::UInt64(s.puts_failed);
  out["dropped"]["unsigned"] = Json::UInt64(s.dropped.unsigned_values);
  out["dropped"]["badSignature"] = Json::UInt64(s.dropped.bad_signature);
  out["dropped"]["forged"] = Json::UInt64(s.dropped.forged);
  out["dropped"]["expired"] = Json::UInt64(s.dropped.expired);
  out["dropped"]["malformed"] = Json::UInt64(s.dropped.malformed);
  return out;
}

}  // namespace mnigs
