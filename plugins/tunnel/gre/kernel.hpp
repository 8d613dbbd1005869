// The commands of tunnel/gre: the kernel's tunnel devices (mode kernel),
// the probe that settles mode auto, and finding the devices an earlier run
// left.
//
// Kernel device types, each carrying IPv4 and IPv6 inside:
//   GRE       over IPv4: gre;  over IPv6: ip6gre;   "key K" both ways
//   IP in IP  over IPv4: sit mode any (protocols 4 and 41);
//             over IPv6: ip6tnl mode any
//
// Pure functions but list_own_devices; thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "command_queue.hpp"
#include "settings.hpp"

namespace mnigs::gre {

// The kernel's device type for an outer family: gre, ip6gre, sit, ip6tnl.
const char* kernel_type(Encap encap, bool outer_v6);

// The device mode auto makes (and deletes) to learn whether the kernel has
// the type: `base` with an "x" appended.
std::string probe_name(const std::string& base);
netcmd::Command probe_command(Encap encap, const std::string& base, bool outer_v6);

// One session's kernel device. `local` may be "" (the kernel's choice).
struct KernelDevice {
  Encap encap = Encap::gre;
  std::string name;
  std::string local, remote;  // outer addresses, one family
  bool outer_v6 = false;
  std::uint32_t key = 0;  // GRE only
};
netcmd::Command create_device(const KernelDevice& device);
netcmd::Command delete_device(const std::string& name);

// A userspace device's queue towards the data plane, longer than the
// kernel's default 500 packets: a TCP sender's burst waits there while the
// data thread sends what it read before, instead of being dropped.
inline constexpr int kQueueLength = 4096;
netcmd::Command queue_length(const std::string& device);

// The gateway's kernel device of the n-th session (n >= 1): gatewayInterface
// with n appended (mngre-gw1).
std::string gateway_device(const Settings& settings, unsigned n);

// Whether `name` is a device this plugin makes under `settings`: the
// probe, a gateway session's device, or one of the subscriber's.
bool own_device(const Settings& settings, const std::string& name);

// Runs `ip -j link show` and gives the names own_device() accepts (none
// when it fails). Inside a running queue operation.
void list_own_devices(netcmd::CommandQueue& queue, const Settings& settings,
                      std::function<void(std::vector<std::string>)> done);

}  // namespace mnigs::gre
