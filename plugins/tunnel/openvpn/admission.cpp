#include "admission.hpp"

#include <algorithm>
#include <cctype>

#include "util/net.hpp"

namespace mnigs::openvpn {

namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

std::string get(const std::map<std::string, std::string>& env, const std::string& name) {
  auto it = env.find(name);
  return it == env.end() ? std::string() : it->second;
}

}  // namespace

bool same_address(const std::string& a, const std::string& b) {
  auto x = parse_address(a), y = parse_address(b);
  return x && y && unmap(*x) == unmap(*y);
}

Decision admit(const std::map<std::string, std::string>& env,
               const std::map<std::string, Admitted>& sessions) {
  Decision d;
  const std::string name = get(env, "common_name");
  auto it = sessions.find(name);
  if (name.empty() || it == sessions.end()) {
    d.reason = "no session " + (name.empty() ? std::string("(no common name)") : name) + " here";
    return d;
  }
  const Admitted& s = it->second;
  if (lower(get(env, "tls_digest_sha256_0")) != s.fingerprint) {
    d.reason = "the certificate is not the one issued for session " + name;
    return d;
  }
  std::string from = get(env, "untrusted_ip");
  if (from.empty()) from = get(env, "untrusted_ip6");
  if (!same_address(from, s.subscriber_address)) {
    d.reason = "session " + name + " belongs to " + s.subscriber_address + ", not to " +
               (from.empty() ? std::string("an unknown address") : from);
    return d;
  }
  d.admit = true;
  d.session_id = name;
  if (!s.address4.empty()) d.lines.push_back("ifconfig-push " + s.address4 + " " + s.netmask4);
  if (!s.address6.empty())
    d.lines.push_back("ifconfig-ipv6-push " + s.address6 + " " + s.gateway6);
  return d;
}

}  // namespace mnigs::openvpn
