// Facts about this host's network interfaces.
#pragma once

namespace mnigs::os {

// True when some interface holds an IPv6 address that is neither loopback
// nor link-local, i.e. IPv6 can carry traffic beyond the link.
bool has_routable_ipv6();

}  // namespace mnigs::os
