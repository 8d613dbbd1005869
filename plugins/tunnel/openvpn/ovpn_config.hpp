// The openvpn config files mnigsd writes for its servers and clients, as
// text: nothing but what mnigsd itself chose or parsed and wrote back goes
// into them (PEMs are written by OpenSSL, addresses are checked literals),
// so no input from the mesh can add a directive.
//
// Pure functions; thread-safe.
#pragma once

#include <string>

#include "settings.hpp"

namespace mnigs::openvpn {

// A gateway's server for one protocol.
struct ServerFiles {
  Protocol protocol = Protocol::udp;
  std::string device;      // its tun device
  std::string management;  // unix socket path
  std::string pid_file, log_file;
  std::string cert_pem, key_pem;  // the gateway's self-signed certificate, also the CA
};
std::string server_config(const Settings& settings, const ServerFiles& files);

// A subscriber's client for one session.
struct ClientFiles {
  Protocol protocol = Protocol::udp;
  std::string device;
  std::string remote;  // the gateway's address, a literal without a zone
  int port = 1194;
  std::string fingerprint;  // the gateway's certificate: openvpn's "ab:cd:..." form
  std::string management, pid_file, log_file;
  std::string cert_pem, key_pem;  // the certificate the gateway issued, our key
};
std::string client_config(const Settings& settings, const ClientFiles& files);

// The IPv4 netmask of a prefix length, "255.255.255.0" for 24.
std::string netmask(int prefix_length);

}  // namespace mnigs::openvpn
