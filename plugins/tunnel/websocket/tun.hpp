// The tun and tap devices of the websocket plugin: the tunnel plugins'
// TunDevice (plugins/common/tun_device.hpp), always with its virtio-net
// header, and the MAC of the switch's own port.
#pragma once

#include <optional>
#include <string>

#include "mac.hpp"
#include "tun_device.hpp"

namespace mnigs::websocket {

using tunnels::check_vnet;
using tunnels::max_tun_read;
using tunnels::read_vnet_wire;
using tunnels::TunDevice;
using tunnels::VnetHeader;
using tunnels::vnet_header_size;
using tunnels::vnet_host_to_wire;
using tunnels::vnet_wire_to_host;

// The MAC of interface `name` (SIOCGIFHWADDR), or nullopt.
std::optional<Mac> interface_mac(const std::string& name);

}  // namespace mnigs::websocket
