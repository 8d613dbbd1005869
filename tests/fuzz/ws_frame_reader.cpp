// A WebSocket byte stream from a peer, cut into frames by FrameReader. The
// first byte sets how the stream arrives: in reads of 1..64 bytes into a
// reader with a small buffer (so its tail is moved and its buffer grown), or
// all at once. Both must return the same frames and end the same way.
#include "frame.hpp"

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

using namespace mnigs::websocket;

namespace {

struct Seen {
  std::vector<std::pair<Opcode, std::string>> frames;
  ParseStatus end = ParseStatus::need_more;
  std::uint16_t close_code = 0;
};

constexpr std::uint64_t kMaxPayload = 4096;

Seen read(const std::uint8_t* data, std::size_t size, std::size_t chunk, std::size_t read_size) {
  FrameReader reader(kMaxPayload, read_size);
  Seen seen;
  std::size_t at = 0;
  while (at < size && seen.end != ParseStatus::error) {
    const std::size_t n = std::min(chunk, size - at);
    auto room = reader.writable(n);
    if (room.size() < n) std::abort();
    std::memcpy(room.data(), data + at, n);
    reader.commit(n);
    at += n;
    Frame frame;
    ParseStatus s;
    while ((s = reader.next(frame)) == ParseStatus::ok) {
      if (frame.payload.size() != frame.header.payload_size) std::abort();
      seen.frames.emplace_back(frame.header.opcode,
                               std::string(frame.payload.begin(), frame.payload.end()));
    }
    seen.end = s;
    if (s == ParseStatus::error) seen.close_code = reader.close_code();
  }
  return seen;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const std::size_t chunk = data[0] % 64 + 1;
  const Seen pieces = read(data + 1, size - 1, chunk, 16);
  const Seen whole = read(data + 1, size - 1, size, FrameReader::default_read_size);
  if (pieces.frames != whole.frames || pieces.end != whole.end ||
      pieces.close_code != whole.close_code)
    std::abort();
  return 0;
}
