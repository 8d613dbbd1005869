#include "subscriber/gateway_key.hpp"

#include "dht/offer.hpp"
#include "util/net.hpp"

#include <algorithm>
#include <map>
#include <optional>

namespace mnigs {

namespace {

// Whether the offer lists `address` among its own, as an address (the
// offer may spell an IPv6 literal otherwise).
bool lists_address(const Json::Value& offer, const std::string& address) {
  const auto wanted = parse_address(address);
  if (!wanted || !offer["addresses"].isArray()) return false;
  const auto& addresses = offer["addresses"];
  return std::any_of(addresses.begin(), addresses.end(), [&](const Json::Value& a) {
    if (!a.isString()) return false;
    const auto given = parse_address(a.asString());
    return given && unmap(*given) == unmap(*wanted);
  });
}

}  // namespace

std::string offer_identity(const Json::Value& node_info) {
  if (!node_info.isObject() || !node_info["dht"].isObject()) return "";
  // Only looked up and compared with the ids of offers that were verified.
  const Json::Value& id = node_info["dht"]["id"];
  return id.isString() && id.asString().size() == 64 ? id.asString() : "";
}

GatewayKey choose_gateway_key(const std::string& method, const std::string& address,
                              const Json::Value& node_info, const Json::Value& offer) {
  GatewayKey out;
  // Anyone may sign an offer that lists any address: only the offer of the
  // identity the gateway itself names speaks for it. The offer then adds a
  // check the reply alone cannot give: a nodeInfo altered on the way whose
  // keys no longer match what that identity signed is found out.
  std::optional<std::string> from_offer;
  const std::string identity = offer_identity(node_info);
  if (!identity.empty() && offer.isObject() && offer["id"].isString() &&
      offer["id"].asString() == identity && lists_address(offer, address) &&
      offer.isMember("keys")) {
    std::string why;
    // Checked when it was heard; again here, as nodeInfo's keys are.
    if (auto keys = tunnel_keys_from_json(offer["keys"], "keys", &why)) {
      if (auto it = keys->find(method); it != keys->end()) from_offer = it->second;
    } else {
      out.ignored = "the gateway's DHT offer has unusable keys (" + why + ")";
    }
  }
  std::optional<std::string> from_node_info;
  if (node_info.isObject() && node_info.isMember("tunnelKeys")) {
    std::string why;
    if (auto keys = tunnel_keys_from_json(node_info["tunnelKeys"], "tunnelKeys", &why)) {
      if (auto it = keys->find(method); it != keys->end()) from_node_info = it->second;
    } else {
      out.ignored += std::string(out.ignored.empty() ? "" : "; ") +
                     "the gateway's nodeInfo has unusable tunnel keys, left out (" + why + ")";
    }
  }
  if (from_offer && from_node_info && *from_offer != *from_node_info) {
    out.error = "the gateway's key for " + method +
                " in nodeInfo differs from its signed DHT offer: nodeInfo says \"" +
                *from_node_info + "\", the offer \"" + *from_offer +
                "\"; the reply may have been altered on the way (if the gateway has just "
                "changed its key, its new offer may not have reached this node yet)";
    return out;
  }
  if (from_offer) {
    out.key = *from_offer;
    out.source = "offer";
  } else if (from_node_info) {
    out.key = *from_node_info;
    out.source = "nodeInfo";
  }
  return out;
}

}  // namespace mnigs
