// A WebSocket frame header as a peer sends it (websocket::parse_header),
// under two payload limits. A header that parses must describe itself
// consistently, and one written for the same frame must parse the same.
#include "frame.hpp"

#include <cstdint>
#include <cstdlib>

using namespace mnigs::websocket;

namespace {

void check(const std::uint8_t* data, std::size_t size, std::uint64_t max_payload) {
  const ParseResult r = parse_header(data, size, max_payload);
  if (r.status == ParseStatus::error) {
    if (r.error.empty() || (r.close_code != close_protocol_error && r.close_code != close_too_big))
      std::abort();
    return;
  }
  if (r.status != ParseStatus::ok) return;
  const FrameHeader& h = r.header;
  if (h.header_size < 2 || h.header_size > max_header_size || h.header_size > size) std::abort();
  if (h.payload_size > max_payload) std::abort();
  if (is_control(h.opcode) && (!h.fin || h.payload_size > max_control_payload)) std::abort();
  std::uint8_t out[max_header_size];
  const std::size_t n = write_header(out, h.opcode, h.payload_size, h.fin,
                                     h.masked ? std::optional(h.mask_key) : std::nullopt);
  if (n != header_size_for(h.payload_size, h.masked) || n > h.header_size) std::abort();
  const ParseResult again = parse_header(out, n, max_payload);
  if (again.status != ParseStatus::ok || again.header.opcode != h.opcode ||
      again.header.fin != h.fin || again.header.masked != h.masked ||
      again.header.mask_key != h.mask_key || again.header.payload_size != h.payload_size)
    std::abort();
  // Unmasking in two pieces is unmasking at once.
  const std::size_t body = size - h.header_size;
  if (h.masked && body > 0) {
    std::vector<std::uint8_t> whole(data + h.header_size, data + size), parts = whole;
    apply_mask(whole.data(), whole.size(), h.mask_key);
    const std::size_t cut = body / 3;
    apply_mask(parts.data(), cut, h.mask_key);
    apply_mask(parts.data() + cut, body - cut, h.mask_key, cut);
    if (whole != parts) std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  check(data, size, 125);
  check(data, size, FrameReader::max_max_payload);
  return 0;
}
