// What DhtNode::status() reports, and its JSON form for the dhtStatus RPC.
// No OpenDHT.
#pragma once

#include <json/value.h>

#include <cstdint>
#include <string>

namespace mnigs {

// Received offers refused, by reason (see OfferVerdict). Counted for every
// copy received, whether it came for our listener or to be stored here.
struct DhtDropCounters {
  std::uint64_t unsigned_values = 0;
  std::uint64_t bad_signature = 0;
  std::uint64_t forged = 0;
  std::uint64_t expired = 0;
  std::uint64_t malformed = 0;
  std::uint64_t total() const {
    return unsigned_values + bad_signature + forged + expired + malformed;
  }
};

struct DhtStatus {
  bool running = false;
  std::string node_id;     // identity: hex SHA-256 id of our public key
  std::string routing_id;  // OpenDHT's node id in the routing table (hex)
  std::uint32_t network_id = 0;
  std::uint16_t port4 = 0, port6 = 0;  // bound UDP ports, 0 = family off
  unsigned good4 = 0, dubious4 = 0, good6 = 0, dubious6 = 0;  // peers
  bool listening = false;
  std::size_t offers = 0;  // verified offers known now
  bool publishing = false;
  std::int64_t published_expires = 0;  // of our last signed offer
  std::uint64_t puts_ok = 0, puts_failed = 0;
  DhtDropCounters dropped;
};
// {"running", "nodeId", "routingId", "networkId", "port4", "port6", "peers":
// {"ipv4": {"good", "dubious"}, "ipv6": {...}}, "listening", "offers",
// "publishing", "publishedExpires", "puts": {"ok", "failed"}, "dropped":
// {"unsigned", "badSignature", "forged", "expired", "malformed"}}
Json::Value to_json(const DhtStatus& status);

}  // namespace mnigs
