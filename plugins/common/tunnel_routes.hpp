// The subscriber's default route into one of a tunnel plugin's devices
// (websocket, gre, ipip), by policy routing, per address family:
//   priority P    from all lookup main suppress_prefixlength 0
//   priority P+1  from all lookup T
//   table T       default dev DEVICE
// so the mesh (every route of main more specific than /0), and with it the
// tunnel's own packets to the gateway, stays outside the tunnel. One
// session holds table T's route per family; a standby taking over replaces
// it in one step; the rules stay while any session holds the route.
//
// Sessions are named by a key of the plugin's ("GATEWAY ID").
//
// Threading: the plugin's strand; take() inside a running queue operation.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <json/value.h>
#include <string>
#include <vector>

#include "command_queue.hpp"
#include "routes.hpp"

namespace mnigs::tunnels {

// A subscriber's device for one session: no link-local address (nothing
// but the session's packets goes out; best effort), `mtu`, up, and the session's tunnel
// addresses from the gateway's params (address4/prefix4,
// address6/prefix6) without prefix routes: two gateways may allot the same
// ones, and a standby's device must not take traffic.
std::vector<netcmd::Command> device_setup(const std::string& device, int mtu,
                                          const Json::Value& params);
// The loose reverse-path filter (rp_filter 2) on `device`: a standby's
// answers arrive on a device the default route does not use.
netcmd::Command loose_reverse_path(const std::string& device);

class TunnelRoutes {
 public:
  using Done = std::function<void(std::string error)>;

  TunnelRoutes(netcmd::CommandQueue& queue, std::int64_t table, int priority)
      : queue_(queue), table_(table), priority_(priority) {}

  // Whether the default route of some family is `key`'s.
  bool holds(const std::string& key) const;

  // Moves table T's default route of each family in `families` (v4, v6)
  // into `device`, adding the rules where no session had them. Then checks
  // that `gateway` is still reached through the mesh: not through a device
  // for which `own_device` says true. On any failure, T is put back as it
  // was (`device_of(key)` names the device of the session that held it,
  // "" when it is gone) and done(why).
  // `sources` (v4, v6), where not "", become the routes' preferred source.
  void take(const std::string& key, const std::string& device, std::array<bool, 2> families,
            const std::string& gateway, std::function<std::string(const std::string&)> device_of,
            std::function<bool(const std::string&)> own_device, Done done,
            std::array<std::string, 2> sources = {});

  // The commands that remove the rules and table T of each family `key`
  // holds (removals); it holds none afterwards. Empty when it holds none.
  std::vector<netcmd::Command> release(const std::string& key);

  // Whatever sits at P, P+1 and in T, for both families (reset, stop), each
  // rule deletion repeated up to `repeat` times; and nobody holds anything.
  std::vector<netcmd::Command> removal(unsigned repeat);

 private:
  std::vector<netcmd::Command> restore(const std::array<std::string, 2>& before,
                                       std::array<bool, 2> families,
                                       const std::function<std::string(const std::string&)>&
                                           device_of) const;

  netcmd::CommandQueue& queue_;
  std::int64_t table_;
  int priority_;
  // Per family (v4, v6): the key of the session whose device T's default
  // route names, "" when T is empty.
  std::array<std::string, 2> routed_;
};

}  // namespace mnigs::tunnels
