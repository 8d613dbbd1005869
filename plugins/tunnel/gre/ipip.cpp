// tunnel/gre, suite part `ipip`: IP tunnels in plain IP in IP (protocols 4
// and 41), by the kernel's sit/ip6tnl devices or raw sockets and tun
// devices. See README.md.
#include <mnigs/plugin_entry.hpp>

#include "tunnel.hpp"

MNIGS_PLUGIN(mnigs::gre::EncapPlugin<mnigs::gre::Encap::ipip>, "tunnel", "ipip", "1.0",
             "IP tunnel in IP in IP (kernel devices or userspace)")
