// tunnel/tether: a phone's browser carries this node's traffic to a
// gateway's websocket tunnel, with nothing installed on the phone. See
// README.md.
#include <mnigs/plugin_entry.hpp>

#include "plugin.hpp"

MNIGS_PLUGIN(mnigs::tether::TetherPlugin, "tunnel", "tether", "1.0",
             "Tethering through a phone's browser to a gateway's websocket tunnel")
