// Offers as OpenDHT values: where they are stored, their value type, and
// the checks a received value must pass before its offer is believed.
// Internal to core/dht (includes OpenDHT's value header).
#pragma once

#include "dht/offer.hpp"

#include <opendht/value.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace mnigs {

// The DHT key every gateway offer is stored under:
// InfoHash::get("mnigs:gateway-offers:v1") (SHA-1 of the text).
inline constexpr const char* offer_key_text = "mnigs:gateway-offers:v1";
const dht::InfoHash& offer_key();

// OpenDHT value type of offers ("mo"). Values of other types under the key
// are not offers and are ignored.
inline constexpr dht::ValueType::Id offer_value_type_id = 0x6d6f;

// How long the DHT keeps an offer value after its last put: the default
// lifetime of an offer. Publishers re-sign and put again at half of it.
inline constexpr std::chrono::seconds offer_value_lifetime{600};
// An offer claiming to live longer than this (clock skew included) is
// refused: it would outlive any withdrawal.
inline constexpr std::int64_t max_offer_lifetime_seconds = 3600;

enum class OfferVerdict {
  accepted,       // a valid, current offer
  withdrawn,      // a valid, current withdrawal of the signer's offer
  unsigned_value, // no signature
  bad_signature,  // the signature does not match the signed fields
  forged,         // validly signed by a key other than the offer's node id
  expired,        // its `expires` has passed
  malformed,      // not an offer: bad payload, wrong type, absurd lifetime
};
const char* to_string(OfferVerdict verdict);

struct CheckedOffer {
  OfferVerdict verdict = OfferVerdict::malformed;
  GatewayOffer offer;  // filled for accepted and withdrawn
  std::string why;     // for the others
};

// Every rule a listener applies, in order: our value type, signed, the
// signature checks out (recomputed here, never taken from a cache), the
// payload decodes and validates, the signer's key id equals offer.node_id,
// and the offer is current at `now` (unix seconds).
// Never throws: a value that cannot be checked is malformed.
CheckedOffer check_offer_value(const dht::Value& value, std::int64_t now);

// An unsigned value carrying `offer` (validated and encoded), with the given
// value id and sequence number; DhtRunner::putSigned signs it.
// Throws std::invalid_argument when the offer does not encode.
std::shared_ptr<dht::Value> make_offer_value(const GatewayOffer& offer, dht::Value::Id id,
                                             std::uint16_t seq);

// The value type registered on every mnigs node. OpenDHT 2.4's SecureDht
// stores any validly signed value without asking the type's policy (it
// checks the signature itself and drops bad ones), so the policy here only
// sees unsigned values and refuses them; `refused` is told why.
dht::ValueType offer_value_type(std::function<void(OfferVerdict)> refused);

}  // namespace mnigs
