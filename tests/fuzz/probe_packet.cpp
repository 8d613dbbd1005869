// The health probe datagram (core/probe/packet.cpp): what the gateway's echo
// service reads from anyone on the mesh, and what the subscriber's prober
// reads back. What parses must encode to the very same bytes.
#include "probe/packet.hpp"

#include <cstdint>
#include <cstdlib>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view datagram(reinterpret_cast<const char*>(data), size);
  auto p = mnigs::probe::parse(datagram);
  if (!p) return 0;
  if (p->size != size || mnigs::probe::encode(*p) != datagram) std::abort();
  return 0;
}
