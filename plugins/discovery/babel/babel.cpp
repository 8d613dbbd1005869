// discovery/babel: the nodes of a babel mesh, read from babeld's local
// interface (monitor). The logic lives in discovery.cpp and its parts, which
// the unit tests compile as well; this file only adds the entry point.
#include <mnigs/plugin_entry.hpp>

#include "discovery.hpp"

MNIGS_PLUGIN(mnigs::babel::BabelDiscovery, "discovery", "babel", "1.0",
             "Nodes and gateways of a babel mesh, from babeld's local interface")
