// The two values the forger puts under the offer key, built apart from
// main() so that a unit test can check each one is the attack it claims to
// be (check_offer_value calls the first forged, the second a bad signature).
#pragma once

#include "dht/offer.hpp"

#include <opendht/crypto.h>
#include <opendht/value.h>

#include <memory>

namespace mnigs::forger {

// `claimed` (an offer naming another node's id, e.g. the victim gateway's
// id and name with the forger's own addresses) as an offer value, validly
// signed by `key`, which is not the key of the node it names.
// Throws std::invalid_argument when `claimed` is not a valid offer.
std::shared_ptr<dht::Value> forged_offer_value(const GatewayOffer& claimed,
                                               const dht::crypto::PrivateKey& key,
                                               dht::Value::Id id);

// `genuine` (an offer naming the id of `key`) signed by `key`, after which
// its data is replaced by the wire form of `altered`: the value still
// carries the owner's key and a signature, but the signature covers other
// bytes. Throws std::invalid_argument when either offer is not valid.
std::shared_ptr<dht::Value> tampered_offer_value(const GatewayOffer& genuine,
                                                 const GatewayOffer& altered,
                                                 const dht::crypto::PrivateKey& key,
                                                 dht::Value::Id id);

}  // namespace mnigs::forger
