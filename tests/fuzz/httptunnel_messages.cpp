// What an HTTP client sends the gateway's front, what a node (or a
// WStunnel client) answers, and a node's upgrade request
// (plugins/tunnel/httptunnel). The first byte picks:
//   0: a request, read by MessageReader<true> as the front does (head, then
//      body), then routed: wstunnel::route, link::read, request_head;
//   1: a response, read by MessageReader<false>, also after a WStunnel id
//      (parse_id on the first four bytes);
// the second byte sets the size of the pieces (1-256 bytes). Pieces and
// whole must give the same head and body.
#include "link.hpp"
#include "message_reader.hpp"
#include "wstunnel.hpp"

#include <cstdint>
#include <cstdlib>
#include <string>

using namespace mnigs::httptunnel;

namespace {

template <bool isRequest>
struct Read {
  bool head = false, done = false, failed = false;
  std::string body;
  std::string head_text;
};

template <bool isRequest>
Read<isRequest> read(const std::uint8_t* data, std::size_t size, std::size_t piece) {
  Read<isRequest> r;
  MessageReader<isRequest> reader(
      4096, {[&] { r.head = true; }, [&](std::string_view b) { r.body += b; },
             [&] { r.done = true; }});
  std::string pending;
  for (std::size_t at = 0; at < size && !r.done && !r.failed; at += piece) {
    pending.append(reinterpret_cast<const char*>(data + at), std::min(piece, size - at));
    boost::beast::error_code ec;
    const std::size_t used = reader.feed(
        {reinterpret_cast<const std::uint8_t*>(pending.data()), pending.size()}, ec);
    if (ec) r.failed = true;
    if (used > pending.size()) std::abort();
    pending.erase(0, used);
    if (pending.size() > 4096 + 256 + 64) r.failed = true;  // as the front refuses it
  }
  if (r.head) {
    if constexpr (isRequest) {
      const auto& h = reader.header();
      const std::string target(h.target());
      const wstunnel::Routed routed = wstunnel::route(target, h);
      if (!routed.refusal) {
        if (routed.token.size() < wstunnel::kMinTokenLength) std::abort();
        if (target.starts_with("/_token/") && !routed.target.starts_with('/')) std::abort();
        const std::string head = wstunnel::request_head(h, routed.target, true, std::nullopt);
        if (!head.ends_with("\r\n\r\n")) std::abort();
      }
      const link::Read hello = link::read(h);
      if (!hello.refusal && hello.hello.secret.size() < link::kMinSecret) std::abort();
    }
  }
  return r;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  const bool response = data[0] & 1;
  const std::size_t piece = std::size_t(data[1]) + 1;
  data += 2;
  size -= 2;
  if (response) {
    if (wstunnel::parse_id({data, size}) && size >= 4) {
      data += 4;
      size -= 4;
    }
    const auto whole = read<false>(data, size, size ? size : 1);
    const auto pieces = read<false>(data, size, piece);
    if (!whole.failed && !pieces.failed && whole.done != pieces.done) std::abort();
    if (whole.done && pieces.done && whole.body != pieces.body) std::abort();
  } else {
    const auto whole = read<true>(data, size, size ? size : 1);
    const auto pieces = read<true>(data, size, piece);
    if (!whole.failed && !pieces.failed && whole.done != pieces.done) std::abort();
    if (whole.done && pieces.done && whole.body != pieces.body) std::abort();
  }
  return 0;
}
