// tunnel/httptunnel: HTTP services behind NAT reached through a gateway, by
// token (WStunnel's wire format) or by name (<service>.<id>.<domain>). It
// carries no sessions, so it is in no suite. See README.md.
#include <mnigs/plugin_entry.hpp>

#include "plugin.hpp"

MNIGS_PLUGIN(mnigs::httptunnel::HttpTunnelPlugin, "tunnel", "httptunnel", "1.0",
             "HTTP services behind NAT reached through a gateway (WStunnel-compatible)")
