// discovery/batman: the originators of a batman-adv mesh, read from the
// kernel over generic netlink. The logic lives in discovery.cpp and its
// parts, which the unit tests compile as well.
#include "discovery.hpp"

#include <mnigs/plugin_entry.hpp>

MNIGS_PLUGIN(mnigs::batman::BatmanDiscovery, "discovery", "batman", "1.0",
             "Originators of a batman-adv mesh, read over generic netlink")
