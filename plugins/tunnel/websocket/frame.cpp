#include "frame.hpp"

#include <algorithm>
#include <bit>
#include <cstring>
#include <stdexcept>

namespace mnigs::websocket {

namespace {

ParseResult parse_error(std::uint16_t code, std::string message) {
  ParseResult r;
  r.status = ParseStatus::error;
  r.close_code = code;
  r.error = std::move(message);
  return r;
}

bool known_opcode(std::uint8_t op) { return op <= 2 || (op >= 8 && op <= 10); }

using Word128 = std::uint64_t __attribute__((vector_size(16)));

std::uint64_t load_be(const std::uint8_t* p, std::size_t n) {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < n; ++i) v = (v << 8) | p[i];
  return v;
}

void store_be(std::uint8_t* p, std::uint64_t v, std::size_t n) {
  for (std::size_t i = n; i-- > 0; v >>= 8) p[i] = static_cast<std::uint8_t>(v);
}

// RFC 6455 7.4: what a peer may put in a close frame. 1012-1014 were
// registered with IANA after the RFC (service restart, try again later, bad
// gateway) and are sent by common servers.
bool sendable_close_code(std::uint16_t code) {
  if (code >= 1000 && code <= 1003) return true;
  if (code >= 1007 && code <= 1014) return true;
  return code >= 3000 && code <= 4999;
}

}  // namespace

const char* to_string(Opcode op) {
  switch (op) {
    case Opcode::continuation:
      return "continuation";
    case Opcode::text:
      return "text";
    case Opcode::binary:
      return "binary";
    case Opcode::close:
      return "close";
    case Opcode::ping:
      return "ping";
    case Opcode::pong:
      return "pong";
  }
  return "unknown";
}

ParseResult parse_header(const std::uint8_t* data, std::size_t size, std::uint64_t max_payload) {
  ParseResult r;  // need_more
  if (size < 1) return r;
  const std::uint8_t b0 = data[0];
  if (b0 & 0x70) {
    std::string bits;
    for (int i = 1; i <= 3; ++i) {
      if (b0 & (0x80 >> i)) bits += (bits.empty() ? "RSV" : ", RSV") + std::to_string(i);
    }
    return parse_error(close_protocol_error,
                       "frame has " + bits + " set, but no extension was negotiated");
  }
  const std::uint8_t op = b0 & 0x0f;
  if (!known_opcode(op)) {
    return parse_error(close_protocol_error, "frame has the unknown opcode " + std::to_string(op));
  }
  FrameHeader& h = r.header;
  h.fin = (b0 & 0x80) != 0;
  h.opcode = static_cast<Opcode>(op);
  const bool control = is_control(h.opcode);
  if (control && !h.fin) {
    return parse_error(close_protocol_error, std::string(to_string(h.opcode)) +
                                                 " frame is fragmented; control frames cannot be");
  }
  if (size < 2) return r;
  const std::uint8_t b1 = data[1];
  h.masked = (b1 & 0x80) != 0;
  const std::uint8_t len7 = b1 & 0x7f;
  std::size_t at = 2;
  if (len7 < 126) {
    h.payload_size = len7;
  } else {
    const std::size_t n = len7 == 126 ? 2 : 8;
    if (size < at + n) return r;
    h.payload_size = load_be(data + at, n);
    at += n;
    if (h.payload_size >> 63) {
      return parse_error(close_protocol_error,
                         "frame length has its most significant bit set (RFC 6455 5.2)");
    }
  }
  if (control && h.payload_size > max_control_payload) {
    return parse_error(close_protocol_error,
                       std::string(to_string(h.opcode)) + " frame of " +
                           std::to_string(h.payload_size) +
                           " bytes is longer than the 125 bytes a control frame may carry");
  }
  if (h.payload_size > max_payload) {
    return parse_error(close_too_big, "frame of " + std::to_string(h.payload_size) +
                                          " bytes is larger than the limit of " +
                                          std::to_string(max_payload));
  }
  if (h.masked) {
    if (size < at + 4) return r;
    std::memcpy(&h.mask_key, data + at, 4);
    at += 4;
  }
  h.header_size = at;
  r.status = ParseStatus::ok;
  return r;
}

std::size_t write_header(std::uint8_t* out, Opcode opcode, std::uint64_t payload_size, bool fin,
                         std::optional<std::uint32_t> mask) {
  out[0] = static_cast<std::uint8_t>((fin ? 0x80 : 0) | static_cast<std::uint8_t>(opcode));
  const std::uint8_t mask_bit = mask ? 0x80 : 0;
  std::size_t at = 2;
  if (payload_size < 126) {
    out[1] = static_cast<std::uint8_t>(mask_bit | payload_size);
  } else if (payload_size <= 0xffff) {
    out[1] = mask_bit | 126;
    store_be(out + 2, payload_size, 2);
    at = 4;
  } else {
    out[1] = mask_bit | 127;
    store_be(out + 2, payload_size, 8);
    at = 10;
  }
  if (mask) {
    std::memcpy(out + at, &*mask, 4);
    at += 4;
  }
  return at;
}

void apply_mask(std::uint8_t* data, std::size_t size, std::uint32_t mask_key,
                std::uint64_t offset) {
  // mask_key holds the key bytes in memory order. Starting `offset` bytes
  // into the payload means starting at key byte offset % 4, i.e. rotating
  // the bytes in memory: right on a little-endian machine, left on a
  // big-endian one.
  const int shift = static_cast<int>(offset & 3) * 8;
  std::uint32_t key = mask_key;
  if constexpr (std::endian::native == std::endian::little) {
    key = std::rotr(mask_key, shift);
  } else {
    key = std::rotl(mask_key, shift);
  }
  // Both halves equal, so the byte order of the 64-bit word does not matter.
  const std::uint64_t key8 = (static_cast<std::uint64_t>(key) << 32) | key;
  std::size_t i = 0;
  // 64 bytes per round in 16-byte vectors: SSE2 / NEON registers where the
  // target has them, pairs of words where not (GCC and Clang lower the type
  // either way); about 1.4 times the speed of 8-byte words on a 1500-byte
  // frame. memcpy keeps unaligned access defined and compiles to plain loads.
  const Word128 key16 = {key8, key8};
  for (; i + 64 <= size; i += 64) {
    Word128 w[4];
    std::memcpy(w, data + i, 64);
    w[0] ^= key16;
    w[1] ^= key16;
    w[2] ^= key16;
    w[3] ^= key16;
    std::memcpy(data + i, w, 64);
  }
  for (; i + 8 <= size; i += 8) {
    std::uint64_t w;
    std::memcpy(&w, data + i, 8);
    w ^= key8;
    std::memcpy(data + i, &w, 8);
  }
  // i is a multiple of 8, so the tail starts at key byte 0 again.
  std::uint8_t kb[4];
  std::memcpy(kb, &key, 4);
  for (; i < size; ++i) data[i] ^= kb[i & 3];
}

bool is_valid_utf8(std::string_view text) {
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const std::size_t n = text.size();
  std::size_t i = 0;
  while (i < n) {
    // Close reasons and text are mostly ASCII: skip 8 such bytes at a time.
    if (i + 8 <= n) {
      std::uint64_t w;
      std::memcpy(&w, p + i, 8);
      if ((w & 0x8080808080808080ull) == 0) {
        i += 8;
        continue;
      }
    }
    const unsigned char c = p[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    std::size_t len;
    std::uint32_t cp;
    std::uint32_t min;
    if ((c & 0xe0) == 0xc0) {
      len = 2, cp = c & 0x1f, min = 0x80;
    } else if ((c & 0xf0) == 0xe0) {
      len = 3, cp = c & 0x0f, min = 0x800;
    } else if ((c & 0xf8) == 0xf0) {
      len = 4, cp = c & 0x07, min = 0x10000;
    } else {
      return false;
    }
    if (i + len > n) return false;
    for (std::size_t k = 1; k < len; ++k) {
      if ((p[i + k] & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (p[i + k] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
    i += len;
  }
  return true;
}

std::string close_payload(std::uint16_t code, std::string_view reason) {
  // These three stand for "no code was received" and must never be sent
  // (RFC 6455 7.4.1); an empty close payload says the same.
  if (code == 1005 || code == 1006 || code == 1015) return {};
  std::string out;
  out.reserve(2 + std::min<std::size_t>(reason.size(), max_control_payload - 2));
  out.push_back(static_cast<char>(code >> 8));
  out.push_back(static_cast<char>(code & 0xff));
  std::size_t n = std::min<std::size_t>(reason.size(), max_control_payload - 2);
  // Cutting inside a multi-byte character would make the reason invalid
  // UTF-8, which the peer must treat as a protocol error.
  if (n < reason.size()) {
    while (n > 0 && (static_cast<unsigned char>(reason[n]) & 0xc0) == 0x80) --n;
  }
  out.append(reason.substr(0, n));
  return out;
}

ClosePayload parse_close_payload(const std::uint8_t* data, std::size_t size) {
  ClosePayload c;
  if (size == 0) return c;
  if (size == 1 || size > max_control_payload) {
    c.valid = false;
    return c;
  }
  c.code = static_cast<std::uint16_t>(data[0] << 8 | data[1]);
  c.reason.assign(reinterpret_cast<const char*>(data + 2), size - 2);
  c.valid = sendable_close_code(c.code) && is_valid_utf8(c.reason);
  return c;
}

FrameReader::FrameReader(std::uint64_t max_payload, std::size_t read_size)
    : max_payload_(max_payload) {
  if (max_payload > max_max_payload) {
    throw std::invalid_argument("websocket: a frame limit of " + std::to_string(max_payload) +
                                " bytes is more than the " + std::to_string(max_max_payload) +
                                " allowed");
  }
  if (read_size == 0) throw std::invalid_argument("websocket: read_size must be positive");
  // A whole largest frame plus a read beside it: a frame can always be
  // completed in place, and after moving the unconsumed tail to the front
  // (less than one frame) at least read_size bytes are free.
  buffer_.resize(max_header_size + static_cast<std::size_t>(max_payload) + read_size);
}

std::span<std::uint8_t> FrameReader::writable(std::size_t at_least) {
  if (buffer_.size() - end_ < at_least) {
    if (begin_ > 0) {
      std::memmove(buffer_.data(), buffer_.data() + begin_, end_ - begin_);
      end_ -= begin_;
      begin_ = 0;
    }
    if (buffer_.size() - end_ < at_least) buffer_.resize(end_ + at_least);
  }
  return {buffer_.data() + end_, buffer_.size() - end_};
}

void FrameReader::commit(std::size_t n) {
  if (n > buffer_.size() - end_) {
    throw std::logic_error("websocket: FrameReader::commit past the writable span");
  }
  end_ += n;
}

ParseStatus FrameReader::fail(std::uint16_t code, std::string message) {
  failed_ = true;
  close_code_ = code;
  error_ = std::move(message);
  return ParseStatus::error;
}

ParseStatus FrameReader::next(Frame& frame) {
  if (failed_) return ParseStatus::error;
  std::uint8_t* p = buffer_.data() + begin_;
  const std::size_t available = end_ - begin_;
  ParseResult r = parse_header(p, available, max_payload_);
  if (r.status == ParseStatus::error) return fail(r.close_code, std::move(r.error));
  if (r.status == ParseStatus::need_more) return ParseStatus::need_more;
  const FrameHeader& h = r.header;
  // payload_size <= max_payload <= max_max_payload, so this cannot overflow.
  const std::size_t total = h.header_size + static_cast<std::size_t>(h.payload_size);
  if (available < total) return ParseStatus::need_more;

  if (!is_control(h.opcode)) {
    if (h.opcode == Opcode::continuation) {
      if (!in_message_) {
        return fail(close_protocol_error,
                    "continuation frame arrived with no fragmented message to continue");
      }
    } else if (in_message_) {
      return fail(close_protocol_error, std::string(to_string(h.opcode)) +
                                            " frame arrived before the fragmented message "
                                            "in progress was finished");
    }
    in_message_ = !h.fin;
  }

  std::uint8_t* payload = p + h.header_size;
  if (h.masked) apply_mask(payload, static_cast<std::size_t>(h.payload_size), h.mask_key);
  frame.header = h;
  frame.payload = {payload, static_cast<std::size_t>(h.payload_size)};
  begin_ += total;
  // Everything consumed: start over at the front without moving anything.
  // The payload just returned stays untouched until writable() hands the
  // space out again.
  if (begin_ == end_) begin_ = end_ = 0;
  return ParseStatus::ok;
}

}  // namespace mnigs::websocket
