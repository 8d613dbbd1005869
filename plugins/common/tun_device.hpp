// A tun (layer 3) or tap (layer 2) device for the tunnel plugins, normally
// opened with a virtio-net header in front of every packet, so the kernel
// can hand over and accept large TCP segments (TSO/GSO) and packets whose
// checksum is still to be filled in. That is what makes the websocket
// tunnel fast: one read or write moves up to 64 KiB instead of one
// MTU-sized packet. A tunnel that moves plain packets (gre) opens it
// without the header.
//
// The header is the 10-byte `struct virtio_net_hdr` in host byte order, as
// the tun driver uses it without TUNSETVNETLE. `VnetHeader` is its wire form
// between two mnigs ends: the same fields, little-endian.
//
// Threading: a TunDevice is a file descriptor; use it from one thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>

namespace mnigs::tunnels {

inline constexpr std::size_t vnet_header_size = 10;
// The largest packet a read can return: a 64 KiB GSO segment plus its header.
inline constexpr std::size_t max_tun_read = 65536 + vnet_header_size;

class TunDevice {
 public:
  enum class Kind { tun, tap };

  enum class Header { vnet, none };

  // Opens /dev/net/tun and creates (or attaches to) interface `name`, non-
  // blocking, close-on-exec. With `offload`, the kernel may hand over GSO
  // segments and unchecksummed packets (TUNSETOFFLOAD); without, it hands
  // over plain packets (still behind a header, all zero, unless `header`
  // is none: then a read or write is one bare packet). Throws
  // std::system_error naming the interface and the step that failed.
  TunDevice(const std::string& name, Kind kind, bool offload, Header header = Header::vnet);
  ~TunDevice();
  TunDevice(TunDevice&& other) noexcept;
  TunDevice& operator=(TunDevice&& other) noexcept;
  TunDevice(const TunDevice&) = delete;
  TunDevice& operator=(const TunDevice&) = delete;

  int fd() const { return fd_; }
  const std::string& name() const { return name_; }
  bool offload() const { return offload_; }
  // Whether every packet comes and goes behind a virtio-net header.
  bool vnet() const { return vnet_; }
  // Gives up the descriptor (for an asio stream_descriptor); -1 afterwards.
  int release();

 private:
  int fd_ = -1;
  std::string name_;
  bool offload_ = false;
  bool vnet_ = true;
};

// The MTU of interface `name` in this network namespace (SIOCGIFMTU), or
// nullopt.
std::optional<int> interface_mtu(const std::string& name);

// The virtio-net header fields (linux/virtio_net.h).
struct VnetHeader {
  std::uint8_t flags = 0;     // 1: NEEDS_CSUM
  std::uint8_t gso_type = 0;  // 0 none, 1 TCPv4, 3 UDP, 4 TCPv6, 5 UDP_L4, | 0x80 ECN
  std::uint16_t hdr_len = 0;
  std::uint16_t gso_size = 0;
  std::uint16_t csum_start = 0;
  std::uint16_t csum_offset = 0;
};

// Converts the header at p (vnet_header_size bytes) between the tun
// driver's host order and little-endian, in place. A no-op on
// little-endian hosts.
void vnet_host_to_wire(std::uint8_t* p);
void vnet_wire_to_host(std::uint8_t* p);
VnetHeader read_vnet_wire(const std::uint8_t* p);

// Checks a header received from the peer against the packet behind it, so
// that nothing handed to the kernel claims offsets outside the packet or a
// segmentation the kernel was not asked for. "" when fine, else why not.
std::string check_vnet(const VnetHeader& header, std::size_t packet_size);

}  // namespace mnigs::tunnels
