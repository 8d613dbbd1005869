#include "tun.hpp"

#include <linux/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

namespace mnigs::websocket {

std::optional<Mac> interface_mac(const std::string& name) {
  int s = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) return std::nullopt;
  ifreq ifr{};
  std::memcpy(ifr.ifr_name, name.data(), std::min(name.size(), sizeof ifr.ifr_name - 1));
  std::optional<Mac> mac;
  if (::ioctl(s, SIOCGIFHWADDR, &ifr) == 0)
    mac = Mac::from(reinterpret_cast<const std::uint8_t*>(ifr.ifr_hwaddr.sa_data));
  ::close(s);
  return mac;
}

}  // namespace mnigs::websocket
