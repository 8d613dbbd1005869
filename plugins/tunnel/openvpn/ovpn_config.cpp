#include "ovpn_config.hpp"

#include <cctype>
#include <cstdint>

namespace mnigs::openvpn {

namespace {

// An inline file: <tag> block lines </tag>. A PEM ends in a newline.
std::string inline_block(const std::string& tag, const std::string& pem) {
  std::string body = pem;
  if (!body.empty() && body.back() != '\n') body += '\n';
  return "<" + tag + ">\n" + body + "</" + tag + ">\n";
}

std::string common(const std::string& device, const std::string& management,
                   const std::string& pid_file, const std::string& log_file) {
  std::string c;
  c += "dev " + device + "\n";
  c += "dev-type tun\n";
  c += "management " + management + " unix\n";
  c += "writepid " + pid_file + "\n";
  c += "log " + log_file + "\n";
  // ECDHE only: the keys are P-256, so no Diffie-Hellman parameters.
  c += "dh none\n";
  c += "tls-version-min 1.2\n";
  c += "verb 1\n";
  return c;
}

}  // namespace

std::string netmask(int bits) {
  if (bits < 0 || bits > 32) return "";
  const std::uint32_t m = bits == 0 ? 0 : 0xffffffffu << (32 - bits);
  return std::to_string(m >> 24) + "." + std::to_string((m >> 16) & 255) + "." +
         std::to_string((m >> 8) & 255) + "." + std::to_string(m & 255);
}

std::string server_config(const Settings& s, const ServerFiles& f) {
  std::string c = "# Written by mnigsd each time it starts this server; edits are lost.\n";
  c += "mode server\ntls-server\n";
  // udp6/tcp6-server: one socket for both families.
  c += f.protocol == Protocol::udp ? "proto udp6\n" : "proto tcp6-server\n";
  c += "port " + std::to_string(s.port) + "\n";
  c += common(f.device, f.management, f.pid_file, f.log_file);
  // mnigsd admits each client (CLIENT:CONNECT) and tells it its addresses.
  // A server without its management client fails every client, so it waits
  // for mnigsd's "hold release"; clients send no username.
  c += "management-client-auth\nmanagement-hold\nauth-user-pass-optional\n";
  c += "topology subnet\n";
  if (!s.pool4.empty()) {
    const auto slash = s.pool4.find('/');
    const int bits = std::stoi(s.pool4.substr(slash + 1));
    c += "server " + s.pool4.substr(0, slash) + " " + netmask(bits) + "\n";
  }
  if (!s.pool6.empty()) c += "server-ipv6 " + s.pool6 + "\n";
  c += "keepalive " + std::to_string(s.ping) + " " + std::to_string(s.ping_restart) + "\n";
  // Anyone on the mesh can start handshakes that fail: at most 20 of the
  // same kind of line in a row reach the log (in RAM, under /run).
  c += "mute 20\n";
  // Clients reconnect at once when this server stops (reset, restart).
  if (f.protocol == Protocol::udp) c += "explicit-exit-notify 1\n";
  // One certificate: the gateway's, which also signed every subscriber's.
  c += inline_block("ca", f.cert_pem);
  c += inline_block("cert", f.cert_pem);
  c += inline_block("key", f.key_pem);
  return c;
}

std::string client_config(const Settings&, const ClientFiles& f) {
  std::string c = "# Written by mnigsd for one session; removed when it ends.\n";
  c += "client\nnobind\n";
  c += f.protocol == Protocol::udp ? "proto udp\n" : "proto tcp-client\n";
  c += "remote " + f.remote + " " + std::to_string(f.port) + "\n";
  c += common(f.device, f.management, f.pid_file, f.log_file);
  // mnigsd sets the device's addresses and routes as for its other
  // tunnels; the device and its addresses outlive a reconnection.
  c += "ifconfig-noexec\nroute-noexec\npersist-tun\n";
  c += "connect-retry 1 5\n";
  // What a gateway may push besides addresses and keepalives is not taken.
  for (const char* option : {"redirect-gateway", "route", "dhcp-option", "dns",
                             "block-outside-dns", "register-dns", "inactive"})
    c += std::string("pull-filter ignore \"") + option + "\"\n";
  c += "peer-fingerprint " + f.fingerprint + "\n";
  c += inline_block("cert", f.cert_pem);
  c += inline_block("key", f.key_pem);
  return c;
}

}  // namespace mnigs::openvpn
