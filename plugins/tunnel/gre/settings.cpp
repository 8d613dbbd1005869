#include "settings.hpp"

#include <string>

namespace mnigs::gre {

const char* to_string(Mode mode) {
  switch (mode) {
    case Mode::auto_: return "auto";
    case Mode::kernel: return "kernel";
    case Mode::userspace: return "userspace";
  }
  return "?";
}

const char* section(Encap encap) { return encap == Encap::gre ? "gre" : "ipip"; }

Settings defaults(Encap encap) {
  Settings s;
  s.encap = encap;
  if (encap == Encap::gre) {
    s.pool4 = "10.96.0.0/24";
    s.pool6 = "fd96::/64";
    s.gateway_interface = "mngre-gw";
    s.subscriber_interface = "mngre0";
    s.table = 65531;
    s.priority = 31020;
  } else {
    s.pool4 = "10.95.0.0/24";
    s.pool6 = "fd95::/64";
    s.gateway_interface = "mnipip-gw";
    s.subscriber_interface = "mnipip0";
    s.table = 65530;
    s.priority = 31030;
  }
  return s;
}

void declare_keys(ConfigDeclarer& d, Encap encap) {
  const Settings s = defaults(encap);
  const std::string what = encap == Encap::gre ? "GRE" : "IP in IP";
  d.declare(string_key("mode", "auto",
                       "kernel: the kernel's " +
                           std::string(encap == Encap::gre ? "gre/ip6gre" : "sit/ip6tnl") +
                           " devices; userspace: raw IP sockets and tun devices, the same packets "
                           "on the wire; auto: the kernel's where it has them",
                       false, {"auto", "kernel", "userspace"}));
  tunnels::declare_tunnel_keys(d, s);
  d.declare(int_key("mtu", s.mtu, 0, 65535,
                    "MTU of the " + what +
                        " devices; 0: the mesh interface's MTU less what the encapsulation adds"));
}

std::optional<Settings> parse_settings(const Json::Value& c, Encap encap, std::string* why) {
  const std::string prefix = std::string(section(encap)) + ".";
  auto fail = [&](const std::string& reason) -> std::optional<Settings> {
    if (why) *why = reason;
    return std::nullopt;
  };
  Settings s = defaults(encap);
  tunnels::read_tunnel_keys(c, s);
  const std::string mode = c.isMember("mode") ? c["mode"].asString() : "auto";
  if (c.isMember("mtu")) s.mtu = c["mtu"].asInt();

  if (mode == "auto")
    s.mode = Mode::auto_;
  else if (mode == "kernel")
    s.mode = Mode::kernel;
  else if (mode == "userspace")
    s.mode = Mode::userspace;
  else
    return fail(prefix + "mode: \"" + mode + "\" must be auto, kernel or userspace");
  // Below the IPv6 minimum (1280) an IPv6 tunnel could not work at all; IPv4
  // alone needs 576.
  if (s.mtu != 0 && (s.mtu < 576 || s.mtu > 65535 - 56))
    return fail(prefix + "mtu: " + std::to_string(s.mtu) + " must be 0 (automatic) or 576.." +
                std::to_string(65535 - 56));
  if (auto problem = tunnels::check_tunnel_keys(section(encap), s, kMaxUplinks); !problem.empty())
    return fail(problem);
  if (s.gateway_interface.size() > 10)
    return fail(prefix + "gatewayInterface: \"" + s.gateway_interface +
                "\" is longer than 10 characters: in mode kernel each session's device is named "
                "after it with a number of up to 5 digits");
  return s;
}

}  // namespace mnigs::gre
