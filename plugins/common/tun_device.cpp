#include "tun_device.hpp"

#include <endian.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>

#include <cerrno>
#include <cstring>
#include <system_error>
#include <utility>

#include "interface_name.hpp"

namespace mnigs::tunnels {

namespace {

[[noreturn]] void fail(const std::string& name, const char* step) {
  throw std::system_error(errno, std::generic_category(), "tun device " + name + ": " + step);
}

std::uint16_t load16(const std::uint8_t* p) {
  std::uint16_t v;
  std::memcpy(&v, p, 2);
  return v;
}
[[maybe_unused]] void store16(std::uint8_t* p, std::uint16_t v) { std::memcpy(p, &v, 2); }

// The four 16-bit fields start at byte 2.
template <typename Convert>
void convert_fields(std::uint8_t* p, Convert convert) {
  for (int off = 2; off < 10; off += 2) store16(p + off, convert(load16(p + off)));
}

}  // namespace

TunDevice::TunDevice(const std::string& name, Kind kind, bool offload, Header header)
    : name_(name), offload_(offload && header == Header::vnet), vnet_(header == Header::vnet) {
  if (!valid_interface_name(name)) {
    errno = EINVAL;
    fail(name, "not an interface name (1 to 15 characters, no '/', ':', '%' or spaces)");
  }
  fd_ = ::open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd_ < 0) fail(name, "cannot open /dev/net/tun");
  ifreq ifr{};
  std::memcpy(ifr.ifr_name, name.data(), name.size());
  ifr.ifr_flags = static_cast<short>((kind == Kind::tun ? IFF_TUN : IFF_TAP) | IFF_NO_PI |
                                     (header == Header::vnet ? IFF_VNET_HDR : 0));
  auto close_and_fail = [&](const char* step) {
    int saved = errno;
    ::close(fd_);
    fd_ = -1;
    errno = saved;
    fail(name, step);
  };
  if (::ioctl(fd_, TUNSETIFF, &ifr) < 0) close_and_fail("TUNSETIFF failed");
  if (header == Header::none) return;
  int size = static_cast<int>(vnet_header_size);
  if (::ioctl(fd_, TUNSETVNETHDRSZ, &size) < 0) close_and_fail("TUNSETVNETHDRSZ failed");
  // TSO for both families and checksum offload; the kernel segments
  // anything it cannot pass on as it is.
  unsigned features = offload_ ? (TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN) : 0;
  if (::ioctl(fd_, TUNSETOFFLOAD, features) < 0) close_and_fail("TUNSETOFFLOAD failed");
}

TunDevice::~TunDevice() {
  if (fd_ >= 0) ::close(fd_);
}

TunDevice::TunDevice(TunDevice&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)),
      name_(std::move(other.name_)),
      offload_(other.offload_),
      vnet_(other.vnet_) {}

TunDevice& TunDevice::operator=(TunDevice&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(other.fd_, -1);
    name_ = std::move(other.name_);
    offload_ = other.offload_;
    vnet_ = other.vnet_;
  }
  return *this;
}

int TunDevice::release() { return std::exchange(fd_, -1); }

std::optional<int> interface_mtu(const std::string& name) {
  if (!valid_interface_name(name)) return std::nullopt;
  int s = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) return std::nullopt;
  ifreq ifr{};
  std::memcpy(ifr.ifr_name, name.data(), name.size());
  std::optional<int> mtu;
  if (::ioctl(s, SIOCGIFMTU, &ifr) == 0) mtu = ifr.ifr_mtu;
  ::close(s);
  return mtu;
}

void vnet_host_to_wire(std::uint8_t* p) {
  if constexpr (__BYTE_ORDER != __LITTLE_ENDIAN)
    convert_fields(p, [](std::uint16_t v) { return htole16(v); });
  (void)p;
}

void vnet_wire_to_host(std::uint8_t* p) {
  if constexpr (__BYTE_ORDER != __LITTLE_ENDIAN)
    convert_fields(p, [](std::uint16_t v) { return le16toh(v); });
  (void)p;
}

VnetHeader read_vnet_wire(const std::uint8_t* p) {
  VnetHeader h;
  h.flags = p[0];
  h.gso_type = p[1];
  h.hdr_len = le16toh(load16(p + 2));
  h.gso_size = le16toh(load16(p + 4));
  h.csum_start = le16toh(load16(p + 6));
  h.csum_offset = le16toh(load16(p + 8));
  return h;
}

std::string check_vnet(const VnetHeader& h, std::size_t packet_size) {
  constexpr std::uint8_t needs_csum = 1, data_valid = 2;
  if (h.flags & ~(needs_csum | data_valid)) return "unknown virtio-net header flags";
  if (h.flags & needs_csum) {
    // The checksum field (2 bytes) lies inside the packet.
    if (std::size_t(h.csum_start) + h.csum_offset + 2 > packet_size)
      return "checksum offsets point outside the packet";
  }
  const std::uint8_t type = h.gso_type & 0x7f;
  if (type == 0) return h.gso_size == 0 ? "" : "segment size without segmentation";
  // linux/virtio_net.h: 1 TCPv4, 4 TCPv6 (3 UFO and 5 UDP_L4 are not asked for).
  if (type != 1 && type != 4) return "segmentation type " + std::to_string(type) + " is not TCP";
  if (!(h.flags & needs_csum))
    return "a TCP segment to split must leave its checksum to the kernel";
  if (h.gso_size == 0 || h.gso_size > 65535 - 40) return "bad segment size";
  if (h.hdr_len > packet_size) return "header length is longer than the packet";
  return "";
}

}  // namespace mnigs::tunnels
