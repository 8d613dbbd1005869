// tunnel/openvpn's entry point (suite part `openvpn`).
#include <mnigs/plugin_entry.hpp>

#include "tunnel.hpp"

MNIGS_PLUGIN(mnigs::openvpn::OpenvpnTunnel, "tunnel", "openvpn", "1.0",
             "IP tunnels through Debian's openvpn, steered over its management socket")
