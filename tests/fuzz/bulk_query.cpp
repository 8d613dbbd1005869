// The query of a bulk transfer request (core/probe/bulk_query.cpp), which a
// session holder sends to the gateway. What parses is within the bound and
// parses the same when written back.
#include "probe/bulk_query.hpp"

#include <cstdint>
#include <cstdlib>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view target(reinterpret_cast<const char*>(data), size);
  std::uint64_t down = 0, up = 0;
  if (!mnigs::probe::parse_bulk_query(target, down, up)) return 0;
  if (down > mnigs::probe::kMaxBulkBytes || up > mnigs::probe::kMaxBulkBytes) std::abort();
  std::uint64_t down2 = 0, up2 = 0;
  const std::string again =
      "/probe/bulk?down=" + std::to_string(down) + "&up=" + std::to_string(up);
  if (!mnigs::probe::parse_bulk_query(again, down2, up2) || down2 != down || up2 != up)
    std::abort();
  return 0;
}
