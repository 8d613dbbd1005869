// Facts about this host's network interfaces.
#pragma once

#include <string>
#include <vector>

namespace mnigs::os {

// True when some interface holds an IPv6 address that is neither loopback
// nor link-local, i.e. IPv6 can carry traffic beyond the link.
bool has_routable_ipv6();

// This host's addresses that other nodes can reach: IPv4 and IPv6 on any
// interface, without loopback and link-local ones.
std::vector<std::string> routable_addresses();

}  // namespace mnigs::os
