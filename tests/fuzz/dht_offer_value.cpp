// What a listener does with a value heard under the offer key:
// check_offer_value (type, signature, payload, signer, time). The first byte
// picks how the rest is used:
//   0: the rest is a msgpack-encoded OpenDHT value, as it comes off the wire
//      (OpenDHT unpacks it; the checks then see whatever it holds);
//   1: the rest is an offer payload, signed here by a key made at start-up,
//      with every "@ID@" replaced by that key's id, so that the checks after
//      the signature (decode, signer, time) are reached.
// The clock is fixed at 1'800'000'000 (2027-01-15), so seeds keep working.
#include "dht/identity.hpp"
#include "dht/offer_value.hpp"

#include <cstdint>
#include <cstdlib>
#include <string>

namespace {

constexpr std::int64_t kNow = 1'800'000'000;

const dht::crypto::Identity& signer() {
  // 2048 bits keep start-up short; the checks do not depend on the size.
  static const auto* id = new dht::crypto::Identity(dht::crypto::generateIdentity("fuzz", {},
                                                                                 2048));
  return *id;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const std::uint8_t mode = data[0];
  ++data;
  --size;
  mnigs::CheckedOffer checked;
  if (mode == 0) {
    dht::Value value;
    try {
      // OpenDHT (2.4.12) unpacks with msgpack-c's default limits, so a
      // datagram may declare an array of 2^32 elements: msgpack-c asks
      // malloc for it up front and fills only what the datagram holds.
      // That is address space, never resident memory (a 111-byte value
      // declaring 505 million elements: 3.4 MiB RSS without sanitizers, and
      // std::bad_alloc, which OpenDHT catches, where the allocation cannot
      // be had), but libFuzzer reports any single malloc above its limit as
      // out of memory. A datagram of N bytes holds at most N elements, so
      // limiting every declared size to N changes what parses in no way
      // that matters and keeps the run on the checks.
      const msgpack::unpack_limit limit(size, size, size, size, size);
      auto handle = msgpack::unpack(reinterpret_cast<const char*>(data), size, nullptr, nullptr,
                                    limit);
      value.msgpack_unpack(handle.get());
    } catch (const std::exception&) {
      return 0;  // OpenDHT drops what it cannot unpack
    }
    checked = mnigs::check_offer_value(value, kNow);
  } else if (mode == 1) {
    if (size > 2 * mnigs::max_offer_bytes) return 0;
    static const std::string id = mnigs::identity_id(signer().first->getPublicKey());
    std::string text(reinterpret_cast<const char*>(data), size);
    for (auto at = text.find("@ID@"); at != std::string::npos; at = text.find("@ID@", at))
      text.replace(at, 4, id);
    auto value = std::make_shared<dht::Value>(mnigs::offer_value_type_id,
                                              dht::Blob(text.begin(), text.end()), 42);
    value->sign(*signer().first);
    checked = mnigs::check_offer_value(*value, kNow);
    if (checked.verdict == mnigs::OfferVerdict::unsigned_value ||
        checked.verdict == mnigs::OfferVerdict::bad_signature)
      std::abort();  // signed just now
  } else {
    return 0;
  }
  const bool believed = checked.verdict == mnigs::OfferVerdict::accepted ||
                        checked.verdict == mnigs::OfferVerdict::withdrawn;
  if (believed != checked.why.empty()) std::abort();
  if (believed && !mnigs::validate_offer(checked.offer).empty()) std::abort();
  return 0;
}
