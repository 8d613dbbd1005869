#include "routes.hpp"

#include "interface_name.hpp"

#include <boost/asio/ip/address.hpp>
#include <json/reader.h>

#include <limits>
#include <memory>
#include <utility>
#include <vector>

namespace mnigs::netcmd {

namespace {

std::optional<Json::Value> parse_json(const std::string& text) {
  Json::CharReaderBuilder builder;
  std::unique_ptr<Json::CharReader> reader(builder.newCharReader());
  Json::Value value;
  std::string errors;
  try {
    if (!reader->parse(text.data(), text.data() + text.size(), &value, &errors))
      return std::nullopt;
  } catch (const Json::Exception&) {  // jsoncpp throws past its stack limit
    return std::nullopt;
  }
  return value;
}

std::string string_field(const Json::Value& object, const char* key) {
  if (!object.isObject()) return "";
  const auto& v = object[key];
  return v.isString() ? v.asString() : "";
}

Command ip(Family family, std::vector<std::string> args, bool removal = false) {
  return ip_command(family, std::move(args), removal);
}

}  // namespace

const char* family_name(Family family) { return family == Family::v4 ? "IPv4" : "IPv6"; }

std::optional<Address> parse_address(const std::string& text, std::string* why) {
  auto fail = [&](const std::string& reason) -> std::optional<Address> {
    if (why) *why = "\"" + text + "\" " + reason;
    return std::nullopt;
  };
  // nft and the rule/route commands take no zone index; mesh addresses never need one.
  if (text.find('%') != std::string::npos) return fail("carries a zone index; use a global address");
  boost::system::error_code ec;
  auto addr = boost::asio::ip::make_address(text, ec);
  if (ec) return fail("is not an IPv4 or IPv6 address");
  if (addr.is_v6() && addr.to_v6().is_v4_mapped())
    addr = boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, addr.to_v6());
  if (addr.is_unspecified()) return fail("is the unspecified address");
  if (addr.is_multicast()) return fail("is a multicast address");
  return Address{addr.is_v4() ? Family::v4 : Family::v6, addr.to_string()};
}

std::vector<std::string> parse_link_names(const std::string& json) {
  std::vector<std::string> names;
  auto value = parse_json(json);
  if (!value || !value->isArray()) return names;
  for (const auto& link : *value)
    if (auto name = string_field(link, "ifname"); valid_interface_name(name))
      names.push_back(std::move(name));
  return names;
}

std::optional<NextHop> parse_route_get(const std::string& json, const Address& gateway,
                                       std::int64_t own_table, std::string* why) {
  auto fail = [&](const std::string& reason) -> std::optional<NextHop> {
    if (why) *why = reason;
    return std::nullopt;
  };
  auto parsed = parse_json(json);
  if (!parsed || !parsed->isArray() || parsed->empty() || !(*parsed)[0].isObject())
    return fail("`ip -j route get " + gateway.text + "` gave output that is not a route");
  const Json::Value& route = (*parsed)[0];
  NextHop hop;
  hop.dev = string_field(route, "dev");
  std::string type = string_field(route, "type");
  if (type.empty()) type = "unicast";
  if (type == "local" || hop.dev == "lo")
    return fail("the gateway address " + gateway.text + " is an address of this host");
  if (type != "unicast")
    return fail("the route to the gateway " + gateway.text + " is of type " + type);
  if (hop.dev.empty()) return fail("the route to the gateway " + gateway.text + " names no interface");
  // Once connected, everything without a mesh route resolves through table T.
  if (string_field(route, "table") == std::to_string(own_table))
    return fail("there is no mesh route to the gateway " + gateway.text +
                ", only the default route through the current gateway");
  if (!valid_interface_name(hop.dev))
    return fail("the route to the gateway " + gateway.text + " uses an odd interface name");
  hop.via = string_field(route, "gateway");
  if (hop.via.empty() && route["via"].isObject()) {
    // An IPv4 route through an IPv6 next hop (RFC 5549), as babel installs.
    hop.via = string_field(route["via"], "host");
    hop.via_family = string_field(route["via"], "family");
  }
  if (hop.via.empty()) {
    hop.via = gateway.text;
    hop.onlink = true;
  }
  return hop;
}

std::optional<std::string> parse_default_dev(const std::string& json) {
  auto parsed = parse_json(json);
  if (!parsed || !parsed->isArray()) return std::nullopt;
  std::optional<std::string> best;
  std::int64_t best_metric = std::numeric_limits<std::int64_t>::max();
  for (const auto& route : *parsed) {
    if (!route.isObject()) continue;
    const std::string type = string_field(route, "type");
    if (!type.empty() && type != "unicast") continue;  // unreachable, blackhole, ...
    std::string dev = string_field(route, "dev");
    // A multipath default has its interfaces in "nexthops"; take the first.
    if (dev.empty() && route["nexthops"].isArray() && !route["nexthops"].empty())
      dev = string_field(route["nexthops"][0], "dev");
    // The interface becomes the uplink in the gateway's nft rules.
    if (dev.empty() || dev == "lo" || !nft_quotable_interface_name(dev)) continue;
    const std::int64_t metric = route["metric"].isInt64() ? route["metric"].asInt64() : 0;
    if (!best || metric < best_metric) {
      best = dev;
      best_metric = metric;
    }
  }
  return best;
}

// ip(8) with an explicit family. Without "-4", iproute2 takes the family of
// "default" from the first address it reads, so "route replace default via
// inet6 fe80::1" would install an IPv6 default route.
Command ip_command(Family family, std::vector<std::string> args, bool removal) {
  Command c;
  c.argv.push_back("ip");
  c.argv.push_back(family == Family::v4 ? "-4" : "-6");
  for (auto& a : args) c.argv.push_back(std::move(a));
  c.removal = removal;
  return c;
}

Command replace_default_dev(Family family, const std::string& dev, std::int64_t table,
                            const std::string& src) {
  std::vector<std::string> args{"route", "replace", "default", "dev", dev, "table",
                                std::to_string(table)};
  if (!src.empty()) args.insert(args.end(), {"src", src});
  return ip(family, std::move(args));
}

Command route_get(const Address& gateway) {
  return ip(gateway.family, {"-j", "route", "get", gateway.text});
}

Command show_default(Family family) { return ip(family, {"-j", "route", "show", "default"}); }

Command replace_default(Family family, const NextHop& hop, std::int64_t table) {
  std::vector<std::string> args{"route", "replace", "default", "via"};
  if (!hop.via_family.empty() && hop.via_family != (family == Family::v4 ? "inet" : "inet6"))
    args.push_back(hop.via_family);
  args.push_back(hop.via);
  args.insert(args.end(), {"dev", hop.dev});
  // The gateway is directly on the link. "onlink" spares the kernel its
  // reachability check of the next hop, which fails on point-to-point mesh
  // devices that reach peers through a host route of another protocol.
  if (hop.onlink) args.push_back("onlink");
  args.insert(args.end(), {"table", std::to_string(table)});
  return ip(family, std::move(args));
}

Command add_suppress_rule(Family family, int priority) {
  return ip(family, {"rule", "add", "priority", std::to_string(priority), "lookup", "main",
                     "suppress_prefixlength", "0"});
}

Command add_table_rule(Family family, int priority, std::int64_t table) {
  return ip(family,
            {"rule", "add", "priority", std::to_string(priority), "lookup", std::to_string(table)});
}

Command delete_suppress_rule(Family family, int priority) {
  return ip(family,
            {"rule", "del", "priority", std::to_string(priority), "lookup", "main",
             "suppress_prefixlength", "0"},
            true);
}

Command delete_table_rule(Family family, int priority, std::int64_t table) {
  return ip(family,
            {"rule", "del", "priority", std::to_string(priority), "lookup", std::to_string(table)},
            true);
}

Command delete_rules_at(Family family, int priority, unsigned repeat) {
  Command c = ip(family, {"rule", "del", "priority", std::to_string(priority)}, true);
  c.repeat = repeat;
  return c;
}

Command flush_table(Family family, std::int64_t table) {
  return ip(family, {"route", "flush", "table", std::to_string(table)}, true);
}

}  // namespace mnigs::netcmd
