// The parts of batman-adv's generic netlink interface this plugin uses.
// Values copied from the kernel's include/uapi/linux/batman_adv.h (enum
// batadv_nl_attrs, enum batadv_nl_commands, enum batadv_tt_client_flags);
// when the build host ships that header, the copies are checked against it
// at compile time.
#pragma once

#include <cstdint>

namespace mnigs::batman::batadv {

inline constexpr const char* family_name = "batadv";  // BATADV_NL_NAME
inline constexpr std::uint8_t family_version = 1;     // batadv_netlink_family.version

// enum batadv_nl_commands
enum Command : std::uint8_t {
  cmd_get_transtable_global = 7,  // BATADV_CMD_GET_TRANSTABLE_GLOBAL
  cmd_get_originators = 8,        // BATADV_CMD_GET_ORIGINATORS
  cmd_get_gateways = 10,          // BATADV_CMD_GET_GATEWAYS
};

// enum batadv_nl_attrs. Types as in the kernel's batadv_netlink_policy
// (net/batman-adv/netlink.c): addresses are ETH_ALEN bytes.
enum Attr : std::uint16_t {
  attr_mesh_ifindex = 3,     // u32, in every dump request
  attr_hard_ifindex = 6,     // u32, outgoing interface of an originator entry
  attr_orig_address = 9,     // 6 bytes
  attr_tt_address = 16,      // 6 bytes, a client MAC in the translation table
  attr_tt_vid = 20,          // u16
  attr_tt_flags = 21,        // u32, enum batadv_tt_client_flags
  attr_flag_best = 22,       // flag: the entry in use (best next hop / gateway / TT originator)
  attr_last_seen_msecs = 23, // u32, milliseconds since the originator was last heard
  attr_neigh_address = 24,   // 6 bytes, next hop towards the originator
  attr_tq = 25,              // u8, B.A.T.M.A.N. IV transmit quality, 255 best
  attr_throughput = 26,      // u32; originators: kbit/s, gateways: 100 kbit/s
  attr_bandwidth_up = 27,    // u32, 100 kbit/s, announced by a gateway
  attr_bandwidth_down = 28,  // u32, 100 kbit/s, announced by a gateway
  attr_router = 29,          // 6 bytes, next hop towards a gateway
  attr_max_used = attr_router,
};

// enum batadv_tt_client_flags (the bits this plugin looks at)
enum TtFlag : std::uint32_t {
  tt_client_roam = 1u << 1,   // the client is moving to another node
  tt_client_wifi = 1u << 4,   // a wireless client of that node's access point
  tt_client_temp = 1u << 11,  // seen in the mesh, announced by nobody yet
};

// A VLAN id in the translation table carries this bit when the entry is
// tagged (BATADV_VLAN_HAS_TAG in net/batman-adv/main.h).
inline constexpr std::uint16_t vlan_has_tag = 0x8000;

}  // namespace mnigs::batman::batadv

#if __has_include(<linux/batman_adv.h>)
#include <linux/batman_adv.h>
namespace mnigs::batman::batadv {
constexpr bool same(unsigned ours, unsigned kernel) { return ours == kernel; }
static_assert(same(cmd_get_transtable_global, BATADV_CMD_GET_TRANSTABLE_GLOBAL));
static_assert(same(cmd_get_originators, BATADV_CMD_GET_ORIGINATORS));
static_assert(same(cmd_get_gateways, BATADV_CMD_GET_GATEWAYS));
static_assert(same(attr_mesh_ifindex, BATADV_ATTR_MESH_IFINDEX));
static_assert(same(attr_hard_ifindex, BATADV_ATTR_HARD_IFINDEX));
static_assert(same(attr_orig_address, BATADV_ATTR_ORIG_ADDRESS));
static_assert(same(attr_tt_address, BATADV_ATTR_TT_ADDRESS));
static_assert(same(attr_tt_vid, BATADV_ATTR_TT_VID));
static_assert(same(attr_tt_flags, BATADV_ATTR_TT_FLAGS));
static_assert(same(attr_flag_best, BATADV_ATTR_FLAG_BEST));
static_assert(same(attr_last_seen_msecs, BATADV_ATTR_LAST_SEEN_MSECS));
static_assert(same(attr_neigh_address, BATADV_ATTR_NEIGH_ADDRESS));
static_assert(same(attr_tq, BATADV_ATTR_TQ));
static_assert(same(attr_throughput, BATADV_ATTR_THROUGHPUT));
static_assert(same(attr_bandwidth_up, BATADV_ATTR_BANDWIDTH_UP));
static_assert(same(attr_bandwidth_down, BATADV_ATTR_BANDWIDTH_DOWN));
static_assert(same(attr_router, BATADV_ATTR_ROUTER));
static_assert(same(tt_client_roam, BATADV_TT_CLIENT_ROAM));
static_assert(same(tt_client_wifi, BATADV_TT_CLIENT_WIFI));
static_assert(same(tt_client_temp, BATADV_TT_CLIENT_TEMP));
}  // namespace mnigs::batman::batadv
#endif
