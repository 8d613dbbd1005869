// What `nft reset counters table inet mnigs_meter` prints, as the gateway's
// meter reads it (core/gateway/meter.cpp, parse_meter_reading): nft's
// output, which names counters after session ids and voucher ids.
#include "gateway/meter.hpp"

#include <cstdint>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  std::string why;
  auto r = mnigs::parse_meter_reading(text, &why);
  // A refusal says why; a reading counts no negative bytes.
  if (!r && why.empty()) __builtin_trap();
  if (r)
    for (const auto& [id, t] : r->sessions)
      if (t.out < 0 || t.in < 0) __builtin_trap();
  return 0;
}
