// The HTTP/2 session between a node and its gateway (plugins/tunnel/
// httptunnel/mux.cpp): what a node sends a gateway, and a gateway a node.
// First byte: bit 0 the role reading the rest (0: the node's end, Role::
// server; 1: the gateway's end, Role::client, with one stream opened first);
// bits 1-7 the size of the pieces the rest is fed in (1-128 bytes).
// Streams are answered and their bytes consumed as the plugin does; the
// output is drained after each piece. What must hold: feed() never throws,
// a failed session stays failed, output stays within its bound.
#include "mux.hpp"

#include <cstdint>
#include <cstdlib>

using namespace mnigs::httptunnel;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const bool gateway = data[0] & 1;
  const std::size_t piece = (data[0] >> 1) + 1;
  MuxLimits limits;
  limits.stream_window = 4096;
  limits.connection_window = 16384;
  limits.max_concurrent_streams = 8;
  MuxSession* self = nullptr;
  MuxSession session(
      gateway ? MuxSession::Role::client : MuxSession::Role::server, limits,
      [&self](std::int32_t id, std::string, Headers) {
        StreamHandler h;
        h.on_data = [&self, id](std::span<const std::uint8_t> b) {
          self->consumed(id, b.size());
          self->write(id, b);
        };
        h.on_end = [&self, id] { self->end(id); };
        self->respond(id, 200);
        return h;
      });
  self = &session;
  if (gateway) {
    StreamHandler h;
    h.on_data = [](std::span<const std::uint8_t>) {};
    const std::int32_t id = session.open("-token", {{"mnigs-client", "10.0.0.1"}}, h);
    if (id > 0) {
      static const std::uint8_t request[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
      session.write(id, {request, sizeof request - 1});
    }
  }
  bool failed = false;
  for (std::size_t at = 1; at < size; at += piece) {
    const std::size_t n = std::min(piece, size - at);
    const std::string why = session.feed({data + at, n});
    if (failed && why.empty() && session.alive()) std::abort();  // failure is final
    if (!why.empty()) failed = true;
    for (int i = 0; i < 64; ++i) {
      const auto out = session.output();
      if (out.empty()) break;
      if (out.size() > 64 * 1024 + 16 * 1024 + 9) std::abort();
      session.output_done(out.size());
    }
  }
  return 0;
}
