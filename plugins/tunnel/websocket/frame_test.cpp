// Unit tests of RFC 6455 framing: headers, masking, close payloads and the
// incremental FrameReader.
#include "frame.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

namespace mnigs::websocket {
namespace {

using Bytes = std::vector<std::uint8_t>;

Bytes bytes(std::initializer_list<int> list) {
  Bytes b;
  for (int v : list) b.push_back(static_cast<std::uint8_t>(v));
  return b;
}

Bytes bytes(std::string_view s) { return Bytes(s.begin(), s.end()); }

std::string text(std::span<const std::uint8_t> s) { return std::string(s.begin(), s.end()); }

// The RFC's example masking key, 37 fa 21 3d, as FrameHeader keeps it.
std::uint32_t key_of(std::initializer_list<int> four) {
  const Bytes b = bytes(four);
  std::uint32_t k;
  std::memcpy(&k, b.data(), 4);
  return k;
}
const std::uint32_t kRfcKey = key_of({0x37, 0xfa, 0x21, 0x3d});

// A whole frame as a sender puts it on the wire.
Bytes encode(Opcode op, const Bytes& payload, bool fin = true,
             std::optional<std::uint32_t> mask = std::nullopt) {
  Bytes out(max_header_size + payload.size());
  const std::size_t h = write_header(out.data(), op, payload.size(), fin, mask);
  if (!payload.empty()) std::memcpy(out.data() + h, payload.data(), payload.size());
  if (mask) apply_mask(out.data() + h, payload.size(), *mask);
  out.resize(h + payload.size());
  return out;
}

ParseResult parse(const Bytes& b, std::uint64_t max_payload = 1 << 20) {
  return parse_header(b.data(), b.size(), max_payload);
}

// ---- RFC 6455 section 5.7, byte for byte ----

TEST(Frame, RfcUnmaskedHello) {
  const Bytes wire = bytes({0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f});
  EXPECT_EQ(encode(Opcode::text, bytes("Hello")), wire);
  const ParseResult r = parse(wire);
  ASSERT_EQ(r.status, ParseStatus::ok);
  EXPECT_TRUE(r.header.fin);
  EXPECT_EQ(r.header.opcode, Opcode::text);
  EXPECT_FALSE(r.header.masked);
  EXPECT_EQ(r.header.payload_size, 5u);
  EXPECT_EQ(r.header.header_size, 2u);
}

TEST(Frame, RfcMaskedHello) {
  const Bytes wire = bytes({0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58});
  EXPECT_EQ(encode(Opcode::text, bytes("Hello"), true, kRfcKey), wire);
  const ParseResult r = parse(wire);
  ASSERT_EQ(r.status, ParseStatus::ok);
  EXPECT_TRUE(r.header.masked);
  EXPECT_EQ(r.header.mask_key, kRfcKey);
  EXPECT_EQ(r.header.header_size, 6u);
  Bytes payload(wire.begin() + 6, wire.end());
  apply_mask(payload.data(), payload.size(), r.header.mask_key);
  EXPECT_EQ(text(payload), "Hello");
}

TEST(Frame, RfcFragmentedHello) {
  EXPECT_EQ(encode(Opcode::text, bytes("Hel"), false), bytes({0x01, 0x03, 0x48, 0x65, 0x6c}));
  EXPECT_EQ(encode(Opcode::continuation, bytes("lo")), bytes({0x80, 0x02, 0x6c, 0x6f}));
}

TEST(Frame, RfcPingAndMaskedPong) {
  EXPECT_EQ(encode(Opcode::ping, bytes("Hello")),
            bytes({0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f}));
  EXPECT_EQ(encode(Opcode::pong, bytes("Hello"), true, kRfcKey),
            bytes({0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58}));
}

TEST(Frame, Rfc256ByteBinaryUses16BitLength) {
  std::uint8_t h[max_header_size];
  ASSERT_EQ(write_header(h, Opcode::binary, 256), 4u);
  EXPECT_EQ(Bytes(h, h + 4), bytes({0x82, 0x7e, 0x01, 0x00}));
  const ParseResult r = parse(Bytes(h, h + 4));
  ASSERT_EQ(r.status, ParseStatus::ok);
  EXPECT_EQ(r.header.payload_size, 256u);
  EXPECT_EQ(r.header.header_size, 4u);
}

TEST(Frame, Rfc64KiBBinaryUses64BitLength) {
  std::uint8_t h[max_header_size];
  ASSERT_EQ(write_header(h, Opcode::binary, 65536), 10u);
  EXPECT_EQ(Bytes(h, h + 10), bytes({0x82, 0x7f, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00}));
  const ParseResult r = parse(Bytes(h, h + 10));
  ASSERT_EQ(r.status, ParseStatus::ok);
  EXPECT_EQ(r.header.payload_size, 65536u);
  EXPECT_EQ(r.header.header_size, 10u);
}

TEST(Frame, LengthEncodingBoundaries) {
  struct Case {
    std::uint64_t size;
    std::size_t header;
  };
  for (const Case c : {Case{0, 2}, Case{125, 2}, Case{126, 4}, Case{65535, 4}, Case{65536, 10},
                       Case{std::uint64_t{1} << 40, 10}}) {
    std::uint8_t h[max_header_size];
    EXPECT_EQ(write_header(h, Opcode::binary, c.size), c.header) << c.size;
    EXPECT_EQ(header_size_for(c.size, false), c.header) << c.size;
    EXPECT_EQ(write_header(h, Opcode::binary, c.size, true, 0x01020304u), c.header + 4);
    EXPECT_EQ(header_size_for(c.size, true), c.header + 4);
    const ParseResult r = parse_header(h, c.header + 4, std::uint64_t{1} << 41);
    ASSERT_EQ(r.status, ParseStatus::ok) << c.size;
    EXPECT_EQ(r.header.payload_size, c.size);
    EXPECT_EQ(r.header.mask_key, 0x01020304u);
  }
}

TEST(Frame, FinBitAndOpcodeRoundTrip) {
  std::uint8_t h[max_header_size];
  write_header(h, Opcode::binary, 3, false);
  EXPECT_EQ(h[0], 0x02);
  const ParseResult r = parse_header(h, 2, 100);
  ASSERT_EQ(r.status, ParseStatus::ok);
  EXPECT_FALSE(r.header.fin);
  EXPECT_EQ(r.header.opcode, Opcode::binary);
}

// ---- what the parser accepts and refuses ----

TEST(Frame, UnmaskedEmptyPingAsVpnWsSendsIt) {
  const ParseResult r = parse(bytes({0x89, 0x00}));
  ASSERT_EQ(r.status, ParseStatus::ok);
  EXPECT_EQ(r.header.opcode, Opcode::ping);
  EXPECT_FALSE(r.header.masked);
  EXPECT_EQ(r.header.payload_size, 0u);
}

TEST(Frame, NonMinimalLengthIsAccepted) {
  const ParseResult r = parse(bytes({0x82, 0x7e, 0x00, 0x05}));
  ASSERT_EQ(r.status, ParseStatus::ok);
  EXPECT_EQ(r.header.payload_size, 5u);
  EXPECT_EQ(r.header.header_size, 4u);
}

TEST(Frame, NeedsMoreUntilTheWholeHeaderIsThere) {
  std::uint8_t h[max_header_size];
  for (std::uint64_t size : {5ull, 300ull, 70000ull}) {
    const std::size_t n = write_header(h, Opcode::binary, size, true, 0xdeadbeefu);
    for (std::size_t prefix = 0; prefix < n; ++prefix) {
      EXPECT_EQ(parse_header(h, prefix, 1 << 20).status, ParseStatus::need_more)
          << size << " " << prefix;
    }
    EXPECT_EQ(parse_header(h, n, 1 << 20).status, ParseStatus::ok);
  }
}

TEST(Frame, ReservedBitsAreAProtocolError) {
  for (int rsv : {0x40, 0x20, 0x10}) {
    const ParseResult r = parse(bytes({0x82 | rsv}));  // visible from the first byte
    ASSERT_EQ(r.status, ParseStatus::error) << rsv;
    EXPECT_EQ(r.close_code, 1002);
    EXPECT_NE(r.error.find("RSV"), std::string::npos) << r.error;
  }
}

TEST(Frame, UnknownOpcodesAreAProtocolError) {
  for (int op : {3, 4, 5, 6, 7, 11, 12, 13, 14, 15}) {
    const ParseResult r = parse(bytes({0x80 | op, 0x00}));
    ASSERT_EQ(r.status, ParseStatus::error) << op;
    EXPECT_EQ(r.close_code, 1002);
    EXPECT_NE(r.error.find("opcode " + std::to_string(op)), std::string::npos) << r.error;
  }
}

TEST(Frame, FragmentedControlFrameIsAProtocolError) {
  for (int op : {0x08, 0x09, 0x0a}) {
    const ParseResult r = parse(bytes({op, 0x00}));
    ASSERT_EQ(r.status, ParseStatus::error) << op;
    EXPECT_EQ(r.close_code, 1002);
  }
}

TEST(Frame, ControlFrameOver125BytesIsAProtocolError) {
  EXPECT_EQ(parse(bytes({0x89, 0x7d})).status, ParseStatus::ok);  // 125
  const ParseResult r = parse(bytes({0x89, 0x7e, 0x00, 0x7e}));   // 126
  ASSERT_EQ(r.status, ParseStatus::error);
  EXPECT_EQ(r.close_code, 1002);
  EXPECT_NE(r.error.find("ping frame of 126 bytes"), std::string::npos) << r.error;
}

TEST(Frame, SixtyFourBitLengthWithTopBitIsAProtocolError) {
  const ParseResult r = parse(bytes({0x82, 0x7f, 0x80, 0, 0, 0, 0, 0, 0, 1}));
  ASSERT_EQ(r.status, ParseStatus::error);
  EXPECT_EQ(r.close_code, 1002);
}

TEST(Frame, OversizeIs1009AndSaysBothSizes) {
  std::uint8_t h[max_header_size];
  const std::size_t n = write_header(h, Opcode::binary, 70000, true, 0x11223344u);
  // Refused as soon as the length is known, before the masking key arrives.
  const ParseResult r = parse_header(h, n - 4, 65600);
  ASSERT_EQ(r.status, ParseStatus::error);
  EXPECT_EQ(r.close_code, 1009);
  EXPECT_EQ(r.error, "frame of 70000 bytes is larger than the limit of 65600");
  EXPECT_EQ(parse_header(h, n, 70000).status, ParseStatus::ok);  // at the limit is fine
}

// ---- masking ----

void mask_bytewise(std::uint8_t* data, std::size_t size, const std::uint8_t key[4],
                   std::size_t offset) {
  for (std::size_t i = 0; i < size; ++i) data[i] ^= key[(offset + i) % 4];
}

TEST(Mask, MatchesTheRfcDefinitionForEverySizeAndOffset) {
  std::mt19937 rng(7);
  const std::uint8_t key[4] = {0x37, 0xfa, 0x21, 0x3d};
  for (std::size_t size = 0; size < 80; ++size) {
    for (std::size_t offset = 0; offset < 9; ++offset) {
      Bytes data(size);
      for (auto& b : data) b = static_cast<std::uint8_t>(rng());
      Bytes expected = data;
      mask_bytewise(expected.data(), size, key, offset);
      apply_mask(data.data(), size, kRfcKey, offset);
      ASSERT_EQ(data, expected) << "size " << size << " offset " << offset;
    }
  }
}

TEST(Mask, InPiecesAtOddOffsetsEqualsAllAtOnce) {
  std::mt19937 rng(42);
  Bytes original(5000);
  for (auto& b : original) b = static_cast<std::uint8_t>(rng());
  const std::uint32_t key = 0x9a3b5c7du;
  Bytes whole = original;
  apply_mask(whole.data(), whole.size(), key);

  // Pieces of 1, 3, 7, 13, ... bytes, each on an unaligned address.
  Bytes pieces = original;
  std::size_t at = 0;
  for (std::size_t len = 1; at < pieces.size(); len = (len * 2 + 1) % 211) {
    const std::size_t n = std::min(len, pieces.size() - at);
    apply_mask(pieces.data() + at, n, key, at);
    at += n;
  }
  EXPECT_EQ(pieces, whole);
  // And masking is its own inverse.
  apply_mask(whole.data(), whole.size(), key);
  EXPECT_EQ(whole, original);
}

TEST(Mask, OffsetBeyond32Bits) {
  Bytes a(16, 0), b(16, 0);
  const std::uint32_t key = key_of({1, 2, 3, 4});
  apply_mask(a.data(), a.size(), key, (std::uint64_t{1} << 33) + 3);
  apply_mask(b.data(), b.size(), key, 3);
  EXPECT_EQ(a, b);
  EXPECT_EQ(a[0], 4);
  EXPECT_EQ(a[1], 1);
}

// ---- close frames ----

TEST(Close, PayloadIsCodeInNetworkOrderThenReason) {
  EXPECT_EQ(bytes(close_payload(1000, "bye")), bytes({0x03, 0xe8, 'b', 'y', 'e'}));
  EXPECT_EQ(bytes(close_payload(1009, "")), bytes({0x03, 0xf1}));
}

TEST(Close, CodesThatMustNotBeSentGiveAnEmptyPayload) {
  EXPECT_EQ(close_payload(1005, "x"), "");
  EXPECT_EQ(close_payload(1006, "x"), "");
  EXPECT_EQ(close_payload(1015, "x"), "");
}

TEST(Close, LongReasonIsCutAtACharacterBoundary) {
  EXPECT_EQ(close_payload(1000, std::string(300, 'a')).size(), 125u);
  std::string accents;
  for (int i = 0; i < 100; ++i) accents += "\xc3\xa9";  // é
  const std::string p = close_payload(1000, accents);
  EXPECT_EQ(p.size(), 124u);  // 123 would split the 62nd é
  EXPECT_TRUE(is_valid_utf8(std::string_view(p).substr(2)));
}

TEST(Close, ParseEmptyAndRoundTrip) {
  const ClosePayload empty = parse_close_payload(nullptr, 0);
  EXPECT_TRUE(empty.valid);
  EXPECT_EQ(empty.code, 1005);
  const std::string p = close_payload(4001, "going");
  const ClosePayload c =
      parse_close_payload(reinterpret_cast<const std::uint8_t*>(p.data()), p.size());
  EXPECT_TRUE(c.valid);
  EXPECT_EQ(c.code, 4001);
  EXPECT_EQ(c.reason, "going");
}

TEST(Close, SizeOneIsInvalid) {
  const Bytes b = bytes({0x03});
  EXPECT_FALSE(parse_close_payload(b.data(), b.size()).valid);
}

TEST(Close, CodesPerRfcSection74) {
  auto valid = [](int code) {
    const Bytes b = bytes({code >> 8, code & 0xff});
    return parse_close_payload(b.data(), b.size()).valid;
  };
  for (int code : {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000,
                   3999, 4000, 4999}) {
    EXPECT_TRUE(valid(code)) << code;
  }
  for (int code : {0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535}) {
    EXPECT_FALSE(valid(code)) << code;
  }
}

TEST(Close, ReasonMustBeUtf8) {
  const Bytes b = bytes({0x03, 0xe8, 0xc3, 0x28});
  EXPECT_FALSE(parse_close_payload(b.data(), b.size()).valid);
}

TEST(Utf8, AcceptsWellFormedAndRefusesTheRest) {
  EXPECT_TRUE(is_valid_utf8(""));
  EXPECT_TRUE(is_valid_utf8("plain ascii, longer than eight bytes"));
  EXPECT_TRUE(is_valid_utf8("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"));  // é € 😀
  EXPECT_TRUE(is_valid_utf8("\xf4\x8f\xbf\xbf"));                      // U+10FFFF
  EXPECT_FALSE(is_valid_utf8("\xc0\x80"));                             // overlong NUL
  EXPECT_FALSE(is_valid_utf8("\xe0\x80\xaf"));                         // overlong '/'
  EXPECT_FALSE(is_valid_utf8("\xed\xa0\x80"));                         // surrogate
  EXPECT_FALSE(is_valid_utf8("\xf4\x90\x80\x80"));                     // past U+10FFFF
  EXPECT_FALSE(is_valid_utf8("abcdefgh\xe2\x82"));                     // cut short
  EXPECT_FALSE(is_valid_utf8("\x80"));
  EXPECT_FALSE(is_valid_utf8("\xff"));
}

// ---- FrameReader ----

constexpr std::uint64_t kLimit = 65600;

// Frames of assorted kinds and sizes, masked and not, with control frames
// between the fragments of a message.
struct Stream {
  std::vector<Frame> expected;  // header fields and payload copies below
  std::vector<Bytes> payloads;
  Bytes wire;
};

Stream make_stream(std::uint32_t seed) {
  std::mt19937 rng(seed);
  Stream s;
  auto add = [&](Opcode op, std::size_t size, bool fin, bool masked) {
    Bytes payload(size);
    for (auto& b : payload) b = static_cast<std::uint8_t>(rng());
    const auto mask = masked ? std::optional<std::uint32_t>(rng()) : std::nullopt;
    const Bytes w = encode(op, payload, fin, mask);
    s.wire.insert(s.wire.end(), w.begin(), w.end());
    Frame f;
    f.header.opcode = op;
    f.header.fin = fin;
    f.header.masked = masked;
    f.header.payload_size = size;
    s.expected.push_back(f);
    s.payloads.push_back(payload);
  };
  for (std::size_t size : {0, 1, 14, 60, 125, 126, 1500, 9000, 65535, 65536, 65600}) {
    add(Opcode::binary, size, true, size % 2 == 0);
  }
  add(Opcode::ping, 0, true, false);
  add(Opcode::binary, 700, false, true);
  add(Opcode::ping, 125, true, true);
  add(Opcode::continuation, 3000, false, true);
  add(Opcode::pong, 4, true, false);
  add(Opcode::continuation, 1, true, true);
  for (int i = 0; i < 200; ++i) add(Opcode::binary, 14 + rng() % 1500, true, true);
  add(Opcode::close, 2, true, true);
  return s;
}

// Feeds `wire` in chunks chosen by `chunk`, checking every frame as it comes.
void feed(FrameReader& reader, const Stream& s, const std::function<std::size_t()>& chunk) {
  std::size_t at = 0;
  std::size_t got = 0;
  Frame frame;
  while (at < s.wire.size()) {
    const std::size_t n = std::min(chunk(), s.wire.size() - at);
    auto room = reader.writable(n);
    ASSERT_GE(room.size(), n);
    std::memcpy(room.data(), s.wire.data() + at, n);
    reader.commit(n);
    at += n;
    ParseStatus st;
    while ((st = reader.next(frame)) == ParseStatus::ok) {
      ASSERT_LT(got, s.expected.size());
      const Frame& e = s.expected[got];
      EXPECT_EQ(frame.header.opcode, e.header.opcode) << "frame " << got;
      EXPECT_EQ(frame.header.fin, e.header.fin) << "frame " << got;
      EXPECT_EQ(frame.header.masked, e.header.masked) << "frame " << got;
      ASSERT_EQ(frame.payload.size(), e.header.payload_size) << "frame " << got;
      EXPECT_TRUE(std::equal(frame.payload.begin(), frame.payload.end(), s.payloads[got].begin()))
          << "frame " << got;
      ++got;
    }
    ASSERT_EQ(st, ParseStatus::need_more) << reader.error();
  }
  EXPECT_EQ(got, s.expected.size());
  EXPECT_EQ(reader.buffered(), 0u);
}

TEST(FrameReader, WholeStreamInOneGo) {
  const Stream s = make_stream(1);
  FrameReader reader(kLimit, s.wire.size());
  feed(reader, s, [&] { return s.wire.size(); });
}

TEST(FrameReader, OneByteAtATime) {
  const Stream s = make_stream(2);
  FrameReader reader(kLimit);
  feed(reader, s, [] { return std::size_t{1}; });
}

TEST(FrameReader, RandomChunksWithFixedSeed) {
  const Stream s = make_stream(3);
  for (std::uint32_t seed : {11u, 12u, 13u}) {
    std::mt19937 rng(seed);
    FrameReader reader(kLimit, 16384);
    feed(reader, s, [&] { return std::size_t{1} + rng() % 16384; });
  }
}

TEST(FrameReader, NeverGrowsWhileReadsFitTheReadSize) {
  const Stream s = make_stream(4);
  const std::size_t read_size = 4096;
  FrameReader reader(kLimit, read_size);
  const std::uint8_t* base = reader.writable(1).data();
  const std::size_t capacity = max_header_size + kLimit + read_size;
  std::mt19937 rng(5);
  std::size_t at = 0;
  Frame frame;
  std::size_t frames = 0;
  while (at < s.wire.size()) {
    auto room = reader.writable(read_size);
    // Always inside the buffer allocated at construction.
    ASSERT_GE(room.data(), base);
    ASSERT_LE(room.data() + room.size(), base + capacity);
    ASSERT_GE(room.size(), read_size);
    const std::size_t n = std::min<std::size_t>(
        room.size(), std::min<std::size_t>(1 + rng() % 9000, s.wire.size() - at));
    std::memcpy(room.data(), s.wire.data() + at, n);
    reader.commit(n);
    at += n;
    while (reader.next(frame) == ParseStatus::ok) ++frames;
  }
  EXPECT_EQ(frames, s.expected.size());
}

TEST(FrameReader, MaxSizeFrameAfterAPartialOne) {
  // A small frame and the first bytes of a maximal one, then the rest: the
  // reader must move the partial frame to make room, and still return it.
  Bytes big(kLimit);
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<std::uint8_t>(i * 7);
  Bytes wire = encode(Opcode::binary, bytes("tiny"), true, 0x01020304u);
  const Bytes w = encode(Opcode::binary, big, true, 0xa1b2c3d4u);
  wire.insert(wire.end(), w.begin(), w.end());

  FrameReader reader(kLimit, 1024);
  Frame frame;
  const std::size_t first = 1000;
  auto room = reader.writable(first);
  std::memcpy(room.data(), wire.data(), first);
  reader.commit(first);
  ASSERT_EQ(reader.next(frame), ParseStatus::ok);
  EXPECT_EQ(text(frame.payload), "tiny");
  ASSERT_EQ(reader.next(frame), ParseStatus::need_more);
  std::size_t at = first;
  while (at < wire.size()) {
    room = reader.writable(1024);
    const std::size_t n = std::min(room.size(), wire.size() - at);
    std::memcpy(room.data(), wire.data() + at, n);
    reader.commit(n);
    at += n;
  }
  ASSERT_EQ(reader.next(frame), ParseStatus::ok) << reader.error();
  EXPECT_EQ(frame.payload.size(), kLimit);
  EXPECT_TRUE(std::equal(frame.payload.begin(), frame.payload.end(), big.begin()));
}

TEST(FrameReader, PayloadsOfOneReadStayValidTogether) {
  Bytes wire = encode(Opcode::binary, bytes("first"), true, 0x55555555u);
  const Bytes second = encode(Opcode::binary, bytes("second"), true, 0x66666666u);
  wire.insert(wire.end(), second.begin(), second.end());
  FrameReader reader(1500);
  auto room = reader.writable(wire.size());
  std::memcpy(room.data(), wire.data(), wire.size());
  reader.commit(wire.size());
  Frame a, b;
  ASSERT_EQ(reader.next(a), ParseStatus::ok);
  ASSERT_EQ(reader.next(b), ParseStatus::ok);
  EXPECT_EQ(text(a.payload), "first");
  EXPECT_EQ(text(b.payload), "second");
  EXPECT_EQ(reader.next(a), ParseStatus::need_more);
}

TEST(FrameReader, LargerReadThanReadSizeGrowsTheBuffer) {
  FrameReader reader(100, 10);
  const Bytes wire = encode(Opcode::binary, Bytes(100, 0xab));
  auto room = reader.writable(5000);
  ASSERT_GE(room.size(), 5000u);
  std::memcpy(room.data(), wire.data(), wire.size());
  reader.commit(wire.size());
  Frame f;
  ASSERT_EQ(reader.next(f), ParseStatus::ok);
  EXPECT_EQ(f.payload.size(), 100u);
}

FrameReader reader_with(const Bytes& wire, std::uint64_t limit = 1500) {
  FrameReader reader(limit);
  auto room = reader.writable(wire.size());
  std::memcpy(room.data(), wire.data(), wire.size());
  reader.commit(wire.size());
  return reader;
}

TEST(FrameReader, OversizeIs1009AndSticky) {
  FrameReader reader = reader_with(encode(Opcode::binary, Bytes(1501)));
  Frame f;
  ASSERT_EQ(reader.next(f), ParseStatus::error);
  EXPECT_EQ(reader.close_code(), 1009);
  EXPECT_EQ(reader.error(), "frame of 1501 bytes is larger than the limit of 1500");
  EXPECT_EQ(reader.next(f), ParseStatus::error);
}

TEST(FrameReader, ContinuationWithoutAMessageIs1002) {
  FrameReader reader = reader_with(encode(Opcode::continuation, bytes("x")));
  Frame f;
  ASSERT_EQ(reader.next(f), ParseStatus::error);
  EXPECT_EQ(reader.close_code(), 1002);
}

TEST(FrameReader, NewMessageBeforeTheFragmentedOneEndsIs1002) {
  Bytes wire = encode(Opcode::binary, bytes("a"), false);
  const Bytes ping = encode(Opcode::ping, {});
  const Bytes next = encode(Opcode::binary, bytes("b"));
  wire.insert(wire.end(), ping.begin(), ping.end());
  wire.insert(wire.end(), next.begin(), next.end());
  FrameReader reader = reader_with(wire);
  Frame f;
  ASSERT_EQ(reader.next(f), ParseStatus::ok);
  EXPECT_TRUE(reader.in_message());
  ASSERT_EQ(reader.next(f), ParseStatus::ok);  // control frames may come in between
  EXPECT_EQ(f.header.opcode, Opcode::ping);
  ASSERT_EQ(reader.next(f), ParseStatus::error);
  EXPECT_EQ(reader.close_code(), 1002);
}

TEST(FrameReader, BadHeaderIs1002) {
  FrameReader reader = reader_with(bytes({0xc2, 0x00}));  // RSV1
  Frame f;
  ASSERT_EQ(reader.next(f), ParseStatus::error);
  EXPECT_EQ(reader.close_code(), 1002);
  EXPECT_FALSE(reader.error().empty());
}

TEST(FrameReader, RefusesAbsurdLimits) {
  EXPECT_THROW(FrameReader(FrameReader::max_max_payload + 1), std::invalid_argument);
  EXPECT_THROW(FrameReader(1500, 0), std::invalid_argument);
}

}  // namespace
}  // namespace mnigs::websocket
