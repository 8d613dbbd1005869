// An offer's wire form as it arrives from the DHT: decode_offer (strict
// JSON, every field checked), then the time check. An offer that decodes
// must encode again, and decode to the same offer.
#include "dht/offer.hpp"

#include <cstdint>
#include <cstdlib>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string why;
  auto offer = mnigs::decode_offer(
      std::string_view(reinterpret_cast<const char*>(data), size), &why);
  if (!offer) {
    if (why.empty()) std::abort();  // a refusal says why
    return 0;
  }
  mnigs::check_offer_time(*offer, 1'800'000'000, 3600);
  if (!mnigs::validate_offer(*offer).empty()) std::abort();
  auto again = mnigs::encode_offer(*offer, &why);
  if (!again) std::abort();
  auto back = mnigs::decode_offer(*again, &why);
  if (!back || !(*back == *offer)) std::abort();
  return 0;
}
