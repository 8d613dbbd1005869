#include "os/interfaces.hpp"

#include <ifaddrs.h>
#include <netinet/in.h>

namespace mnigs::os {

bool has_routable_ipv6() {
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) return false;
  bool found = false;
  for (ifaddrs* i = list; i && !found; i = i->ifa_next) {
    if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET6) continue;
    const auto* a = reinterpret_cast<const sockaddr_in6*>(i->ifa_addr);
    if (IN6_IS_ADDR_LOOPBACK(&a->sin6_addr) || IN6_IS_ADDR_LINKLOCAL(&a->sin6_addr)) continue;
    found = true;
  }
  freeifaddrs(list);
  return found;
}

}  // namespace mnigs::os
