#include "settings.hpp"

#include "interface_name.hpp"
#include "util/host_port.hpp"

namespace mnigs::tether {

void declare(ConfigDeclarer& d) {
  d.declare(bool_key("enabled", false,
                     "Serve the tether page, through which a phone's browser carries this "
                     "node's traffic to a gateway (mnigs-cli --tether)",
                     true));
  d.declare(string_key("listen", "0.0.0.0:6354",
                       "ADDRESS:PORT the page and its WebSocket are served on: the address "
                       "on the link the phone shares (IPv4, or a global IPv6 one: a browser "
                       "cannot name an interface in a URL); 0.0.0.0 serves every IPv4 address",
                       true));
  d.declare(string_key("gateway", "",
                       "The gateway's RPC address the page asks for a session (ADDRESS or "
                       "ADDRESS:PORT, port 65533 when left out); empty: the page asks its "
                       "user and remembers the answer",
                       true));
  d.declare(string_key("interface", "mntether0", "Name of the tun device carrying the traffic"));
  d.declare(bool_key("offload", true,
                     "Large TCP segments (up to 64 KiB) cross the page as one message each; "
                     "off: one message per packet, which costs the browser far more"));
  d.declare(int_key("table", 65527, 1, 2147483647,
                    "Routing table holding the default route into the tether (not 253, 254 "
                    "or 255)"));
  d.declare(int_key("priority", 31060, 1, 32764,
                    "Priority of the first of two ip rules; the second uses priority+1"));
  d.declare(int_key("keepalive", 10, 1, 3600,
                    "Seconds of silence from the page after which it is pinged (for pages that "
                    "pair from then on)",
                    true));
  d.declare(int_key("timeout", 30, 3, 3600,
                    "Seconds of silence after which the page counts as gone (a mobile browser "
                    "freezes a page in the background; for pages that pair from then on)",
                    true));
  d.declare(int_key("maxQueue", 1 << 20, 65536, 64 << 20,
                    "Bytes that may wait for the page; packets beyond are dropped (for pages "
                    "that pair from then on)",
                    true));
}

std::optional<std::string> normalize_gateway(const std::string& text, std::string* why) {
  auto hp = parse_host_port(text, {.default_port = 65533, .bare_ipv6 = true}, why);
  if (!hp) return std::nullopt;
  const bool v6 = hp->host.find(':') != std::string::npos;
  return (v6 ? "[" + hp->host + "]" : hp->host) + ":" + std::to_string(hp->port);
}

std::optional<Settings> read_settings(const Json::Value& c, std::string* why) {
  Settings s;
  s.enabled = c.get("enabled", false).asBool();
  const std::string listen = c.get("listen", "0.0.0.0:6354").asString();
  std::string reason;
  auto hp = parse_host_port(listen, {}, &reason);
  if (!hp) {
    if (why) *why = "tether.listen: " + reason;
    return std::nullopt;
  }
  s.listen_host = hp->host;
  s.listen_port = hp->port;
  s.gateway = c.get("gateway", "").asString();
  if (!s.gateway.empty()) {
    auto g = normalize_gateway(s.gateway, &reason);
    if (!g) {
      if (why) *why = "tether.gateway: " + reason;
      return std::nullopt;
    }
    s.gateway = *g;
  }
  s.interface = c.get("interface", s.interface).asString();
  if (!valid_interface_name(s.interface)) {
    if (why)
      *why = "tether.interface: \"" + s.interface +
             "\" is not an interface name (1-15 bytes, no '/', ':', '%' or white space)";
    return std::nullopt;
  }
  s.offload = c.get("offload", true).asBool();
  s.table = c.get("table", 65527).asInt64();
  if (s.table == 253 || s.table == 254 || s.table == 255) {
    if (why) *why = "tether.table: " + std::to_string(s.table) + " is one of the kernel's tables";
    return std::nullopt;
  }
  s.priority = c.get("priority", 31060).asInt();
  s.keepalive = std::chrono::seconds(c.get("keepalive", 10).asInt());
  s.timeout = std::chrono::seconds(c.get("timeout", 30).asInt());
  s.max_queue = static_cast<std::size_t>(c.get("maxQueue", 1 << 20).asInt64());
  return s;
}

}  // namespace mnigs::tether
