#include "dht/offer_value.hpp"

#include "dht/identity.hpp"

#include <stdexcept>
#include <string_view>

namespace mnigs {

const dht::InfoHash& offer_key() {
  static const dht::InfoHash key = dht::InfoHash::get(offer_key_text);
  return key;
}

const char* to_string(OfferVerdict verdict) {
  switch (verdict) {
    case OfferVerdict::accepted: return "accepted";
    case OfferVerdict::withdrawn: return "withdrawn";
    case OfferVerdict::unsigned_value: return "unsigned";
    case OfferVerdict::bad_signature: return "bad signature";
    case OfferVerdict::forged: return "forged";
    case OfferVerdict::expired: return "expired";
    case OfferVerdict::malformed: return "malformed";
  }
  return "?";
}

namespace {

CheckedOffer check_value(const dht::Value& value, std::int64_t now) {
  CheckedOffer out;
  auto reject = [&out](OfferVerdict verdict, std::string why) {
    out.verdict = verdict;
    out.why = std::move(why);
    return out;
  };
  if (value.type != offer_value_type_id)
    return reject(OfferVerdict::malformed, "value type " + std::to_string(value.type) +
                                               " is not an offer");
  if (!value.isSigned()) return reject(OfferVerdict::unsigned_value, "offer is not signed");
  // The const overload recomputes; the other one trusts a flag cached on the
  // value object.
  if (!value.checkSignature())
    return reject(OfferVerdict::bad_signature, "signature does not match the offer");

  std::string why;
  const std::string_view text(reinterpret_cast<const char*>(value.data.data()),
                              value.data.size());
  auto offer = decode_offer(text, &why);
  if (!offer) return reject(OfferVerdict::malformed, why);

  const std::string signer = identity_id(*value.owner);
  if (signer != offer->node_id)
    return reject(OfferVerdict::forged, "offer for node " + offer->node_id.substr(0, 16) +
                                            "... is signed by " + signer.substr(0, 16) + "...");
  if (auto stale = check_offer_time(*offer, now, max_offer_lifetime_seconds); !stale.empty())
    return reject(offer->expires <= now ? OfferVerdict::expired : OfferVerdict::malformed, stale);

  out.verdict = offer->withdrawn ? OfferVerdict::withdrawn : OfferVerdict::accepted;
  out.offer = std::move(*offer);
  return out;
}

}  // namespace

CheckedOffer check_offer_value(const dht::Value& value, std::int64_t now) {
  // Runs on OpenDHT's thread, which swallows an exception after marking the
  // whole batch of values seen: one bad value would hide the good ones.
  try {
    return check_value(value, now);
  } catch (const std::exception& e) {
    CheckedOffer out;
    out.verdict = OfferVerdict::malformed;
    out.why = std::string("value could not be checked: ") + e.what();
    return out;
  }
}

std::shared_ptr<dht::Value> make_offer_value(const GatewayOffer& offer, dht::Value::Id id,
                                             std::uint16_t seq) {
  std::string why;
  const auto text = encode_offer(offer, &why);
  if (!text) throw std::invalid_argument(why);
  auto value = std::make_shared<dht::Value>(offer_value_type_id,
                                            dht::Blob(text->begin(), text->end()), id);
  value->seq = seq;
  return value;
}

dht::ValueType offer_value_type(std::function<void(OfferVerdict)> refused) {
  auto store = [refused](dht::InfoHash, std::shared_ptr<dht::Value>& value, const dht::InfoHash&,
                         const dht::SockAddr&) {
    const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
    const auto checked = check_offer_value(*value, now);
    const bool ok = checked.verdict == OfferVerdict::accepted ||
                    checked.verdict == OfferVerdict::withdrawn;
    if (!ok && refused) refused(checked.verdict);
    return ok;
  };
  // Reached only when the stored value is unsigned, which `store` never
  // lets in; refuse to be safe.
  auto edit = [](dht::InfoHash, const std::shared_ptr<dht::Value>&, std::shared_ptr<dht::Value>&,
                 const dht::InfoHash&, const dht::SockAddr&) { return false; };
  return dht::ValueType(offer_value_type_id, "mnigs gateway offer", offer_value_lifetime, store,
                        edit);
}

}  // namespace mnigs
