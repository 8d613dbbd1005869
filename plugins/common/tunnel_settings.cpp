#include "tunnel_settings.hpp"

#include "address_pool.hpp"
#include "interface_name.hpp"

#include <stdexcept>
#include <utility>

namespace mnigs::tunnels {

void declare_tunnel_keys(ConfigDeclarer& d, const TunnelSettings& s) {
  d.declare(string_key("pool4", s.pool4,
                       "Gateway: IPv4 prefix of tunnel addresses; the gateway takes the first, "
                       "each session one more; empty: no IPv4 in the tunnel"));
  d.declare(string_key("pool6", s.pool6,
                       "Gateway: IPv6 prefix of tunnel addresses (/64 to /126); empty: no IPv6 in "
                       "the tunnel"));
  d.declare(string_key("gatewayInterface", s.gateway_interface,
                       "Gateway: name of the tun device all sessions share"));
  d.declare(string_key("subscriberInterface", s.subscriber_interface,
                       "Subscriber: name of the first session's device; the others (standby, "
                       "test) count its number up"));
  d.declare(string_key("uplink", s.uplink,
                       "Gateway: masquerade tunnel traffic leaving by this interface only; empty: "
                       "by any interface but the tunnel's"));
  d.declare(int_key("table", s.table, 1, 2147483647,
                    "Subscriber: routing table holding the default route into the tunnel (not 253, "
                    "254 or 255)"));
  d.declare(
      int_key("priority", s.priority, 1, 32764,
              "Subscriber: priority of the first of two ip rules; the second uses priority+1"));
}

void read_tunnel_keys(const Json::Value& c, TunnelSettings& s) {
  auto str = [&](const char* key, std::string& out) {
    if (c.isMember(key)) out = c[key].asString();
  };
  str("pool4", s.pool4);
  str("pool6", s.pool6);
  str("gatewayInterface", s.gateway_interface);
  str("subscriberInterface", s.subscriber_interface);
  str("uplink", s.uplink);
  if (c.isMember("table")) s.table = c["table"].asInt64();
  if (c.isMember("priority")) s.priority = c["priority"].asInt();
}

std::string check_tunnel_keys(const std::string& name, const TunnelSettings& s,
                              unsigned uplinks) {
  const std::string prefix = name + ".";
  for (auto [key, value] : {std::pair{"gatewayInterface", &s.gateway_interface},
                            std::pair{"subscriberInterface", &s.subscriber_interface}})
    if (!nft_quotable_interface_name(*value))
      return prefix + key + ": \"" + *value +
             "\" is not an interface name (1 to 15 characters, no spaces, quotes, '/', ':' or "
             "'%')";
  if (const auto last = uplink_interface(s.subscriber_interface, uplinks - 1);
      !nft_quotable_interface_name(last))
    return prefix + "subscriberInterface: \"" + s.subscriber_interface +
           "\" leaves no room for the devices of the standby sessions (the last would be \"" +
           last + "\"); use a shorter name";
  for (unsigned n = 0; n < uplinks; ++n)
    if (uplink_interface(s.subscriber_interface, n) == s.gateway_interface)
      return prefix + "subscriberInterface: \"" + s.subscriber_interface +
             "\" would name a session's device \"" + s.gateway_interface +
             "\", which gatewayInterface names already";
  if (!s.uplink.empty() && !nft_quotable_interface_name(s.uplink))
    return prefix + "uplink: \"" + s.uplink + "\" is not an interface name";
  if (s.table == 253 || s.table == 254 || s.table == 255)
    return prefix + "table: " + std::to_string(s.table) +
           " is not allowed: use 1..2147483647 except 253 (default), 254 (main) and 255 (local)";
  if (s.pool4.empty() && s.pool6.empty())
    return prefix + "pool4 and " + prefix + "pool6 are both empty: the tunnel needs addresses";
  try {
    AddressPool check(s.pool4, s.pool6, prefix + "pool4", prefix + "pool6");
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "";
}

}  // namespace mnigs::tunnels
