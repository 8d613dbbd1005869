// A gateway's offer as it travels through the DHT: what it is, its wire form
// (compact JSON, at most max_offer_bytes) and the checks every received
// offer must pass. Pure data and parsing; no OpenDHT here.
#pragma once

#include <json/value.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mnigs {

// Largest encoded offer accepted or produced, in bytes.
inline constexpr std::size_t max_offer_bytes = 4096;
// Version of the wire form ("v" in the JSON object).
inline constexpr int offer_wire_version = 1;
// Most tunnel keys an offer (and nodeInfo's "tunnelKeys") may carry.
inline constexpr std::size_t max_tunnel_keys = 8;
// Most services an offer (and nodeInfo's "services") may announce.
inline constexpr std::size_t max_services = 4;

struct GatewayOffer {
  // The publisher's identity: hex SHA-256 id of its DHT public key (64
  // lowercase hex digits). A received offer is only believed when the key
  // that signed it has this id.
  std::string node_id;
  std::string name;                    // shown to users, may be empty
  std::vector<std::string> addresses;  // mesh addresses (IPv4/IPv6 literals)
  std::uint16_t rpc_port = 0;          // where the gateway's JSON-RPC listens
  std::vector<std::string> suites;     // "network-tunnel-payment"
  double price = 0;                    // cheapest price, in `currency`
  std::string currency;
  // The payment terms beyond that (optional on the wire, absent: 0/false):
  // the cheapest price of a gigabyte, whether access is paid with vouchers
  // only, and whether nothing goes through before payment (every method
  // charges: subscriber.maxPrice 0 leaves the gateway out).
  double price_per_gb = 0;
  bool voucher_only = false;
  bool payment_required = false;
  std::uint32_t max_connections = 0;  // sessions the gateway serves at once
  std::uint32_t sessions = 0;         // sessions it serves now (its load)
  bool ipv6 = false;                  // it also carries subscribers' IPv6
  // The fingerprint each tunnel's gateway end is pinned by, by tunnel
  // method ({"websocket": "sha256:..."}; TunnelPlugin::gateway_key); at
  // most max_tunnel_keys, see check_tunnel_key. Optional on the wire.
  std::map<std::string, std::string> keys;
  // The services the gateway offers beside its suites, by plugin name
  // ({"httptunnel": "http://gw.example:8080/"}; Plugin::announce): where
  // users reach each. At most max_services, see check_service. Optional on
  // the wire.
  std::map<std::string, std::string> services;
  std::int64_t expires = 0;           // unix seconds; not believed afterwards
  // A signed "this gateway no longer offers anything": published on
  // withdrawal so that listeners drop the offer at once.
  bool withdrawn = false;

  bool operator==(const GatewayOffer&) const = default;
};

// "" when `method` (1 to 32 letters, digits or . _ + -) may carry `key` (1
// to 128 letters, digits or : + / = . _ -) in an offer's "keys" and
// nodeInfo's "tunnelKeys"; else why not (a method that is refused is not
// quoted: it may hold anything).
std::string check_tunnel_key(const std::string& method, const std::string& key);

// Reads tunnel keys from JSON as an offer's "keys" and nodeInfo's
// "tunnelKeys" carry them: an object of at most max_tunnel_keys strings, each
// passing check_tunnel_key. nullopt otherwise, with `why` naming the member
// (`member` "keys": why = "\"keys\" must be an object").
std::optional<std::map<std::string, std::string>> tunnel_keys_from_json(const Json::Value& v,
                                                                        const std::string& member,
                                                                        std::string* why);
Json::Value services_to_json(const std::map<std::string, std::string>& services);
Json::Value tunnel_keys_to_json(const std::map<std::string, std::string>& keys);

// "" when the plugin `name` (1 to 32 letters, digits or . _ + -) may
// announce `where` (1 to 96 printable ASCII characters, no space) in an
// offer's and nodeInfo's "services"; else why not.
std::string check_service(const std::string& name, const std::string& where);
// Reads "services" as check_service allows, at most max_services; nullopt
// otherwise, with `why` naming the member, as tunnel_keys_from_json does.
std::optional<std::map<std::string, std::string>> services_from_json(const Json::Value& v,
                                                                     const std::string& member,
                                                                     std::string* why);

// Checks every field (lengths, counts, characters, address literals,
// ranges); "" when the offer is well formed, else the first problem found.
// Does not look at the clock: see check_offer_time.
std::string validate_offer(const GatewayOffer& offer);

// The offer as a JSON object (the wire form, also fit for RPC replies).
Json::Value offer_to_json(const GatewayOffer& offer);

// The wire form: compact JSON text. nullopt with `why` set when the offer is
// not valid or encodes to more than max_offer_bytes.
std::optional<std::string> encode_offer(const GatewayOffer& offer, std::string* why = nullptr);

// Parses and validates the wire form. Anything else (oversize, not strict
// JSON, duplicate keys, wrong version, a missing or mistyped field, a field
// out of range) gives nullopt with `why` set. Unknown members are ignored so
// that later versions can add optional fields.
std::optional<GatewayOffer> decode_offer(std::string_view text, std::string* why = nullptr);

// "" when the offer may be believed at `now` (unix seconds): it has not
// expired and does not claim to live longer than `max_lifetime` seconds.
std::string check_offer_time(const GatewayOffer& offer, std::int64_t now,
                             std::int64_t max_lifetime);

}  // namespace mnigs
