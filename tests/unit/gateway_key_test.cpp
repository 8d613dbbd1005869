// Which key the subscriber pins a gateway's tunnel by (subscriber/gateway_key):
// the signed offer of the identity the gateway names, for the address
// reached, then nodeInfo's "tunnelKeys", and a refusal when the two differ.
#include "dht/offer.hpp"
#include "subscriber/gateway_key.hpp"

#include <gtest/gtest.h>

#include <string>

namespace mnigs {
namespace {

const std::string kIdentity(64, 'd');
const std::string kKey = "sha256:" + std::string(64, '1');
const std::string kOther = "sha256:" + std::string(64, '2');

Json::Value node_info(const std::string& identity, const Json::Value& tunnel_keys) {
  Json::Value n(Json::objectValue);
  n["gateway"] = true;
  if (!identity.empty()) n["dht"]["id"] = identity;
  if (!tunnel_keys.isNull()) n["tunnelKeys"] = tunnel_keys;
  return n;
}

Json::Value keys(const std::string& websocket) {
  Json::Value k(Json::objectValue);
  k["websocket"] = websocket;
  return k;
}

Json::Value offer(const std::string& identity, const std::string& address,
                  const std::string& websocket) {
  GatewayOffer o;
  o.node_id = identity;
  o.addresses = {"10.9.0.1", address};
  if (!websocket.empty()) o.keys["websocket"] = websocket;
  return offer_to_json(o);
}

TEST(GatewayKey, TheIdentityIsTakenOnlyFromAWellFormedDhtMember) {
  EXPECT_EQ(offer_identity(node_info(kIdentity, Json::Value())), kIdentity);
  EXPECT_EQ(offer_identity(node_info("", Json::Value())), "");
  EXPECT_EQ(offer_identity(node_info(std::string(63, 'd'), Json::Value())), "");
  Json::Value n = node_info("", Json::Value());
  n["dht"] = "not an object";
  EXPECT_EQ(offer_identity(n), "");
  n["dht"] = Json::Value(Json::objectValue);
  n["dht"]["id"] = 5;
  EXPECT_EQ(offer_identity(n), "");
  EXPECT_EQ(offer_identity(Json::Value("not an object")), "");
}

TEST(GatewayKey, NoneFromAGatewayThatNamesNone) {
  const GatewayKey k = choose_gateway_key("websocket", "10.9.0.2", node_info("", Json::Value()),
                                          Json::Value());
  EXPECT_EQ(k.key, "");
  EXPECT_EQ(k.source, "");
  EXPECT_EQ(k.error, "");
  EXPECT_EQ(k.ignored, "");
  // Keys of other tunnels only.
  Json::Value other(Json::objectValue);
  other["openvpn"] = kKey;
  EXPECT_EQ(choose_gateway_key("websocket", "10.9.0.2", node_info("", other), Json::Value()).key,
            "");
}

TEST(GatewayKey, NodeInfoAloneGivesItsKey) {
  const GatewayKey k =
      choose_gateway_key("websocket", "10.9.0.2", node_info("", keys(kKey)), Json::Value());
  EXPECT_EQ(k.key, kKey);
  EXPECT_EQ(k.source, "nodeInfo");
  EXPECT_EQ(k.error, "");
}

TEST(GatewayKey, TheOfferWinsAndAgreesOrRefuses) {
  // Only the offer: its key.
  GatewayKey k = choose_gateway_key("websocket", "10.9.0.2", node_info(kIdentity, Json::Value()),
                                    offer(kIdentity, "10.9.0.2", kKey));
  EXPECT_EQ(k.key, kKey);
  EXPECT_EQ(k.source, "offer");
  // Both, the same: the offer's.
  k = choose_gateway_key("websocket", "10.9.0.2", node_info(kIdentity, keys(kKey)),
                         offer(kIdentity, "10.9.0.2", kKey));
  EXPECT_EQ(k.key, kKey);
  EXPECT_EQ(k.source, "offer");
  // The offer names none for this tunnel: nodeInfo's.
  k = choose_gateway_key("websocket", "10.9.0.2", node_info(kIdentity, keys(kKey)),
                         offer(kIdentity, "10.9.0.2", ""));
  EXPECT_EQ(k.key, kKey);
  EXPECT_EQ(k.source, "nodeInfo");
  // Both, different: no key, an error that names both.
  k = choose_gateway_key("websocket", "10.9.0.2", node_info(kIdentity, keys(kOther)),
                         offer(kIdentity, "10.9.0.2", kKey));
  EXPECT_EQ(k.key, "");
  EXPECT_EQ(k.source, "");
  EXPECT_EQ(k.error.rfind("the gateway's key for websocket in nodeInfo differs from its signed "
                          "DHT offer: nodeInfo says \"" + kOther + "\", the offer \"" + kKey + "\"",
                          0),
            0u)
      << k.error;
}

TEST(GatewayKey, AnOfferCountsOnlyFromTheNamedIdentityForTheAddressReached) {
  auto chosen = [](const Json::Value& info, const Json::Value& o, const std::string& address) {
    const GatewayKey k = choose_gateway_key("websocket", address, info, o);
    EXPECT_EQ(k.error, "");
    return k.source + " " + k.key;
  };
  const std::string from_info = "nodeInfo " + kKey;
  // Another identity's offer, or a gateway that names none.
  EXPECT_EQ(chosen(node_info(kIdentity, keys(kKey)), offer(std::string(64, 'e'), "10.9.0.2",
                                                           kOther),
                   "10.9.0.2"),
            from_info);
  EXPECT_EQ(chosen(node_info("", keys(kKey)), offer(kIdentity, "10.9.0.2", kOther), "10.9.0.2"),
            from_info);
  // An address the offer does not list.
  EXPECT_EQ(chosen(node_info(kIdentity, keys(kKey)), offer(kIdentity, "10.9.0.3", kOther),
                   "10.9.0.2"),
            from_info);
  // The same address, spelled otherwise: the offer's.
  EXPECT_EQ(chosen(node_info(kIdentity, keys(kKey)), offer(kIdentity, "fd00:0::1", kKey),
                   "fd00::1"),
            "offer " + kKey);
  EXPECT_EQ(chosen(node_info(kIdentity, Json::Value()), offer(kIdentity, "10.9.0.2", kKey),
                   "::ffff:10.9.0.2"),
            "offer " + kKey);
}

TEST(GatewayKey, MalformedKeysAreLeftOutWholeAndSaid) {
  Json::Value bad = keys(kKey);
  bad["openvpn"] = "not a key!";
  GatewayKey k =
      choose_gateway_key("websocket", "10.9.0.2", node_info("", bad), Json::Value());
  EXPECT_EQ(k.key, "");
  EXPECT_EQ(k.ignored,
            "the gateway's nodeInfo has unusable tunnel keys, left out (\"tunnelKeys\": the key "
            "for \"openvpn\" is not 1 to 128 letters, digits, ':', '+', '/', '=', '.', '_' or "
            "'-')");
  k = choose_gateway_key("websocket", "10.9.0.2", node_info("", Json::Value("sha256:x")),
                         Json::Value());
  EXPECT_EQ(k.key, "");
  EXPECT_NE(k.ignored.find("\"tunnelKeys\" must be an object"), std::string::npos) << k.ignored;
  // Beside a good offer, the offer's key stands: nothing to compare it with.
  k = choose_gateway_key("websocket", "10.9.0.2", node_info(kIdentity, bad),
                         offer(kIdentity, "10.9.0.2", kOther));
  EXPECT_EQ(k.key, kOther);
  EXPECT_EQ(k.source, "offer");
  EXPECT_EQ(k.error, "");
  EXPECT_NE(k.ignored, "");
}

}  // namespace
}  // namespace mnigs
