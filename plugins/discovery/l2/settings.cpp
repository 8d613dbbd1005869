#include "settings.hpp"

#include "announcement.hpp"
#include "interface_name.hpp"

#include <boost/asio/ip/address.hpp>

#include <algorithm>

namespace mnigs::l2 {

void declare_keys(ConfigDeclarer& d) {
  d.declare(list_key("interfaces", ValueType::string_list, {},
                     "Interfaces to announce on and listen to; empty: every interface that is "
                     "up, multicast-capable and not loopback, re-checked each interval",
                     true));
  d.declare(typed_key("group", ValueType::address, Json::Value(kDefaultGroup),
                      "IPv6 link-local multicast group (ff02::/16) of the announcements", true));
  d.declare(typed_key("port", ValueType::port, Json::Value(kDefaultPort),
                      "UDP port of the announcements", true));
  d.declare(int_key("interval", kDefaultInterval, 1, kMaxInterval, "Seconds between announcements",
                    true));
  d.declare(int_key("holdtime", 0, 0, 86400,
                    "Seconds a node that stopped announcing is kept; 0: three times the "
                    "interval it announces",
                    true));
  d.declare(int_key("maxPeers", 1024, 16, 65536,
                    "Nodes kept at most; announcements of further new nodes are ignored "
                    "(and counted) until some are forgotten",
                    true));
}

std::optional<Settings> parse_settings(const Json::Value& section, std::string* why) {
  auto fail = [&](std::string text) -> std::optional<Settings> {
    if (why) *why = std::move(text);
    return std::nullopt;
  };
  Settings s;
  for (const auto& item : section["interfaces"]) {
    const std::string name = item.asString();
    if (!valid_interface_name(name))
      return fail("l2.interfaces: \"" + name +
                  "\" is not an interface name (1 to 15 characters, no '/', ':', '%' or spaces)");
    if (std::find(s.interfaces.begin(), s.interfaces.end(), name) == s.interfaces.end())
      s.interfaces.push_back(name);
  }

  const std::string group = section["group"].asString();
  boost::system::error_code ec;
  auto address = boost::asio::ip::make_address(group, ec);
  if (ec || !address.is_v6() || !address.to_v6().is_multicast_link_local() ||
      address.to_v6().scope_id() != 0)
    return fail("l2.group must be an IPv6 link-local multicast address such as " +
                std::string(kDefaultGroup) + ", without a zone (got \"" + group + "\")");
  s.group = address.to_v6();

  s.port = static_cast<std::uint16_t>(section["port"].asUInt());
  s.interval = std::chrono::seconds(section["interval"].asInt64());
  s.holdtime = std::chrono::seconds(section["holdtime"].asInt64());
  s.max_peers = static_cast<std::size_t>(section["maxPeers"].asInt64());
  if (s.holdtime.count() > 0 && s.holdtime <= s.interval)
    return fail("l2.holdtime must be 0 or longer than l2.interval (got " +
                std::to_string(s.holdtime.count()) + " with an interval of " +
                std::to_string(s.interval.count()) + "); 3 x the interval is usual");
  return s;
}

}  // namespace mnigs::l2
