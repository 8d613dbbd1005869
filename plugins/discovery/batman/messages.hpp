// Netlink messages this plugin sends and the entries it reads back: the
// generic netlink family lookup, batman-adv's originator, gateway and
// translation-table dumps, and the kernel's neighbour table. Requests are
// built and replies parsed with libnl; nothing here does I/O, so the tests
// feed the parsers the exact bytes the kernel would send.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

struct nlmsghdr;

namespace mnigs::batman {

using Mac = std::array<std::uint8_t, 6>;

// One line of the originator table: `orig` reached through `neigh`.
// batman-adv lists every next hop it knows for an originator; the one it
// routes through carries `best`.
struct OriginatorEntry {
  Mac orig{}, neigh{};
  std::uint32_t hard_ifindex = 0;
  std::uint32_t last_seen_ms = 0;
  std::optional<std::uint8_t> tq;                // B.A.T.M.A.N. IV: 0..255, 255 best
  std::optional<std::uint32_t> throughput_kbps;  // B.A.T.M.A.N. V
  bool best = false;
};

// One gateway announced in the mesh (gw_mode server on that node).
struct GatewayEntry {
  Mac orig{}, router{};
  std::optional<std::uint8_t> tq;               // B.A.T.M.A.N. IV: path quality to it
  std::optional<std::uint32_t> throughput;      // B.A.T.M.A.N. V: path throughput, 100 kbit/s
  std::uint32_t down = 0, up = 0;               // announced bandwidth, 100 kbit/s
  bool best = false;                            // the gateway this node's gw client selected
};

// One global translation-table entry: `client` (a MAC on some node's mesh
// interface or bridged behind it) is announced by originator `orig`.
struct ClientEntry {
  Mac client{}, orig{};
  std::uint16_t vid = 0;
  std::uint32_t flags = 0;
  bool best = false;
};

// One kernel neighbour entry with a link-layer address.
struct NeighbourEntry {
  std::string address;  // IPv4 or IPv6 literal, without zone
  bool link_local = false;  // an IPv6 link-local address (needs a zone)
  Mac lladdr{};
  std::int32_t ifindex = 0;
  std::uint16_t state = 0;  // NUD_* bits
};

using Bytes = std::vector<std::uint8_t>;

// CTRL_CMD_GETFAMILY for `name`, acknowledged (NLM_F_ACK).
Bytes family_request(const std::string& name, std::uint32_t seq);
// A batman-adv dump (`cmd`) of mesh interface `mesh_ifindex`.
Bytes batadv_dump_request(std::uint16_t family, std::uint8_t cmd, std::uint32_t mesh_ifindex,
                          std::uint32_t seq);
// RTM_GETNEIGH dump of both address families.
Bytes neighbour_dump_request(std::uint32_t seq);

// Parsers for one reply message each. They check the message's own lengths
// (header, attributes) as well as the attributes' sizes; on nullopt `why`
// says what was wrong.
std::optional<std::uint16_t> parse_family_id(const nlmsghdr& msg, std::string* why);
std::optional<OriginatorEntry> parse_originator(const nlmsghdr& msg, std::string* why);
std::optional<GatewayEntry> parse_gateway(const nlmsghdr& msg, std::string* why);
std::optional<ClientEntry> parse_client(const nlmsghdr& msg, std::string* why);
// nullopt without `why` set: a valid entry the plugin has no use for
// (no link-layer address, incomplete or failed resolution, multicast).
std::optional<NeighbourEntry> parse_neighbour(const nlmsghdr& msg, std::string* why);

// The generic netlink command of a message (0 when it has no genl header).
std::uint8_t genl_command(const nlmsghdr& msg);

}  // namespace mnigs::batman
