#include "settings.hpp"

#include "interface_name.hpp"

namespace mnigs::openvpn {

const char* to_string(Protocol p) { return p == Protocol::udp ? "udp" : "tcp"; }

std::optional<Protocol> protocol_of(const std::string& name) {
  if (name == "udp") return Protocol::udp;
  if (name == "tcp") return Protocol::tcp;
  return std::nullopt;
}

Settings defaults() {
  Settings s;
  s.pool4 = "10.93.0.0/24";
  s.pool6 = "fd93::/64";
  s.gateway_interface = "mnovpn";
  s.subscriber_interface = "mnovpn0";
  s.table = 65528;
  s.priority = 31050;
  return s;
}

std::string server_device(const Settings& s, Protocol p) {
  return s.gateway_interface + "-" + to_string(p);
}

void declare_keys(ConfigDeclarer& d) {
  const Settings s = defaults();
  tunnels::declare_tunnel_keys(d, s);
  d.declare(list_key("protocols", ValueType::string_list, {"udp"},
                     "Gateway: the openvpn servers to run, one per protocol: udp, tcp or both; "
                     "each has its own tun device, gatewayInterface plus -udp or -tcp"));
  d.declare(int_key("port", s.port, 1, 65535, "Gateway: the port of the servers (UDP and TCP)"));
  d.declare(string_key("protocol", "udp",
                       "Subscriber: the protocol to use where the gateway runs both", false,
                       {"udp", "tcp"}));
  d.declare(file_only(string_key(
      "runDir", s.run_dir,
      "Where openvpn's configs, keys, management sockets and pid files are kept (made 0700); an "
      "absolute path")));
  d.declare(int_key("ping", s.ping, 1, 3600,
                    "Seconds between openvpn's keepalive pings when nothing else is sent"));
  d.declare(int_key("pingRestart", s.ping_restart, 2, 86400,
                    "Seconds without a packet from the other end before openvpn reconnects "
                    "(client) or drops the client (server); more than twice ping"));
}

std::optional<Settings> parse_settings(const Json::Value& c, std::string* why) {
  auto fail = [&](const std::string& reason) -> std::optional<Settings> {
    if (why) *why = reason;
    return std::nullopt;
  };
  Settings s = defaults();
  tunnels::read_tunnel_keys(c, s);
  if (c.isMember("protocols")) {
    s.protocols.clear();
    for (const auto& v : c["protocols"]) {
      auto p = v.isString() ? protocol_of(v.asString()) : std::nullopt;
      if (!p) return fail("openvpn.protocols: " + v.toStyledString() + " is not udp or tcp");
      for (Protocol q : s.protocols)
        if (q == *p) return fail(std::string("openvpn.protocols: ") + to_string(*p) + " twice");
      s.protocols.push_back(*p);
    }
    if (s.protocols.empty()) return fail("openvpn.protocols: empty; name udp, tcp or both");
  }
  if (c.isMember("port")) s.port = c["port"].asInt();
  if (c.isMember("protocol")) {
    auto p = protocol_of(c["protocol"].asString());
    if (!p) return fail("openvpn.protocol: \"" + c["protocol"].asString() + "\" is not udp or tcp");
    s.protocol = *p;
  }
  if (c.isMember("runDir")) s.run_dir = c["runDir"].asString();
  // openvpn's config file takes the path unquoted: nothing that its parser
  // would split or take as a comment.
  if (s.run_dir.size() < 2 || s.run_dir[0] != '/' || s.run_dir.size() > 80 ||
      s.run_dir.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                  "0123456789/._-") != std::string::npos ||
      s.run_dir.find("..") != std::string::npos)
    return fail("openvpn.runDir: \"" + s.run_dir +
                "\" must be an absolute path of at most 80 letters, digits and / . _ - (no ..)");
  if (c.isMember("ping")) s.ping = c["ping"].asInt();
  if (c.isMember("pingRestart")) s.ping_restart = c["pingRestart"].asInt();
  if (s.ping_restart <= 2 * s.ping)
    return fail("openvpn.pingRestart: " + std::to_string(s.ping_restart) +
                " must be more than twice openvpn.ping (" + std::to_string(s.ping) + ")");
  if (auto problem = tunnels::check_tunnel_keys("openvpn", s, kMaxUplinks); !problem.empty())
    return fail(problem);
  for (Protocol p : {Protocol::udp, Protocol::tcp}) {
    const std::string device = server_device(s, p);
    if (!nft_quotable_interface_name(device))
      return fail("openvpn.gatewayInterface: \"" + s.gateway_interface +
                  "\" makes the device name \"" + device + "\", which is not an interface name; "
                  "use at most 11 characters");
    for (unsigned n = 0; n < kMaxUplinks; ++n)
      if (uplink_interface(s.subscriber_interface, n) == device)
        return fail("openvpn.subscriberInterface: \"" + s.subscriber_interface +
                    "\" would name a session's device " + device + " as a server's");
  }
  return s;
}

}  // namespace mnigs::openvpn
