#include "iptunnel_settings.hpp"

#include <stdexcept>

#include "address_pool.hpp"
#include "interface_name.hpp"

namespace mnigs::iptunnel {

void declare_keys(ConfigDeclarer& d) {
  // The same keys, defaults and reading as discovery/cjdns: both talk to
  // the one cjdroute.
  cjdns::declare_keys(d);
  const Settings s;
  d.declare(string_key("pool4", s.pool4,
                       "Gateway: IPv4 prefix of tunnel addresses; the gateway's cjdroute TUN "
                       "takes the first, each session one more; empty: no IPv4 in the tunnel"));
  d.declare(string_key("pool6", s.pool6,
                       "Gateway: IPv6 prefix of tunnel addresses (/64 to /126); empty: no IPv6 "
                       "in the tunnel"));
  d.declare(string_key("uplink", s.uplink,
                       "Gateway: masquerade tunnel traffic leaving by this interface only; empty: "
                       "by any interface but cjdroute's TUN"));
  d.declare(string_key("tunDevice", s.tun_device,
                       "cjdroute's TUN device; empty: the device holding cjdroute's own fc00::/8 "
                       "address"));
  d.declare(int_key("ip4Prefix", s.ip4_prefix, 0, 32,
                    "Gateway: IpTunnel ip4Prefix, the IPv4 route the subscriber's cjdroute "
                    "installs into its TUN (32: none, 0: a default route)"));
  d.declare(int_key("ip6Prefix", s.ip6_prefix, 0, 128,
                    "Gateway: IpTunnel ip6Prefix, the IPv6 route the subscriber's cjdroute "
                    "installs (128: none, 0: a default route)"));
  d.declare(int_key("table", s.table, 1, 2147483647,
                    "Subscriber: routing table holding the default route into cjdroute's TUN "
                    "(not 253, 254 or 255)"));
  d.declare(int_key("priority", s.priority, 1, 32764,
                    "Subscriber: priority of the first of two ip rules; the second uses "
                    "priority+1"));
  d.declare(int_key("checkInterval", s.check_interval, 1, 3600,
                    "Seconds between checks that cjdroute still holds the connections made "
                    "(it numbers them from 0 again after a restart), its key on its TUN, and "
                    "the addresses gateways issued"));
}

std::optional<Settings> parse_settings(const Json::Value& c, std::string* why) {
  auto fail = [&](const std::string& reason) -> std::optional<Settings> {
    if (why) *why = reason;
    return std::nullopt;
  };
  Settings s;
  s.admin = cjdns::parse_settings(c);
  auto str = [&](const char* key, std::string& out) {
    if (c.isMember(key)) out = c[key].asString();
  };
  str("pool4", s.pool4);
  str("pool6", s.pool6);
  str("uplink", s.uplink);
  str("tunDevice", s.tun_device);
  if (c.isMember("ip4Prefix")) s.ip4_prefix = c["ip4Prefix"].asInt();
  if (c.isMember("ip6Prefix")) s.ip6_prefix = c["ip6Prefix"].asInt();
  if (c.isMember("table")) s.table = c["table"].asInt64();
  if (c.isMember("priority")) s.priority = c["priority"].asInt();
  if (c.isMember("checkInterval")) s.check_interval = c["checkInterval"].asInt();

  if (s.ip4_prefix < 0 || s.ip4_prefix > 32)
    return fail("iptunnel.ip4Prefix: " + std::to_string(s.ip4_prefix) + " must be 0..32");
  if (s.ip6_prefix < 0 || s.ip6_prefix > 128)
    return fail("iptunnel.ip6Prefix: " + std::to_string(s.ip6_prefix) + " must be 0..128");
  for (auto [key, value] : {std::pair{"uplink", &s.uplink}, std::pair{"tunDevice", &s.tun_device}})
    if (!value->empty() && !nft_quotable_interface_name(*value))
      return fail(std::string("iptunnel.") + key + ": \"" + *value +
                  "\" is not an interface name (1 to 15 characters, no spaces, quotes, '/', ':' "
                  "or '%')");
  if (s.table == 253 || s.table == 254 || s.table == 255 || s.table < 1)
    return fail("iptunnel.table: " + std::to_string(s.table) +
                " is not allowed: use 1..2147483647 except 253 (default), 254 (main) and 255 "
                "(local)");
  if (s.pool4.empty() && s.pool6.empty())
    return fail("iptunnel.pool4 and iptunnel.pool6 are both empty: the tunnel needs addresses");
  try {
    tunnels::AddressPool check(s.pool4, s.pool6, "iptunnel.pool4", "iptunnel.pool6");
  } catch (const std::invalid_argument& e) {
    return fail(e.what());
  }
  return s;
}

}  // namespace mnigs::iptunnel
