// Segmentation in userspace for tunnel/gre's userspace data plane. Its tun
// devices take TCP segmentation offload (TSO): the kernel hands over TCP
// packets of up to 64 KiB with a virtio-net header asking for them to be
// cut into segments of gso_size bytes of payload, and packets whose
// checksum is still to be filled in. A raw IP socket takes no such thing,
// so the data plane does here what the kernel's GSO would: one read of the
// tun device, then one sendmmsg of all the segments, instead of a read and
// a send per MTU-sized packet.
//
// Each segment's headers are written to a store; its payload stays where it
// is in the packet (no copy). Checksums are filled in.
//
// Pure functions; thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "tun_device.hpp"

namespace mnigs::gre {

struct Segment {
  std::span<const std::uint8_t> header;   // IP and TCP headers (in `store`)
  std::span<const std::uint8_t> payload;  // in the packet
};

// Cuts `packet` (an IP packet, without the virtio-net header `vnet`, in
// host order as the tun device gave it) into what goes on the wire: the
// packet itself when it needs no segmentation (its checksum completed in
// place when the header asks for it), else its segments. `store` receives
// the segments' headers and must not be changed while `out` is in use.
// "" on success, else why the packet cannot be sent (the header asks for
// something that is not there).
std::string segment(const tunnels::VnetHeader& vnet, std::span<std::uint8_t> packet,
                    std::vector<std::uint8_t>& store, std::vector<Segment>& out);

// The virtio-net header at p, in the host order the tun device uses.
tunnels::VnetHeader read_vnet_host(const std::uint8_t* p);

}  // namespace mnigs::gre
