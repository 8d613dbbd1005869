// base64 as it arrives in Sec-WebSocket-Key (plugins/common's
// base64_decode, strict). What
// decodes encodes to text that decodes to the same bytes; any bytes encode
// to text that decodes back to them.
#include <base64.hpp>

#include <cstdint>
#include <cstdlib>

using namespace mnigs;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  if (auto bytes = base64_decode(text)) {
    const std::string again = base64_encode(*bytes);
    if (again.size() != text.size()) std::abort();
    auto back = base64_decode(again);
    if (!back || *back != *bytes) std::abort();
  }
  const std::string encoded = base64_encode(std::span(data, size));
  auto back = base64_decode(encoded);
  if (!back || !std::equal(back->begin(), back->end(), data, data + size) || back->size() != size)
    std::abort();
  return 0;
}
