#include "forgery.hpp"

#include "dht/offer_value.hpp"

#include <stdexcept>
#include <string>

namespace mnigs::forger {

std::shared_ptr<dht::Value> forged_offer_value(const GatewayOffer& claimed,
                                               const dht::crypto::PrivateKey& key,
                                               dht::Value::Id id) {
  auto value = make_offer_value(claimed, id, 0);
  value->sign(key);
  return value;
}

std::shared_ptr<dht::Value> tampered_offer_value(const GatewayOffer& genuine,
                                                 const GatewayOffer& altered,
                                                 const dht::crypto::PrivateKey& key,
                                                 dht::Value::Id id) {
  std::string why;
  const auto text = encode_offer(altered, &why);
  if (!text) throw std::invalid_argument("altered offer: " + why);
  auto value = make_offer_value(genuine, id, 0);
  value->sign(key);
  // Changed after signing: a receiver that checks the signature must refuse
  // it, one that does not would believe the altered offer.
  value->data.assign(text->begin(), text->end());
  return value;
}

}  // namespace mnigs::forger
