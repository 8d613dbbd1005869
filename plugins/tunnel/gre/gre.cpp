// tunnel/gre, suite part `gre`: IP tunnels in GRE with a key per session,
// by the kernel's gre/ip6gre devices or raw sockets and tun devices. See
// README.md.
#include <mnigs/plugin_entry.hpp>

#include "tunnel.hpp"

MNIGS_PLUGIN(mnigs::gre::EncapPlugin<mnigs::gre::Encap::gre>, "tunnel", "gre", "1.0",
             "IP tunnel in GRE with a key per session (kernel devices or userspace)")
