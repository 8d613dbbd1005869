// The network interfaces the plugin may announce on: what the kernel has
// (getifaddrs) and which of them the config selects.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace mnigs::l2 {

struct LinkInterface {
  std::string name;
  unsigned index = 0;
  bool up = false;         // administratively up (IFF_UP)
  bool multicast = false;  // IFF_MULTICAST
  bool loopback = false;   // IFF_LOOPBACK
  // What the node announces on this link: IPv4 first, then IPv6 that is not
  // link-local (see announceable_address), in the kernel's order.
  std::vector<std::string> addresses;
};

// Every interface of the caller's network namespace, by name; nullopt with
// `why` when the kernel cannot be asked. A short netlink dump, no waiting:
// fine on the plugin's strand.
std::optional<std::vector<LinkInterface>> list_interfaces(std::string* why);

struct Selection {
  std::vector<LinkInterface> use;
  // Configured interfaces that cannot be used now, with the reason
  // ("no such interface", "is down", "cannot do multicast").
  std::map<std::string, std::string> problems;
};

// `configured` empty: every interface that is up, multicast-capable and not
// loopback. Otherwise those named, in that order, if they are up and can do
// multicast.
Selection select_interfaces(const std::vector<LinkInterface>& all,
                            const std::vector<std::string>& configured);

}  // namespace mnigs::l2
