// tunnel/websocket: a full IP tunnel over WebSocket (one packet per binary
// message, large segments included) and a vpn-ws compatible layer-2
// switch, served on the daemon's RPC port. See README.md.
#include <mnigs/plugin_entry.hpp>

#include "tunnel.hpp"

MNIGS_PLUGIN(mnigs::websocket::WebsocketTunnel, "tunnel", "websocket", "1.0",
             "IP tunnel and vpn-ws compatible layer-2 switch over WebSocket")
