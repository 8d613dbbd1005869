// Turns what batman-adv and the neighbour table said into what the scanner
// needs: one node per originator, with the IP addresses its mnigsd may
// answer on, its distance, whether it is a gateway, and the links from this
// node to its direct neighbours. Pure functions.
#pragma once

#include "messages.hpp"

#include <mnigs/plugin.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace mnigs::batman {

// Everything one refresh read.
struct Snapshot {
  std::vector<OriginatorEntry> originators;
  std::vector<GatewayEntry> gateways;
  std::vector<ClientEntry> clients;  // the global translation table
  std::vector<NeighbourEntry> neighbours;
};

struct ViewOptions {
  std::string zone;               // interface for link-local addresses ("bat0", or its bridge)
  std::int32_t zone_ifindex = 0;  // neighbour entries of other interfaces are ignored
  std::uint32_t max_last_seen_ms = 0;  // originators heard longer ago are left out; 0: none
  bool use_clients = true;             // map MACs through the translation table
  std::size_t link_local_guesses = 4;  // see build_view
};

// One originator as this plugin reports it.
struct NodeView {
  Mac orig{}, nexthop{};
  std::optional<std::uint8_t> tq;
  std::optional<std::uint32_t> throughput_kbps;
  std::uint32_t last_seen_ms = 0;
  std::uint32_t distance = 0;     // lower is nearer, see metric_distance
  bool direct = false;            // its best next hop is itself
  std::optional<GatewayEntry> gateway;
  std::vector<Mac> clients;       // translation-table MACs it announces, sorted
  std::vector<std::string> addresses;
};

struct MeshView {
  std::vector<NodeView> nodes;  // nearest first
  Discovery discovery;
  std::string metric;  // "tq", "throughput", or "" with no originators
};

// Addresses of an originator O, in this order:
//  1. neighbour entries whose link-layer address is O's MAC;
//  2. the EUI-64 link-local address of O's MAC, with the zone;
//  3. neighbour entries whose link-layer address the translation table says
//     O announces (the MAC of O's mesh interface is one of them);
//  4. the EUI-64 link-local addresses of those MACs, only when O announces at
//     most `link_local_guesses` of them (more means a bridged LAN, where
//     guessing would mostly probe hosts that are not there).
// Translation-table entries of wireless clients, roaming or temporary ones
// and multicast addresses are not used.
MeshView build_view(const Snapshot& snapshot, const ViewOptions& options);

// "02:11:22:33:44:55"
std::string format_mac(const Mac& mac);
// The modified EUI-64 IPv6 link-local address of `mac` (U/L bit flipped,
// ff:fe inserted), with "%zone" when `zone` is not empty.
std::string link_local_of(const Mac& mac, const std::string& zone);
// Distance from the metric, lower is nearer, never 0: 256 - TQ for
// B.A.T.M.A.N. IV (1..256), ceil(10^7 / kbit/s) for B.A.T.M.A.N. V
// (10 at 1 Gbit/s, 100 at 100 Mbit/s, 10^7 at 1 kbit/s or less).
std::uint32_t metric_distance(std::optional<std::uint8_t> tq,
                              std::optional<std::uint32_t> throughput_kbps);
// Announced gateway bandwidth as batctl shows it, "10.0/2.0 Mbit/s".
std::string format_bandwidth(std::uint32_t down, std::uint32_t up);

}  // namespace mnigs::batman
