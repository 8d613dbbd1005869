// Whom a gateway's openvpn server lets in: the answer to a CLIENT:CONNECT
// (or REAUTH) from the client's certificate and outer address, as openvpn's
// management interface reports them, and the sessions this gateway holds.
//
// Pure functions; thread-safe.
#pragma once

#include <map>
#include <string>
#include <vector>

namespace mnigs::openvpn {

// A session as the admission needs it.
struct Admitted {
  std::string subscriber_address;  // its mesh address, as the core gave it
  std::string fingerprint;         // the certificate issued for it, "ab:cd:..." form
  std::string address4, netmask4;  // "" for a family the pool has not
  std::string address6;            // with "/prefix"
  std::string gateway6;
};

struct Decision {
  bool admit = false;
  std::string session_id;          // the session it is, when admitted
  std::string reason;              // why not, for the log and client-deny
  std::vector<std::string> lines;  // client-auth's config lines
};

// `env` is the CLIENT:CONNECT's environment: common_name (the session id the
// certificate was issued for), tls_digest_sha256_0 (its fingerprint) and
// untrusted_ip or untrusted_ip6 (where it came from). A client is admitted
// only with the certificate of a live session, from that session's
// subscriber address.
Decision admit(const std::map<std::string, std::string>& env,
               const std::map<std::string, Admitted>& sessions);

// Two addresses are the same (an IPv4 one in IPv4-mapped IPv6 form too);
// false for anything that is not an address.
bool same_address(const std::string& a, const std::string& b);

}  // namespace mnigs::openvpn
