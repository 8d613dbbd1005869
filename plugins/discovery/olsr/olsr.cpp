// discovery/olsr: the nodes an OLSR daemon knows (olsrd through its jsoninfo
// or txtinfo plugin, olsrd2 through its telnet plugin), with the ones that
// announce a default route marked as gateways. The logic is in discovery.cpp.
#include <mnigs/plugin_entry.hpp>

#include "discovery.hpp"

using OlsrDiscovery = mnigs::olsr::OlsrDiscovery;

MNIGS_PLUGIN(OlsrDiscovery, "discovery", "olsr", "1.0",
             "Nodes known to olsrd (jsoninfo/txtinfo) or olsrd2 (telnet)")
