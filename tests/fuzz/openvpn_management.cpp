// The byte stream from an openvpn management socket, parsed by
// openvpn::Parser (plugins/tunnel/openvpn/management.cpp). The first byte
// sets the size of each piece fed and whether a multi-line answer is
// expected first. The messages and counters must be the same however the
// stream is cut, the parser must hold no more than its bounds allow, and
// every ENV block must be within its bounds.
#include "plugins/tunnel/openvpn/management.hpp"

#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

namespace ov = mnigs::openvpn;

namespace {

struct Out {
  std::vector<ov::Message> messages;
  ov::ParserCounters counters;
};

Out parse(std::string_view text, std::size_t chunk, bool expect_lines) {
  ov::Parser parser;
  if (expect_lines) parser.expect_lines();
  Out out;
  // An ENV block holds at most kMaxEnvLines lines of kMaxLine bytes; an
  // answer kMaxReplyBytes; plus the unfinished line.
  const std::size_t bound = ov::kMaxEnvLines * ov::kMaxLine + ov::kMaxReplyBytes + ov::kMaxLine + 1;
  for (std::size_t at = 0; at < text.size(); at += chunk) {
    for (auto& m : parser.feed(text.substr(at, chunk))) out.messages.push_back(std::move(m));
    if (parser.buffered() > bound) std::abort();
  }
  parser.finish();
  if (parser.buffered() != 0) std::abort();
  out.counters = parser.counters();
  for (const auto& m : out.messages) {
    std::visit(
        [](const auto& v) {
          if constexpr (requires { v.env; }) {
            if (v.env.size() > ov::kMaxEnvLines) std::abort();
            for (const auto& var : v.env) {
              if (var.name.empty() || var.name.size() > ov::kMaxEnvName) std::abort();
            }
          }
        },
        m);
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const std::size_t chunk = data[0] % 64 + 1;
  const bool expect_lines = data[0] & 0x80;
  const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  const Out pieces = parse(text, chunk, expect_lines);
  const Out whole = parse(text, text.size() + 1, expect_lines);
  if (!(pieces.messages == whole.messages) || !(pieces.counters == whole.counters)) std::abort();
  // State lines parse on their own too.
  (void)ov::parse_state(text.substr(0, 256));
  return 0;
}
