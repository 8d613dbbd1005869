// Coalescing of received TCP segments for tunnel/gre's userspace data
// plane: what the kernel's GRO does for a network card. Consecutive
// segments of one TCP stream that arrive in one batch are joined into one
// large packet behind a virtio-net header asking the kernel to treat it as
// the segments it was made of, and written to the tun device at once: one
// write and one pass through the kernel's receive path instead of one per
// segment.
//
// Segments join only as the kernel's tcp_gro_receive would let them: one
// flow (addresses, ports), IPv4 without options or fragments (or IPv6
// with TCP right behind its header), equal TCP headers but for the
// sequence number and PSH, no flag but ACK before the last, sequence
// numbers that follow on, every segment but the last of the first one's
// size, and a correct TCP checksum each (the joined packet's is left to
// the kernel, as GRO leaves it, so each one is checked here).
//
// Not thread-safe: one per data plane.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace mnigs::gre {

class Coalescer {
 public:
  Coalescer();

  // Adds a whole inner IP packet. False when it does not join the packet
  // being built: flush() that first, then add it again (a packet that
  // joins nothing starts a new one).
  bool add(std::span<const std::uint8_t> packet);
  // What to write to the tun device, virtio-net header first (in host
  // order); empty when nothing is pending. Then nothing is pending.
  std::span<const std::uint8_t> flush();
  bool empty() const { return count_ == 0; }
  std::size_t segments() const { return count_; }

 private:
  std::vector<std::uint8_t> buffer_;  // virtio-net header, then the packet
  std::size_t length_ = 0;            // of the packet behind the header
  std::size_t count_ = 0;             // segments in it
  std::size_t ip_len_ = 0, headers_ = 0, mss_ = 0;
  bool v6_ = false;
  bool closed_ = false;  // a shorter segment or PSH came: nothing more joins
  std::uint32_t next_seq_ = 0;
};

}  // namespace mnigs::gre
