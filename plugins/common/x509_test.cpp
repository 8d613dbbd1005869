// Keys and certificates for the TLS tunnels: every function, with what it
// must refuse, and checked against the openssl command-line tool (an
// implementation that shares nothing with ours but the library): the
// issued certificates verify against the CA, and the fingerprints and the
// key's SPKI are what openssl computes.
#include "x509.hpp"

#include "base64.hpp"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdlib.h>
#include <sys/wait.h>

#include <gtest/gtest.h>

#include <cctype>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

namespace mnigs::x509 {
namespace {

using namespace std::chrono_literals;

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

std::string lower(std::string text) {
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

// The gateway's CA (self-signed, CA:TRUE), made once for all tests.
struct Ca {
  Key key;
  Cert cert;
};
const Ca& ca() {
  static const Ca* made = [] {
    auto* out = new Ca;
    out->key = make_key();
    out->cert = self_signed(out->key.get(), {"mnigs gateway", 24h * 365, true});
    return out;
  }();
  return *made;
}

Cert issue_for(EVP_PKEY* key, std::string_view cn = "0123456789abcdef",
               std::chrono::seconds valid_for = 24h) {
  std::string why;
  Cert cert = issue(key, cn, valid_for, ca().key.get(), ca().cert.get(), &why);
  EXPECT_TRUE(cert) << why;
  return cert;
}

std::string base64_of(const std::string& bytes) {
  return base64_encode({reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()});
}

// What parse_spki_base64 says of `text` (it must refuse it).
std::string refusal(std::string_view text) {
  std::string why;
  Key key = parse_spki_base64(text, &why);
  EXPECT_FALSE(key) << "accepted: " << text;
  EXPECT_FALSE(why.empty());
  return why;
}

// ---------------------------------------------------------------- keys, PEM

TEST(X509, KeysAreFreshP256Keys) {
  Key a = make_key(), b = make_key();
  ASSERT_TRUE(a && b);
  EXPECT_TRUE(EVP_PKEY_is_a(a.get(), "EC"));
  char group[32] = {};
  ASSERT_TRUE(EVP_PKEY_get_group_name(a.get(), group, sizeof group, nullptr));
  EXPECT_STREQ(group, "prime256v1");
  EXPECT_NE(EVP_PKEY_eq(a.get(), b.get()), 1);
}

TEST(X509, KeyAndCertificateGoThroughPemUnchanged) {
  Key key = make_key();
  Cert cert = self_signed(key.get(), {"pem"});
  std::string why;
  auto kp = key_pem(key.get(), &why);
  ASSERT_TRUE(kp) << why;
  auto cp = cert_pem(cert.get(), &why);
  ASSERT_TRUE(cp) << why;
  EXPECT_TRUE(kp->starts_with("-----BEGIN PRIVATE KEY-----\n")) << *kp;
  EXPECT_TRUE(cp->starts_with("-----BEGIN CERTIFICATE-----\n")) << *cp;

  Key key2 = load_key(*kp, &why);
  ASSERT_TRUE(key2) << why;
  EXPECT_EQ(EVP_PKEY_eq(key.get(), key2.get()), 1);
  EXPECT_EQ(key_pem(key2.get()), kp);
  Cert cert2 = load_cert(*cp, &why);
  ASSERT_TRUE(cert2) << why;
  EXPECT_EQ(X509_cmp(cert.get(), cert2.get()), 0);

  // One text holding both, as websocket's store keeps it: each loader
  // takes the block of its kind, in either order.
  auto both = load_identity({*cp + *kp, *kp + *cp}, &why);
  ASSERT_TRUE(both) << why;
  EXPECT_EQ(EVP_PKEY_eq(both->key.get(), key.get()), 1);
  EXPECT_EQ(X509_cmp(both->cert.get(), cert.get()), 0);
}

TEST(X509, GarbagePemIsRefusedWithAReason) {
  std::string why;
  EXPECT_FALSE(load_key("not a key", &why));
  EXPECT_TRUE(contains(why, "no private key")) << why;
  why.clear();
  EXPECT_FALSE(load_cert("not a certificate", &why));
  EXPECT_TRUE(contains(why, "no certificate")) << why;
  why.clear();
  EXPECT_FALSE(load_cert("", &why));
  EXPECT_FALSE(why.empty());

  // A block of the right kind with a body that is no key or certificate.
  EXPECT_FALSE(load_key("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"));
  EXPECT_FALSE(load_cert("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"));

  // Only blocks of the other kind.
  Key key = make_key();
  Cert cert = self_signed(key.get(), {"kinds"});
  EXPECT_FALSE(load_key(*cert_pem(cert.get())));
  EXPECT_FALSE(load_cert(*key_pem(key.get())));

  // Too long to be one of ours: refused before it is read.
  why.clear();
  EXPECT_FALSE(load_cert(*cert_pem(cert.get()) + std::string(64 * 1024, '\n'), &why));
  EXPECT_TRUE(contains(why, "more than 65536")) << why;
}

TEST(X509, AnEncryptedKeyIsRefusedWithoutAskingForAPassphrase) {
  Key key = make_key();
  BIO* bio = BIO_new(BIO_s_mem());
  static char pass[] = "secret";
  ASSERT_TRUE(PEM_write_bio_PrivateKey(bio, key.get(), EVP_aes_128_cbc(),
                                       reinterpret_cast<unsigned char*>(pass), 6, nullptr,
                                       nullptr));
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio, &data);
  const std::string pem(data, static_cast<std::size_t>(n));
  BIO_free(bio);
  ASSERT_TRUE(contains(pem, "ENCRYPTED")) << pem;
  std::string why;
  EXPECT_FALSE(load_key(pem, &why));
  EXPECT_TRUE(contains(why, "encrypted")) << why;
}

TEST(X509, AKeyWithAnotherKeysCertificateIsRefused) {
  auto a = make_identity({"a"});
  auto b = make_identity({"b"});
  ASSERT_TRUE(a && b);
  std::string why;
  EXPECT_TRUE(load_identity(*a, &why)) << why;
  EXPECT_FALSE(load_identity({a->key_pem, b->cert_pem}, &why));
  EXPECT_TRUE(contains(why, "do not go together")) << why;
  why.clear();
  EXPECT_FALSE(load_identity({"garbage", a->cert_pem}, &why));
  EXPECT_TRUE(contains(why, "no private key")) << why;
  why.clear();
  EXPECT_FALSE(load_identity({a->key_pem, "garbage"}, &why));
  EXPECT_TRUE(contains(why, "no certificate")) << why;
}

TEST(X509, NullHandlesAreRefusedNotCrashedOn) {
  std::string why;
  EXPECT_FALSE(key_pem(nullptr, &why));
  EXPECT_FALSE(cert_pem(nullptr, &why));
  EXPECT_FALSE(spki_der(nullptr, &why));
  EXPECT_FALSE(spki_base64(nullptr, &why));
  EXPECT_FALSE(spki_pin(static_cast<const EVP_PKEY*>(nullptr), &why));
  EXPECT_FALSE(spki_pin(static_cast<const X509*>(nullptr), &why));
  EXPECT_FALSE(cert_fingerprint(nullptr, &why));
  EXPECT_FALSE(cert_pin(nullptr, &why));
  EXPECT_FALSE(self_signed(nullptr, {"x"}, &why));
  EXPECT_FALSE(issue(nullptr, "x", 1h, ca().key.get(), ca().cert.get(), &why));
  Key key = make_key();
  EXPECT_FALSE(issue(key.get(), "x", 1h, nullptr, ca().cert.get(), &why));
  EXPECT_FALSE(issue(key.get(), "x", 1h, ca().key.get(), nullptr, &why));
  EXPECT_FALSE(why.empty());
}

// ---------------------------------------------------------------- certificates

TEST(X509, APlainSelfSignedCertificateHasNoExtensions) {
  Key key = make_key();
  std::string why;
  Cert cert = self_signed(key.get(), {"mnigs gateway"}, &why);
  ASSERT_TRUE(cert) << why;
  EXPECT_EQ(X509_get_version(cert.get()), X509_VERSION_3);
  EXPECT_EQ(X509_get_ext_count(cert.get()), 0);
  EXPECT_EQ(X509_NAME_cmp(X509_get_subject_name(cert.get()), X509_get_issuer_name(cert.get())),
            0);
  EXPECT_EQ(X509_verify(cert.get(), key.get()), 1);
  EXPECT_EQ(X509_check_ca(cert.get()), 0);
  // Valid since a day ago, for 50 years.
  int days = 0, seconds = 0;
  ASSERT_TRUE(ASN1_TIME_diff(&days, &seconds, nullptr, X509_get0_notBefore(cert.get())));
  EXPECT_NEAR(days * 86400 + seconds, -86400, 60);
  ASSERT_TRUE(ASN1_TIME_diff(&days, &seconds, nullptr, X509_get0_notAfter(cert.get())));
  EXPECT_NEAR(days, 50 * 365, 1);
}

TEST(X509, ALongCommonNameIsCutToSixtyFourBytesNotInsideACharacter) {
  // 63 ASCII and a 2-byte 'é': the 'é' would straddle byte 64.
  const std::string name = std::string(63, 'n') + "\xc3\xa9";
  Key key = make_key();
  std::string why;
  Cert cert = self_signed(key.get(), {name}, &why);
  ASSERT_TRUE(cert) << why;
  char cn[128] = {};
  X509_NAME_get_text_by_NID(X509_get_subject_name(cert.get()), NID_commonName, cn, sizeof cn);
  EXPECT_EQ(std::string(cn), std::string(63, 'n'));
}

TEST(X509, ACaCertificateHasTheExtensionsACaNeeds) {
  const X509* cert = ca().cert.get();
  ASSERT_TRUE(cert);
  EXPECT_EQ(X509_check_ca(const_cast<X509*>(cert)), 1);
  const int bc = X509_get_ext_by_NID(cert, NID_basic_constraints, -1);
  ASSERT_GE(bc, 0);
  EXPECT_EQ(X509_EXTENSION_get_critical(X509_get_ext(cert, bc)), 1);
  const int ku = X509_get_ext_by_NID(cert, NID_key_usage, -1);
  ASSERT_GE(ku, 0);
  EXPECT_EQ(X509_EXTENSION_get_critical(X509_get_ext(cert, ku)), 1);
  EXPECT_EQ(X509_get_key_usage(const_cast<X509*>(cert)),
            static_cast<std::uint32_t>(KU_KEY_CERT_SIGN | KU_DIGITAL_SIGNATURE));
  EXPECT_NE(X509_get0_subject_key_id(const_cast<X509*>(cert)), nullptr);
}

TEST(X509, MakeIdentityGivesAKeyAndItsSelfSignedCertificate) {
  std::string why;
  auto id = make_identity({"id", 1h, true}, &why);
  ASSERT_TRUE(id) << why;
  auto loaded = load_identity(*id, &why);
  ASSERT_TRUE(loaded) << why;
  EXPECT_EQ(X509_verify(loaded->cert.get(), loaded->key.get()), 1);
  EXPECT_EQ(X509_check_ca(loaded->cert.get()), 1);
}

TEST(X509, AnIssuedCertificateIsAClientCertificateOfTheCa) {
  Key key = make_key();
  Cert cert = issue_for(key.get(), "session-42", 3600s);
  ASSERT_TRUE(cert);
  X509* c = cert.get();
  EXPECT_EQ(X509_get_version(c), X509_VERSION_3);
  char cn[128] = {};
  X509_NAME_get_text_by_NID(X509_get_subject_name(c), NID_commonName, cn, sizeof cn);
  EXPECT_STREQ(cn, "session-42");
  EXPECT_EQ(X509_NAME_cmp(X509_get_issuer_name(c), X509_get_subject_name(ca().cert.get())), 0);
  EXPECT_EQ(X509_verify(c, ca().key.get()), 1);
  EXPECT_EQ(EVP_PKEY_eq(X509_get0_pubkey(c), key.get()), 1);
  EXPECT_EQ(X509_check_ca(c), 0);

  // keyUsage digitalSignature (critical), extendedKeyUsage clientAuth.
  EXPECT_EQ(X509_get_key_usage(c), static_cast<std::uint32_t>(KU_DIGITAL_SIGNATURE));
  const int ku = X509_get_ext_by_NID(c, NID_key_usage, -1);
  ASSERT_GE(ku, 0);
  EXPECT_EQ(X509_EXTENSION_get_critical(X509_get_ext(c, ku)), 1);
  EXPECT_EQ(X509_get_extended_key_usage(c), static_cast<std::uint32_t>(XKU_SSL_CLIENT));
  // The authority key identifier is the CA's subject key identifier.
  const ASN1_OCTET_STRING* aki = X509_get0_authority_key_id(c);
  ASSERT_NE(aki, nullptr);
  EXPECT_EQ(ASN1_OCTET_STRING_cmp(aki, X509_get0_subject_key_id(ca().cert.get())), 0);

  // Serial: positive, at most 128 bits, and another for the next one.
  BIGNUM* serial = ASN1_INTEGER_to_BN(X509_get0_serialNumber(c), nullptr);
  ASSERT_NE(serial, nullptr);
  EXPECT_FALSE(BN_is_negative(serial));
  EXPECT_FALSE(BN_is_zero(serial));
  EXPECT_LE(BN_num_bits(serial), 128);
  BN_free(serial);
  Cert again = issue_for(key.get(), "session-42", 3600s);
  EXPECT_NE(ASN1_INTEGER_cmp(X509_get0_serialNumber(c), X509_get0_serialNumber(again.get())), 0);

  // From an hour ago for the time asked.
  int days = 0, seconds = 0;
  ASSERT_TRUE(ASN1_TIME_diff(&days, &seconds, nullptr, X509_get0_notBefore(c)));
  EXPECT_NEAR(days * 86400 + seconds, -3600, 60);
  ASSERT_TRUE(ASN1_TIME_diff(&days, &seconds, nullptr, X509_get0_notAfter(c)));
  EXPECT_NEAR(days * 86400 + seconds, 3600, 60);
}

TEST(X509, IssueRefusesBadNamesTimesAndIssuers) {
  Key key = make_key();
  std::string why;
  auto refused = [&](std::string_view cn, std::chrono::seconds valid_for, EVP_PKEY* ca_key,
                     X509* ca_cert) {
    why.clear();
    EXPECT_FALSE(issue(key.get(), cn, valid_for, ca_key, ca_cert, &why)) << cn;
    EXPECT_FALSE(why.empty());
    return why;
  };
  EVP_PKEY* k = ca().key.get();
  X509* c = ca().cert.get();
  EXPECT_TRUE(contains(refused("", 1h, k, c), "common name")) << why;
  EXPECT_TRUE(contains(refused(std::string(65, 'a'), 1h, k, c), "common name")) << why;
  EXPECT_TRUE(contains(refused("a\nb", 1h, k, c), "not all printable")) << why;
  EXPECT_TRUE(contains(refused("caf\xc3\xa9", 1h, k, c), "not all printable")) << why;
  EXPECT_TRUE(contains(refused("a", 0s, k, c), "validity")) << why;
  EXPECT_TRUE(contains(refused("a", -1s, k, c), "validity")) << why;
  EXPECT_TRUE(contains(refused("a", 24h * 365 * 101, k, c), "validity")) << why;
  // The bounds themselves are taken.
  EXPECT_TRUE(issue(key.get(), std::string(64, 'a'), 1s, k, c, &why)) << why;
  EXPECT_TRUE(issue(key.get(), "a", 24h * 365 * 100, k, c, &why)) << why;

  // A certificate that is no CA, and a CA key that is not the certificate's.
  Key other = make_key();
  Cert plain = self_signed(other.get(), {"plain"});
  EXPECT_TRUE(contains(refused("a", 1h, other.get(), plain.get()), "not a CA")) << why;
  EXPECT_TRUE(contains(refused("a", 1h, other.get(), c), "do not go together")) << why;
}

// ---------------------------------------------------------------- public keys

TEST(X509, SpkiIsNinetyOneBytesAndOneHundredTwentyFourCharacters) {
  Key key = make_key();
  std::string why;
  auto der = spki_der(key.get(), &why);
  ASSERT_TRUE(der) << why;
  EXPECT_EQ(der->size(), 91u);
  auto text = spki_base64(key.get(), &why);
  ASSERT_TRUE(text) << why;
  EXPECT_EQ(text->size(), 124u);
  EXPECT_EQ(*text, base64_of(*der));
  EXPECT_TRUE(text->ends_with("=")) << *text;

  // Back: the same public key, without the private part, and the same text.
  Key back = parse_spki_base64(*text, &why);
  ASSERT_TRUE(back) << why;
  EXPECT_EQ(EVP_PKEY_eq(back.get(), key.get()), 1);
  EXPECT_EQ(spki_base64(back.get()), text);
  EXPECT_FALSE(key_pem(back.get()));
}

TEST(X509, SpkiParsingRefusesEverythingButACanonicalP256Key) {
  Key key = make_key();
  const std::string der = *spki_der(key.get());
  const std::string text = base64_of(der);

  EXPECT_TRUE(contains(refusal(""), "takes 124")) << refusal("");
  EXPECT_TRUE(contains(refusal(std::string(2000, 'A')), "takes 124"));
  // Cut short: not a whole base64 group, or whole groups of a cut DER.
  EXPECT_TRUE(contains(refusal(text.substr(0, 123)), "not base64"));
  EXPECT_TRUE(contains(refusal(text.substr(0, 120)), "no DER SubjectPublicKeyInfo"));
  EXPECT_TRUE(contains(refusal(base64_of(der.substr(0, 90))), "no DER SubjectPublicKeyInfo"));
  // One byte more after the key.
  EXPECT_TRUE(contains(refusal(base64_of(der + '\0')), "1 bytes after"));
  // Not base64 as written: white space, a line break, the URL alphabet, a
  // padding bit set, '=' inside.
  EXPECT_TRUE(contains(refusal(text + "\n"), "not base64"));
  EXPECT_TRUE(contains(refusal(" " + text.substr(1)), "not base64"));
  std::string url = text;
  url[url.find_first_of("+/") == std::string::npos ? 0 : url.find_first_of("+/")] = '-';
  EXPECT_TRUE(contains(refusal(url), "not base64"));
  std::string bits = text;  // 91 bytes: "==", 4 bits left over
  ASSERT_TRUE(bits.ends_with("==")) << bits;
  const std::string_view alphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  ASSERT_NE(alphabet.find(bits[121]), std::string_view::npos);
  bits[121] = alphabet[alphabet.find(bits[121]) ^ 1];
  EXPECT_TRUE(contains(refusal(bits), "not base64")) << refusal(bits);
  EXPECT_TRUE(contains(refusal("AA==AAAA"), "not base64"));

  // Other keys: another curve, RSA, Ed25519.
  Key p384(EVP_EC_gen("P-384"));
  EXPECT_TRUE(contains(refusal(*spki_base64(p384.get())), "secp384r1, not P-256"))
      << refusal(*spki_base64(p384.get()));
  Key rsa(EVP_RSA_gen(1024));
  EXPECT_TRUE(contains(refusal(*spki_base64(rsa.get())), "an RSA key, not a P-256"))
      << refusal(*spki_base64(rsa.get()));
  Key ed(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"));
  EXPECT_TRUE(contains(refusal(*spki_base64(ed.get())), "not a P-256"))
      << refusal(*spki_base64(ed.get()));

  // The same key with its point compressed: another text for it.
  Key compressed = parse_spki_base64(text);
  ASSERT_TRUE(compressed);
  ASSERT_TRUE(EVP_PKEY_set_utf8_string_param(
      compressed.get(), OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT, "compressed"));
  const std::string short_der = *spki_der(compressed.get());
  ASSERT_EQ(short_der.size(), 59u);
  EXPECT_TRUE(contains(refusal(base64_of(short_der)), "one form accepted"));

  // A point off the curve: Y changed.
  std::string off = der;
  off[90] = static_cast<char>(off[90] ^ 1);
  EXPECT_TRUE(contains(refusal(base64_of(off)), "no DER SubjectPublicKeyInfo"));

  // Text from outside is quoted back only when short and printable.
  EXPECT_FALSE(contains(refusal(std::string(400, 'A')), "AAAA"));
  EXPECT_TRUE(contains(refusal("AAA\n"), "the public key given"));
  EXPECT_TRUE(contains(refusal("AAA"), "the public key \"AAA\""));
}

// ---------------------------------------------------------------- fingerprints

TEST(X509, PinsAndFingerprintsHaveTheirForms) {
  Key key = make_key();
  Cert cert = issue_for(key.get());
  std::string why;
  auto pin = spki_pin(key.get(), &why);
  ASSERT_TRUE(pin) << why;
  EXPECT_TRUE(valid_pin(*pin)) << *pin;
  EXPECT_EQ(spki_pin(cert.get()), pin);  // a key's and its certificate's
  EXPECT_NE(spki_pin(make_key().get()), pin);

  auto fp = cert_fingerprint(cert.get(), &why);
  ASSERT_TRUE(fp) << why;
  ASSERT_EQ(fp->size(), 95u);
  for (std::size_t i = 0; i < fp->size(); ++i)
    EXPECT_TRUE(i % 3 == 2 ? (*fp)[i] == ':' : std::isxdigit((*fp)[i]) && !std::isupper((*fp)[i]))
        << *fp;
  auto cp = cert_pin(cert.get(), &why);
  ASSERT_TRUE(cp) << why;
  EXPECT_TRUE(valid_pin(*cp));
  EXPECT_NE(*cp, *pin);  // the certificate's hash, not its key's
  EXPECT_EQ(fingerprint_of_pin(*cp), fp);
  // Another certificate for the same key: same key pin, other fingerprint.
  Cert again = issue_for(key.get());
  EXPECT_EQ(spki_pin(again.get()), pin);
  EXPECT_NE(cert_fingerprint(again.get()), fp);
}

TEST(X509, ValidPinIsStrict) {
  EXPECT_FALSE(valid_pin(""));
  EXPECT_FALSE(valid_pin("sha256:"));
  EXPECT_FALSE(valid_pin("sha1:" + std::string(64, 'a')));
  EXPECT_FALSE(valid_pin("sha256:" + std::string(63, 'a')));
  EXPECT_FALSE(valid_pin("sha256:" + std::string(64, 'A')));
  EXPECT_FALSE(valid_pin("sha256:" + std::string(64, 'g')));
  EXPECT_FALSE(valid_pin("sha256:" + std::string(65, 'a')));
  EXPECT_TRUE(valid_pin("sha256:" + std::string(64, '0')));
  EXPECT_FALSE(fingerprint_of_pin("sha256:" + std::string(64, 'A')));
  EXPECT_EQ(fingerprint_of_pin("sha256:0123456789abcdef" + std::string(48, '0'))->substr(0, 24),
            "01:23:45:67:89:ab:cd:ef:");
}

// ---------------------------------------------------------------- against openssl(1)

// A directory of its own for openssl's files, removed at the end.
class WithOpenssl : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* tmp = std::getenv("TMPDIR");
    std::string pattern = std::string(tmp && *tmp ? tmp : "/tmp") + "/mnigs-x509-XXXXXX";
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    // Missing, it fails: the test packages (scripts/deps.sh) have it.
    ASSERT_EQ(run("openssl version").status, 0) << "the openssl command is needed";
  }
  void TearDown() override {
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }
  std::string write(const std::string& name, const std::string& text) {
    const std::string path = dir_ + "/" + name;
    std::ofstream(path) << text;
    return path;
  }
  struct Ran {
    int status = -1;
    std::string out;  // stdout and stderr
  };
  Ran run(const std::string& command) {
    Ran r;
    FILE* p = ::popen(("cd '" + dir_ + "' && " + command + " 2>&1").c_str(), "r");
    if (!p) return r;
    char buf[4096];
    for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) r.out.append(buf, n);
    const int status = ::pclose(p);
    r.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    while (!r.out.empty() && (r.out.back() == '\n' || r.out.back() == '\r')) r.out.pop_back();
    return r;
  }
  std::string dir_;
};

TEST_F(WithOpenssl, AnIssuedCertificateVerifiesAgainstTheCaAndOnlyThatOne) {
  write("ca.pem", *cert_pem(ca().cert.get()));
  Key key = make_key();
  Cert leaf = issue_for(key.get(), "0123456789abcdef0123456789abcdef");
  write("leaf.pem", *cert_pem(leaf.get()));
  // -x509_strict: the extensions RFC 5280 asks of a CA and its leaves
  // (basicConstraints critical, key identifiers); sslclient: usable as a TLS
  // client's certificate.
  auto r = run("openssl verify -x509_strict -purpose sslclient -CAfile ca.pem leaf.pem");
  EXPECT_EQ(r.status, 0) << r.out;
  EXPECT_EQ(r.out, "leaf.pem: OK");
  // The gateway's one certificate is also its TLS server certificate.
  r = run("openssl verify -x509_strict -purpose sslserver -CAfile ca.pem ca.pem");
  EXPECT_EQ(r.status, 0) << r.out;
  // Not a server certificate, and not of another CA.
  r = run("openssl verify -purpose sslserver -CAfile ca.pem leaf.pem");
  EXPECT_NE(r.status, 0) << r.out;
  Key other_key = make_key();
  Cert other = self_signed(other_key.get(), {"mnigs gateway", 1h, true});
  write("other.pem", *cert_pem(other.get()));
  r = run("openssl verify -CAfile other.pem leaf.pem");
  EXPECT_NE(r.status, 0) << r.out;
  // Expired: valid for a second, checked as of two hours on.
  Cert brief = issue_for(key.get(), "brief", 1s);
  write("brief.pem", *cert_pem(brief.get()));
  const auto later = std::chrono::system_clock::now() + 2h;
  r = run("openssl verify -attime " +
          std::to_string(std::chrono::system_clock::to_time_t(later)) +
          " -CAfile ca.pem brief.pem");
  EXPECT_NE(r.status, 0) << r.out;
  EXPECT_TRUE(contains(r.out, "expired")) << r.out;
}

TEST_F(WithOpenssl, FingerprintsAndTheSpkiAreOpensslsToo) {
  Key key = make_key();
  Cert leaf = issue_for(key.get());
  write("leaf.pem", *cert_pem(leaf.get()));
  auto r = run("openssl x509 -noout -fingerprint -sha256 -in leaf.pem");
  ASSERT_EQ(r.status, 0) << r.out;
  const auto eq = r.out.find('=');
  ASSERT_NE(eq, std::string::npos) << r.out;
  EXPECT_EQ(lower(r.out.substr(eq + 1)), *cert_fingerprint(leaf.get()));

  // The pin, and the base64, of the key openssl reads out of the
  // certificate.
  r = run("openssl x509 -noout -pubkey -in leaf.pem | openssl pkey -pubin -outform DER "
          "| openssl dgst -sha256 -r");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_EQ("sha256:" + r.out.substr(0, 64), *spki_pin(key.get()));
  r = run("openssl x509 -noout -pubkey -in leaf.pem | openssl pkey -pubin -outform DER "
          "| openssl base64 -A");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_EQ(r.out, *spki_base64(key.get()));
}

TEST_F(WithOpenssl, KeysAndCertificatesFromOpensslLoad) {
  auto r = run("openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out key.pem && "
               "openssl req -x509 -new -key key.pem -subj /CN=made-by-openssl -days 1 "
               "-out cert.pem && openssl pkey -in key.pem -pubout -outform DER "
               "| openssl base64 -A");
  ASSERT_EQ(r.status, 0) << r.out;
  const std::string spki = r.out;
  std::ifstream kf(dir_ + "/key.pem"), cf(dir_ + "/cert.pem");
  Identity id{std::string(std::istreambuf_iterator<char>(kf), {}),
              std::string(std::istreambuf_iterator<char>(cf), {})};
  std::string why;
  auto loaded = load_identity(id, &why);
  ASSERT_TRUE(loaded) << why;
  Key pub = parse_spki_base64(spki, &why);
  ASSERT_TRUE(pub) << why;
  EXPECT_EQ(EVP_PKEY_eq(pub.get(), loaded->key.get()), 1);

  // And ours load in openssl.
  write("ours.key", *key_pem(ca().key.get()));
  write("ours.pem", *cert_pem(ca().cert.get()));
  r = run("openssl pkey -in ours.key -pubout > a && openssl x509 -in ours.pem -noout -pubkey "
          "> b && cmp a b");
  EXPECT_EQ(r.status, 0) << r.out;
}

}  // namespace
}  // namespace mnigs::x509
