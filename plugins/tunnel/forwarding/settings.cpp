#include "settings.hpp"

#include "common.hpp"
#include "interface_name.hpp"

namespace mnigs::forwarding {

void declare_keys(ConfigDeclarer& d) {
  d.declare(string_key("uplink", "",
                       "Gateway: interface towards the Internet; empty uses the interface of "
                       "the main table's default route when a session opens"));
  d.declare(int_key("table", kDefaultTable, 1, 2147483647,
                    "Subscriber: routing table that holds the default route via the gateway "
                    "(not 253, 254 or 255)"));
  d.declare(int_key("priority", kDefaultPriority, 1, kMaxPriority,
                    "Subscriber: priority of the first of two ip rules; the second uses "
                    "priority+1"));
  d.declare(bool_key("restrict", true,
                     "Gateway: drop traffic forwarded to the uplink from anyone who is not a "
                     "current subscriber",
                     true));
}

std::optional<Settings> parse_settings(const Json::Value& section, std::string* why) {
  auto fail = [&](const std::string& reason) -> std::optional<Settings> {
    if (why) *why = reason;
    return std::nullopt;
  };
  Settings s;
  if (section.isMember("uplink")) s.uplink = section["uplink"].asString();
  if (section.isMember("table")) s.table = section["table"].asInt64();
  if (section.isMember("priority")) s.priority = section["priority"].asInt();
  if (section.isMember("restrict")) s.restrict = section["restrict"].asBool();

  if (!s.uplink.empty() && !nft_quotable_interface_name(s.uplink))
    return fail("forwarding.uplink: \"" + s.uplink +
                "\" is not an interface name (1 to 15 characters, no spaces, quotes, '/', ':' "
                "or '%'); leave it empty to use the default route's interface");
  // 0 is "unspecified"; 253, 254 and 255 are the kernel's default, main and
  // local tables, which a flush on disconnect would wreck.
  if (s.table < 1 || s.table > 2147483647 || s.table == 253 || s.table == 254 || s.table == 255)
    return fail("forwarding.table: " + std::to_string(s.table) +
                " is not allowed: use 1..2147483647 except 253 (default), 254 (main) and 255 "
                "(local)");
  if (s.priority < 1 || s.priority > kMaxPriority)
    return fail("forwarding.priority: " + std::to_string(s.priority) + " is not allowed: use 1.." +
                std::to_string(kMaxPriority) + " (the second rule takes priority+1 and must come before main's rule at 32766)");
  return s;
}

}  // namespace mnigs::forwarding
