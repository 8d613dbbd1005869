// tunnel/forwarding: Internet access through a gateway without encapsulation.
// The gateway forwards and masquerades its subscribers' mesh addresses out
// of its uplink (nftables); each subscriber sends what is not mesh traffic
// to the gateway with two ip rules and a routing table of its own. The logic
// lives in tunnel.cpp and its parts, which the unit tests compile as well.
#include "tunnel.hpp"

#include <mnigs/plugin_entry.hpp>

MNIGS_PLUGIN(mnigs::forwarding::ForwardingTunnel, "tunnel", "forwarding", "1.0",
             "Forwarding and masquerading of subscribers' mesh addresses, no encapsulation")
