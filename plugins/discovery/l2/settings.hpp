// The l2 plugin's config section: declaration and checked values.
//
//   interfaces  string list  []                (live) where to announce; [] = every suitable one
//   group       address      ff02::ed6e:6967   (live) link-local multicast group
//   port        port         65532             (live) UDP port
//   interval    int          5                 (live) seconds between announcements
//   holdtime    int          0                 (live) seconds a silent peer is kept; 0 = 3 x its
//   interval
//   maxPeers    int          1024              (live) nodes kept at most
//
// Pure functions; thread-safe.
#pragma once

#include <mnigs/config_decl.hpp>

#include <boost/asio/ip/address_v6.hpp>
#include <json/value.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace mnigs::l2 {

// ff02::ed6e:6967: link-local scope, group id 0xed6e6967 ("mnig" with the top
// bit set). RFC 3307 leaves group ids 0x80000000-0xffffffff to dynamic use,
// so IANA assigns none there: no clash with all-nodes, routers, mDNS,
// LLMNR, solicited-node or any other registered ff02:: group.
inline constexpr const char* kDefaultGroup = "ff02::ed6e:6967";
inline constexpr std::uint16_t kDefaultPort = 65532;
inline constexpr int kDefaultInterval = 5;

struct Settings {
  std::vector<std::string> interfaces;  // empty: every up, multicast, non-loopback interface
  boost::asio::ip::address_v6 group;
  std::uint16_t port = kDefaultPort;
  std::chrono::seconds interval{kDefaultInterval};
  std::chrono::seconds holdtime{0};  // 0: three times each peer's own interval
  std::size_t max_peers = 1024;
  bool operator==(const Settings&) const = default;
};

// Declares the keys of section "l2".
void declare_keys(ConfigDeclarer& declarer);

// Reads a config section (every key present, types checked by the core) and
// applies what the declaration cannot express: a link-local multicast group,
// interface names the kernel accepts, a holdtime longer than the interval.
// nullopt with `why` naming the key, the value and what is allowed.
std::optional<Settings> parse_settings(const Json::Value& section, std::string* why);

}  // namespace mnigs::l2
