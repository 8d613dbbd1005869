#include <gtest/gtest.h>

#include "ovpn_config.hpp"
#include "settings.hpp"

namespace mnigs::openvpn {
namespace {

bool has_line(const std::string& text, const std::string& line) {
  return ("\n" + text).find("\n" + line + "\n") != std::string::npos;
}

TEST(OpenvpnSettings, DefaultsAndWhatIsRefused) {
  std::string why;
  auto s = parse_settings(Json::Value(Json::objectValue), &why);
  ASSERT_TRUE(s) << why;
  EXPECT_EQ(s->protocols, std::vector<Protocol>{Protocol::udp});
  EXPECT_EQ(server_device(*s, Protocol::tcp), "mnovpn-tcp");
  auto refused = [](const char* key, Json::Value v) {
    Json::Value c(Json::objectValue);
    c[key] = v;
    std::string why;
    EXPECT_FALSE(parse_settings(c, &why)) << key;
    EXPECT_NE(why.find(std::string("openvpn.") + key), std::string::npos) << why;
  };
  Json::Value twice(Json::arrayValue);
  twice.append("udp");
  twice.append("udp");
  refused("protocols", twice);
  refused("protocols", Json::Value(Json::arrayValue));
  refused("runDir", "relative");
  refused("runDir", "/run/a b");
  refused("runDir", "/run/../etc");
  refused("gatewayInterface", "twelvecharsx");
  refused("pingRestart", 20);  // not more than twice ping (10)
}

TEST(OpenvpnConfig, TheServerAdmitsThroughTheManagementSocketAndServesThePool) {
  Settings s = defaults();
  ServerFiles f;
  f.protocol = Protocol::tcp;
  f.device = "mnovpn-tcp";
  f.management = "/run/x/server-tcp.sock";
  f.pid_file = "/run/x/server-tcp.pid";
  f.log_file = "/run/x/server-tcp.log";
  f.cert_pem = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
  f.key_pem = "-----BEGIN PRIVATE KEY-----\nBBBB\n-----END PRIVATE KEY-----\n";
  const std::string c = server_config(s, f);
  for (const char* line :
       {"mode server", "proto tcp6-server", "port 1194", "dev mnovpn-tcp",
        "management /run/x/server-tcp.sock unix", "management-client-auth", "management-hold",
        "auth-user-pass-optional", "topology subnet",
        "server 10.93.0.0 255.255.255.0", "server-ipv6 fd93::/64", "keepalive 10 60", "dh none",
        "writepid /run/x/server-tcp.pid", "log /run/x/server-tcp.log", "<ca>", "<cert>", "<key>",
        "BBBB"})
    EXPECT_TRUE(has_line(c, line)) << line << "\n" << c;
  EXPECT_FALSE(has_line(c, "explicit-exit-notify 1"));  // UDP only
  f.protocol = Protocol::udp;
  EXPECT_TRUE(has_line(server_config(s, f), "explicit-exit-notify 1"));
}

TEST(OpenvpnConfig, TheClientPinsTheGatewayAndLeavesAddressesAndRoutesToMnigs) {
  Settings s = defaults();
  ClientFiles f;
  f.device = "mnovpn0";
  f.remote = "fc00::1";
  f.port = 1195;
  f.fingerprint = "ab:cd";
  f.management = "/run/x/client-mnovpn0.sock";
  f.pid_file = "/run/x/client-mnovpn0.pid";
  f.log_file = "/run/x/client-mnovpn0.log";
  const std::string c = client_config(s, f);
  for (const char* line : {"client", "proto udp", "remote fc00::1 1195", "peer-fingerprint ab:cd",
                           "ifconfig-noexec", "route-noexec", "persist-tun",
                           "pull-filter ignore \"redirect-gateway\"", "dev mnovpn0"})
    EXPECT_TRUE(has_line(c, line)) << line << "\n" << c;
  EXPECT_EQ(c.find("<ca>"), std::string::npos);  // the fingerprint, not a CA
}

TEST(OpenvpnConfig, Netmasks) {
  EXPECT_EQ(netmask(24), "255.255.255.0");
  EXPECT_EQ(netmask(30), "255.255.255.252");
  EXPECT_EQ(netmask(8), "255.0.0.0");
  EXPECT_EQ(netmask(33), "");
}

}  // namespace
}  // namespace mnigs::openvpn
