// The command queue, route and sysctl helpers the tunnel plugins share
// (plugins/common), seen from this plugin's namespace.
#pragma once

#include "command_queue.hpp"
#include "routes.hpp"
#include "sysctl_knob.hpp"

namespace mnigs::forwarding {
using namespace mnigs::netcmd;
}  // namespace mnigs::forwarding
