// The entry point of tunnel_iptunnel.so: cjdns IpTunnel (suite part cjdns).
#include <mnigs/plugin_entry.hpp>

#include "iptunnel.hpp"

MNIGS_PLUGIN(mnigs::iptunnel::IpTunnelPlugin, "tunnel", "iptunnel", "1.0",
             "cjdns IpTunnel through cjdroute's admin interface (suite part cjdns)")
