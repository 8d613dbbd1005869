// Which key the subscriber's tunnel pins the gateway's end by. A gateway's
// tunnel plugins name a fingerprint (TunnelPlugin::gateway_key) that the
// gateway publishes twice: in nodeInfo's "tunnelKeys", which nothing signs,
// and in its DHT offer's "keys", signed by its DHT identity. The connection
// manager gathers both; the choice is made here, without I/O, and reaches
// the tunnel as TunnelSession params "gatewayKey" and "gatewayKeySource".
#pragma once

#include <json/value.h>

#include <string>

namespace mnigs {

struct GatewayKey {
  std::string key;     // "" when neither names one for the method
  std::string source;  // "offer" or "nodeInfo"; "" without a key
  // Both name a key for the method and they differ: no session must be
  // requested, and this sentence says why.
  std::string error;
  // Something left out, and why, for the log; "" when nothing was.
  std::string ignored;
};

// The DHT identity the gateway's nodeInfo reply names ("dht": {"id"}), when
// it is a string of 64 characters (as an identity's hex id); "" otherwise.
std::string offer_identity(const Json::Value& node_info);

// The key of tunnel `method` for the gateway reached at `address` (an IP
// literal), from its nodeInfo reply and `offer`: the DHT offer this node
// holds from offer_identity(node_info), as offer_to_json renders it, or null.
// The offer counts only when its "id" is that identity and its "addresses"
// hold `address`; then its key wins. nodeInfo's "tunnelKeys" counts only
// when it follows the offer's rules (tunnel_keys_from_json): otherwise it is
// left out whole, and `ignored` says so. When both name a key for `method`
// and they differ, `error` says so and no key is chosen.
GatewayKey choose_gateway_key(const std::string& method, const std::string& address,
                              const Json::Value& node_info, const Json::Value& offer);

}  // namespace mnigs
