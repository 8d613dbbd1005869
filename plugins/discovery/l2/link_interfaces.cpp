#include "link_interfaces.hpp"

#include "announcement.hpp"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>

namespace mnigs::l2 {

namespace {

std::string address_text(const sockaddr* sa) {
  char text[INET6_ADDRSTRLEN] = {0};
  const void* raw =
      sa->sa_family == AF_INET
          ? static_cast<const void*>(&reinterpret_cast<const sockaddr_in*>(sa)->sin_addr)
          : static_cast<const void*>(&reinterpret_cast<const sockaddr_in6*>(sa)->sin6_addr);
  if (!::inet_ntop(sa->sa_family, raw, text, sizeof text)) return "";
  return text;
}

LinkInterface& entry(std::vector<LinkInterface>& all, const ifaddrs* ifa) {
  auto it = std::find_if(all.begin(), all.end(),
                         [&](const LinkInterface& i) { return i.name == ifa->ifa_name; });
  if (it != all.end()) return *it;
  LinkInterface i;
  i.name = ifa->ifa_name;
  i.index = ::if_nametoindex(ifa->ifa_name);
  all.push_back(std::move(i));
  return all.back();
}

}  // namespace

std::optional<std::vector<LinkInterface>> list_interfaces(std::string* why) {
  ifaddrs* raw = nullptr;
  if (::getifaddrs(&raw) != 0) {
    if (why) *why = std::string("cannot list network interfaces: ") + std::strerror(errno);
    return std::nullopt;
  }
  std::unique_ptr<ifaddrs, decltype(&::freeifaddrs)> list(raw, &::freeifaddrs);
  std::vector<LinkInterface> all;
  std::vector<std::pair<std::string, std::string>> v6;  // kept apart: IPv4 goes first
  for (const ifaddrs* ifa = raw; ifa; ifa = ifa->ifa_next) {
    LinkInterface& i = entry(all, ifa);
    i.up = ifa->ifa_flags & IFF_UP;
    i.multicast = ifa->ifa_flags & IFF_MULTICAST;
    i.loopback = ifa->ifa_flags & IFF_LOOPBACK;
    if (!ifa->ifa_addr) continue;
    const int family = ifa->ifa_addr->sa_family;
    if (family == AF_PACKET) {
      i.index =
          static_cast<unsigned>(reinterpret_cast<const sockaddr_ll*>(ifa->ifa_addr)->sll_ifindex);
    } else if (family == AF_INET || family == AF_INET6) {
      std::string address = announceable_address(address_text(ifa->ifa_addr));
      if (address.empty()) continue;
      if (family == AF_INET)
        i.addresses.push_back(address);
      else
        v6.emplace_back(i.name, address);
    }
  }
  for (auto& [name, address] : v6)
    for (auto& i : all)
      if (i.name == name) i.addresses.push_back(address);
  std::erase_if(all, [](const LinkInterface& i) { return i.index == 0; });  // gone meanwhile
  return all;
}

Selection select_interfaces(const std::vector<LinkInterface>& all,
                            const std::vector<std::string>& configured) {
  Selection s;
  if (configured.empty()) {
    for (const auto& i : all)
      if (i.up && i.multicast && !i.loopback) s.use.push_back(i);
    return s;
  }
  for (const auto& name : configured) {
    auto it = std::find_if(all.begin(), all.end(),
                           [&](const LinkInterface& i) { return i.name == name; });
    if (it == all.end())
      s.problems[name] = "no such interface";
    else if (!it->up)
      s.problems[name] = "is down";
    else if (!it->multicast)
      s.problems[name] = "cannot do multicast";
    else if (std::none_of(s.use.begin(), s.use.end(),
                          [&](const LinkInterface& u) { return u.name == name; }))
      s.use.push_back(*it);
  }
  return s;
}

}  // namespace mnigs::l2
