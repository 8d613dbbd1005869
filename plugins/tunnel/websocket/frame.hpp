// RFC 6455 framing: frame headers, masking, close payloads, and FrameReader,
// which cuts a byte stream into frames in place.
//
// No extensions are negotiated, so the RSV bits must be clear. Whether a
// peer must mask is the caller's policy: vpn-ws clients send their pings
// unmasked, so nothing here insists. Sizes are in bytes.
//
// The free functions are pure and thread-safe; a FrameReader is
// thread-compatible (one per connection, used from one strand).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace mnigs::websocket {

enum class Opcode : std::uint8_t {
  continuation = 0,
  text = 1,
  binary = 2,
  close = 8,
  ping = 9,
  pong = 10
};

// close, ping and pong.
inline constexpr bool is_control(Opcode op) { return (static_cast<std::uint8_t>(op) & 0x8) != 0; }
// "binary", "ping", ...; "unknown" for values outside the enum.
const char* to_string(Opcode op);

// 2 bytes, 8 of extended length, 4 of masking key.
inline constexpr std::size_t max_header_size = 14;
// Control frames carry at most this much (RFC 6455 5.5).
inline constexpr std::size_t max_control_payload = 125;

// Close codes (RFC 6455 7.4.1) that this code sends.
inline constexpr std::uint16_t close_normal = 1000;
inline constexpr std::uint16_t close_going_away = 1001;
inline constexpr std::uint16_t close_protocol_error = 1002;
inline constexpr std::uint16_t close_unsupported_data = 1003;
inline constexpr std::uint16_t close_no_status = 1005;  // never on the wire
inline constexpr std::uint16_t close_invalid_payload = 1007;
inline constexpr std::uint16_t close_policy = 1008;
inline constexpr std::uint16_t close_too_big = 1009;
inline constexpr std::uint16_t close_internal_error = 1011;

struct FrameHeader {
  bool fin = true;
  Opcode opcode = Opcode::binary;
  bool masked = false;
  // The 4 key bytes as they appear on the wire, loaded with memcpy (so
  // apply_mask can use it directly); 0 when not masked.
  std::uint32_t mask_key = 0;
  std::uint64_t payload_size = 0;
  std::size_t header_size = 0;  // 2..14
};

enum class ParseStatus { ok, need_more, error };

struct ParseResult {
  ParseStatus status = ParseStatus::need_more;
  FrameHeader header;            // valid when ok
  std::uint16_t close_code = 0;  // when error: 1002 protocol error, 1009 too big
  std::string error;             // when error: a sentence naming the offending value
};

// Size of the header write_header() writes for `payload_size` bytes: 2, 4 or
// 10, plus 4 when masked. Handy to leave room in front of a payload.
inline constexpr std::size_t header_size_for(std::uint64_t payload_size, bool masked) {
  const std::size_t base = payload_size < 126 ? 2 : payload_size <= 0xffff ? 4 : 10;
  return base + (masked ? 4 : 0);
}

// Parses the frame header at data[0, size). need_more until the whole
// header is there; errors are reported as soon as the bytes that show them
// have arrived: RSV bits set, an unknown opcode, a control frame that is
// fragmented or longer than 125, a 64-bit length with the top bit set
// (1002), payload_size > max_payload (1009). Non-minimal length encodings
// are accepted.
ParseResult parse_header(const std::uint8_t* data, std::size_t size, std::uint64_t max_payload);

// Writes the header for a frame of `payload_size` bytes into out (room for
// max_header_size) with the shortest length encoding; returns its size.
// With `mask`, sets the MASK bit and writes the key bytes as stored in
// FrameHeader::mask_key; the payload still has to be masked (apply_mask).
std::size_t write_header(std::uint8_t* out, Opcode opcode, std::uint64_t payload_size,
                         bool fin = true, std::optional<std::uint32_t> mask = std::nullopt);

// XOR-masks (or unmasks) data in place with the frame's key. `offset` is the
// position of data[0] in the frame's payload, so a payload may be handled in
// pieces. Works 8 bytes at a time.
void apply_mask(std::uint8_t* data, std::size_t size, std::uint32_t mask_key,
                std::uint64_t offset = 0);

// Whether `text` is well-formed UTF-8 (no overlongs, surrogates or code
// points past U+10FFFF).
bool is_valid_utf8(std::string_view text);

// The payload of a close frame: the code in network order, then the reason,
// cut (at a character boundary) so the payload stays <= 125 bytes. Codes
// that must not be sent (1005, 1006, 1015) give an empty payload, which
// means "no status".
std::string close_payload(std::uint16_t code, std::string_view reason);

struct ClosePayload {
  std::uint16_t code = close_no_status;  // 1005 when the payload is empty
  std::string reason;
  bool valid = true;  // false: answer with close 1002
};

// Reads a received close frame's payload. Invalid: size 1, a code that may
// not be sent (< 1000, 1004-1006, 1015, the unassigned 1016-2999, >= 5000),
// a reason that is not UTF-8. 3000-4999 (registered and private) are valid.
ClosePayload parse_close_payload(const std::uint8_t* data, std::size_t size);

// A frame returned by FrameReader::next.
struct Frame {
  FrameHeader header;
  // Unmasked, in the reader's buffer; see FrameReader for how long it lives.
  std::span<std::uint8_t> payload;
};

// Cuts a received byte stream into frames without copying them.
//
//   auto room = reader.writable(4096);
//   n = read(fd, room.data(), room.size());
//   reader.commit(n);
//   while (reader.next(frame) == ParseStatus::ok) use(frame.payload);
//
// Invariants: the buffer holds [begin_, end_) of received, not yet returned
// bytes; next() returns a frame only once all of it is there, unmasks it in
// place and advances begin_ past it; when everything is consumed both go
// back to 0 for free. Bytes are moved (once, only the unconsumed tail) only
// when writable() is asked for more room than is left after end_. The
// buffer is sized for the largest frame plus `read_size`, so while at_least
// <= read_size nothing is allocated after construction.
//
// A payload stays valid and unchanged until the next writable() call (next()
// never moves bytes), so several frames from one read can be used together.
//
// Besides parse_header's checks, next() refuses (1002) a continuation frame
// with no fragmented message open and a new text/binary frame while one is.
// Text payloads are not checked for UTF-8 (is_valid_utf8 is there for a
// caller that accepts text). Errors are sticky: after the first, next()
// keeps returning error.
class FrameReader {
 public:
  static constexpr std::size_t default_read_size = 64 * 1024;
  // Larger limits would make every connection's buffer huge.
  static constexpr std::uint64_t max_max_payload = 64ull * 1024 * 1024;

  // Throws std::invalid_argument when max_payload > max_max_payload or
  // read_size is 0.
  explicit FrameReader(std::uint64_t max_payload, std::size_t read_size = default_read_size);

  // Free space after the buffered bytes, at least at_least bytes (moving or,
  // past read_size, growing the buffer if needed). Invalidates payloads.
  std::span<std::uint8_t> writable(std::size_t at_least);
  // n bytes (n <= the last writable() span) were written there.
  void commit(std::size_t n);
  // The next complete frame: ok (frame filled), need_more, or error (see
  // close_code(), error()).
  ParseStatus next(Frame& frame);

  // After an error: the close code (1002, 1009) and a sentence.
  std::uint16_t close_code() const { return close_code_; }
  const std::string& error() const { return error_; }
  // Received bytes not yet returned as frames.
  std::size_t buffered() const { return end_ - begin_; }
  std::uint64_t max_payload() const { return max_payload_; }
  // Whether a fragmented text/binary message is open (fin=0 seen).
  bool in_message() const { return in_message_; }

 private:
  ParseStatus fail(std::uint16_t code, std::string message);

  std::vector<std::uint8_t> buffer_;  // its size is the capacity; never shrinks
  std::size_t begin_ = 0;             // first unconsumed byte
  std::size_t end_ = 0;               // one past the last committed byte
  std::uint64_t max_payload_;
  bool in_message_ = false;
  bool failed_ = false;
  std::uint16_t close_code_ = 0;
  std::string error_;
};

}  // namespace mnigs::websocket
