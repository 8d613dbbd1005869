// The virtio-net header in front of every packet a peer sends through the
// websocket tunnel (read_vnet_wire, check_vnet): what passes the check must
// point inside the packet behind it, as the kernel will trust it.
#include "tun.hpp"

#include <cstdint>
#include <cstdlib>
#include <cstring>

using namespace mnigs::websocket;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < vnet_header_size) return 0;
  const VnetHeader h = read_vnet_wire(data);
  const std::size_t packet = size - vnet_header_size;
  if (check_vnet(h, packet).empty()) {
    if ((h.flags & 1) && std::size_t(h.csum_start) + h.csum_offset + 2 > packet) std::abort();
    if ((h.gso_type & 0x7f) != 0 && (h.hdr_len > packet || h.gso_size == 0)) std::abort();
  }
  std::uint8_t copy[vnet_header_size];
  std::memcpy(copy, data, sizeof copy);
  vnet_wire_to_host(copy);
  vnet_host_to_wire(copy);
  if (std::memcmp(copy, data, sizeof copy) != 0) std::abort();
  return 0;
}
