// The payload of a close frame from a peer (parse_close_payload) and the
// UTF-8 check on its reason. A valid one, sent back with close_payload,
// reads the same (its reason cut at a character boundary to fit 125 bytes).
#include "frame.hpp"

#include <cstdint>
#include <cstdlib>

using namespace mnigs::websocket;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  is_valid_utf8(std::string_view(reinterpret_cast<const char*>(data), size));
  const ClosePayload c = parse_close_payload(data, size);
  if (!c.valid || c.code == close_no_status) return 0;
  if (!is_valid_utf8(c.reason)) std::abort();
  const std::string out = close_payload(c.code, c.reason);
  if (out.size() > max_control_payload) std::abort();
  const ClosePayload back =
      parse_close_payload(reinterpret_cast<const std::uint8_t*>(out.data()), out.size());
  if (!back.valid || back.code != c.code || c.reason.compare(0, back.reason.size(), back.reason))
    std::abort();
  return 0;
}
