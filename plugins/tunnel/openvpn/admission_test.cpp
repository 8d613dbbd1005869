#include "admission.hpp"

#include <gtest/gtest.h>

namespace mnigs::openvpn {
namespace {

const std::string kFingerprint =
    "0a:1b:2c:3d:4e:5f:60:71:82:93:a4:b5:c6:d7:e8:f9:0a:1b:2c:3d:4e:5f:60:71:82:93:a4:b5:c6:d7:"
    "e8:f9";

std::map<std::string, Admitted> sessions() {
  Admitted a;
  a.subscriber_address = "10.77.0.2";
  a.fingerprint = kFingerprint;
  a.address4 = "10.93.0.2";
  a.netmask4 = "255.255.255.0";
  a.address6 = "fd93::2/64";
  a.gateway6 = "fd93::1";
  return {{"0123456789abcdef0123456789abcdef", a}};
}

// What openvpn's CLIENT:CONNECT says of a client (the names are openvpn's:
// the digest in upper case, as it writes it).
std::map<std::string, std::string> env(std::string name = "0123456789abcdef0123456789abcdef",
                                       std::string from = "10.77.0.2") {
  std::string upper = kFingerprint;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return {{"common_name", name}, {"tls_digest_sha256_0", upper}, {"untrusted_ip", from}};
}

TEST(OpenvpnAdmission, TheSessionsCertificateFromItsAddressGetsItsAddresses) {
  Decision d = admit(env(), sessions());
  ASSERT_TRUE(d.admit) << d.reason;
  EXPECT_EQ(d.session_id, "0123456789abcdef0123456789abcdef");
  EXPECT_EQ(d.lines, (std::vector<std::string>{"ifconfig-push 10.93.0.2 255.255.255.0",
                                               "ifconfig-ipv6-push fd93::2/64 fd93::1"}));
}

TEST(OpenvpnAdmission, AnIpv6SubscriberAndAMappedAddressAreTheSame) {
  auto s = sessions();
  s.begin()->second.subscriber_address = "fc00::2";
  auto e = env();
  e.erase("untrusted_ip");
  e["untrusted_ip6"] = "fc00:0::2";
  EXPECT_TRUE(admit(e, s).admit);
  EXPECT_TRUE(admit(env("0123456789abcdef0123456789abcdef", "::ffff:10.77.0.2"), sessions()).admit);
}

TEST(OpenvpnAdmission, AnythingElseIsRefusedWithAReason) {
  EXPECT_NE(admit(env("ffff"), sessions()).reason.find("no session ffff"), std::string::npos);
  EXPECT_FALSE(admit(env(""), sessions()).admit);
  EXPECT_NE(admit(env("0123456789abcdef0123456789abcdef", "10.77.0.3"), sessions())
                .reason.find("belongs to 10.77.0.2, not to 10.77.0.3"),
            std::string::npos);
  auto other = env();
  other["tls_digest_sha256_0"][0] = 'F';
  EXPECT_NE(admit(other, sessions()).reason.find("not the one issued"), std::string::npos);
  auto nowhere = env();
  nowhere.erase("untrusted_ip");
  EXPECT_FALSE(admit(nowhere, sessions()).admit);
  EXPECT_FALSE(admit(env(), {}).admit);
}

}  // namespace
}  // namespace mnigs::openvpn
