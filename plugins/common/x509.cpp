#include "x509.hpp"

#include "base64.hpp"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/buffer.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <array>
#include <cstring>

namespace mnigs::x509 {

void KeyFree::operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
void CertFree::operator()(X509* cert) const { X509_free(cert); }

namespace {

// PEM from a plugin's store: a key and a certificate take about 1 KiB.
constexpr std::size_t kMaxPem = 64 * 1024;
// A subscriber's key as base64: 124 characters for P-256. Longer text is
// refused before it is decoded; up to this, an RSA or other key is decoded
// far enough to say what it is.
constexpr std::size_t kMaxSpkiText = 1024;
// X.509's upper bound for a common name (ub-common-name), in characters.
constexpr std::size_t kMaxCommonName = 64;
constexpr long long kDay = 24 * 3600;
constexpr long long kMaxValidity = 100 * 365 * kDay;

// Every P-256 SubjectPublicKeyInfo in DER up to the point's coordinates:
// SEQUENCE (89 bytes) { SEQUENCE { OID id-ecPublicKey, OID prime256v1 },
// BIT STRING (66 bytes, 0 unused bits) { 0x04 (uncompressed), X, Y } }.
// Anything else that decodes to the same key (a compressed point, explicit
// curve parameters, BER lengths) is refused, so one key has one text.
constexpr std::array<unsigned char, 27> kP256SpkiPrefix = {
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06,
    0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00, 0x04};
constexpr std::size_t kP256SpkiSize = kP256SpkiPrefix.size() + 64;

struct BioFree {
  void operator()(BIO* bio) const { BIO_free(bio); }
};
struct BnFree {
  void operator()(BIGNUM* bn) const { BN_free(bn); }
};
struct PkeyCtxFree {
  void operator()(EVP_PKEY_CTX* ctx) const { EVP_PKEY_CTX_free(ctx); }
};
struct ExtFree {
  void operator()(X509_EXTENSION* ext) const { X509_EXTENSION_free(ext); }
};
using BioPtr = std::unique_ptr<BIO, BioFree>;
using BnPtr = std::unique_ptr<BIGNUM, BnFree>;
using PkeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, PkeyCtxFree>;
using ExtPtr = std::unique_ptr<X509_EXTENSION, ExtFree>;

// Puts `what` into *why (if given), with OpenSSL's reason when its error
// queue has one (the first, the innermost: "wrong tag" rather than "nested
// asn1 error"), and empties the queue so that the next call starts clean.
void say(std::string* why, std::string what) {
  const unsigned long code = ERR_peek_error();
  ERR_clear_error();
  if (!why) return;
  if (code != 0)
    if (const char* reason = ERR_reason_error_string(code)) what += std::string(": ") + reason;
  *why = std::move(what);
}

// Puts `what` into *why (if given), for a check of our own: OpenSSL's
// reason would be beside the point, and is dropped.
void tell(std::string* why, std::string what) {
  ERR_clear_error();
  if (why) *why = std::move(what);
}

std::string hex(const unsigned char* data, std::size_t size, const char* separator = "") {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (std::size_t i = 0; i < size; ++i) {
    if (i > 0) out += separator;
    out += digits[data[i] >> 4];
    out += digits[data[i] & 15];
  }
  return out;
}

std::string bio_text(BIO* bio) {
  BUF_MEM* mem = nullptr;
  BIO_get_mem_ptr(bio, &mem);
  return mem ? std::string(mem->data, mem->length) : std::string();
}

// A read-only BIO over `pem`; null (and *why set) when it is too long.
BioPtr pem_bio(std::string_view pem, const char* what, std::string* why) {
  if (pem.size() > kMaxPem) {
    tell(why, std::string("the ") + what + " PEM text is " + std::to_string(pem.size()) +
                 " bytes long, more than " + std::to_string(kMaxPem));
    return {};
  }
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) say(why, std::string("cannot read the ") + what + " PEM text");
  return bio;
}

// OpenSSL's default asks the terminal for a passphrase; a daemon has none.
int no_passphrase(char*, int, int, void*) { return -1; }

// 128 random bits, not 0 (a serial must be positive): RFC 5280 allows up
// to 20 bytes, and CA/B asks for at least 64 unpredictable bits.
bool set_random_serial(X509* cert, std::string* why) {
  BnPtr serial(BN_new());
  if (serial) {
    do {
      if (!BN_rand(serial.get(), 128, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY)) serial.reset();
    } while (serial && BN_is_zero(serial.get()));
  }
  if (!serial || !BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(cert))) {
    say(why, "cannot give the certificate a random serial number");
    return false;
  }
  return true;
}

bool valid_duration(std::chrono::seconds valid_for, std::string* why) {
  if (valid_for.count() > 0 && valid_for.count() <= kMaxValidity) return true;
  tell(why, "a certificate's validity must be 1 s to 100 years (got " +
               std::to_string(valid_for.count()) + " s)");
  return false;
}

// Valid from `back` seconds ago (so a peer whose clock is behind takes it)
// until `valid_for` from now. Days and seconds apart: a 32-bit long (MIPS,
// ARM routers) holds no more than 68 years of seconds.
bool set_validity(X509* cert, long back, std::chrono::seconds valid_for, std::string* why) {
  const long long total = valid_for.count();
  if (!X509_gmtime_adj(X509_getm_notBefore(cert), -back) ||
      !X509_time_adj_ex(X509_getm_notAfter(cert), static_cast<int>(total / kDay),
                        static_cast<long>(total % kDay), nullptr)) {
    say(why, "cannot set the certificate's validity");
    return false;
  }
  return true;
}

bool add_extension(X509* cert, X509* issuer, int nid, const char* value, std::string* why) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  ExtPtr ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value));
  if (!ext || !X509_add_ext(cert, ext.get(), -1)) {
    say(why, std::string("cannot add the extension ") + OBJ_nid2sn(nid) + " = " + value +
                 " to the certificate");
    return false;
  }
  return true;
}

bool set_common_name(X509* cert, const std::string& cn, int type, std::string* why) {
  X509_NAME* name = X509_get_subject_name(cert);
  if (!X509_NAME_add_entry_by_txt(name, "CN", type,
                                  reinterpret_cast<const unsigned char*>(cn.data()),
                                  static_cast<int>(cn.size()), -1, 0)) {
    say(why, "cannot give the certificate the common name \"" + cn + "\"");
    return false;
  }
  return true;
}

// The first `max` bytes of `text`, not cutting a UTF-8 sequence in two.
std::string utf8_prefix(const std::string& text, std::size_t max) {
  if (text.size() <= max) return text;
  std::size_t end = max;
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xc0) == 0x80) --end;
  return text.substr(0, end);
}

std::optional<std::array<unsigned char, 32>> sha256(const unsigned char* data, std::size_t size,
                                                    std::string* why) {
  std::array<unsigned char, 32> digest{};
  unsigned int n = 0;
  if (!EVP_Digest(data, size, digest.data(), &n, EVP_sha256(), nullptr) || n != digest.size()) {
    say(why, "cannot compute a SHA-256");
    return std::nullopt;
  }
  return digest;
}

std::optional<std::string> pin_of_der(const unsigned char* der, int size, std::string* why) {
  auto digest = sha256(der, static_cast<std::size_t>(size), why);
  if (!digest) return std::nullopt;
  return "sha256:" + hex(digest->data(), digest->size());
}

}  // namespace

// ---------------------------------------------------------------- keys, PEM

Key make_key(std::string* why) {
  Key key(EVP_EC_gen("P-256"));
  if (!key) say(why, "cannot make a P-256 key");
  return key;
}

std::optional<std::string> key_pem(const EVP_PKEY* key, std::string* why) {
  BioPtr out(BIO_new(BIO_s_mem()));
  if (!key || !out ||
      !PEM_write_bio_PrivateKey(out.get(), key, nullptr, nullptr, 0, nullptr, nullptr)) {
    say(why, key ? "cannot write the private key as PEM" : "no private key to write");
    return std::nullopt;
  }
  return bio_text(out.get());
}

std::optional<std::string> cert_pem(const X509* cert, std::string* why) {
  BioPtr out(BIO_new(BIO_s_mem()));
  if (!cert || !out || !PEM_write_bio_X509(out.get(), cert)) {
    say(why, cert ? "cannot write the certificate as PEM" : "no certificate to write");
    return std::nullopt;
  }
  return bio_text(out.get());
}

Key load_key(std::string_view pem, std::string* why) {
  auto bio = pem_bio(pem, "private key", why);
  if (!bio) return {};
  Key key(PEM_read_bio_PrivateKey(bio.get(), nullptr, no_passphrase, nullptr));
  if (!key)
    say(why, "the PEM text holds no private key that loads (an encrypted one does not)");
  return key;
}

Cert load_cert(std::string_view pem, std::string* why) {
  auto bio = pem_bio(pem, "certificate", why);
  if (!bio) return {};
  Cert cert(PEM_read_bio_X509(bio.get(), nullptr, no_passphrase, nullptr));
  if (!cert) say(why, "the PEM text holds no certificate that loads");
  return cert;
}

std::optional<LoadedIdentity> load_identity(const Identity& identity, std::string* why) {
  LoadedIdentity out;
  out.key = load_key(identity.key_pem, why);
  if (!out.key) return std::nullopt;
  out.cert = load_cert(identity.cert_pem, why);
  if (!out.cert) return std::nullopt;
  if (EVP_PKEY_eq(X509_get0_pubkey(out.cert.get()), out.key.get()) != 1) {
    tell(why, "the private key and the certificate do not go together (the certificate is for "
             "another key)");
    return std::nullopt;
  }
  return out;
}

// ---------------------------------------------------------------- certificates

Cert self_signed(EVP_PKEY* key, const SelfSignedOptions& options, std::string* why) {
  if (!key) {
    tell(why, "no key to make a self-signed certificate for");
    return {};
  }
  if (!valid_duration(options.valid_for, why)) return {};
  Cert cert(X509_new());
  if (!cert || !X509_set_version(cert.get(), X509_VERSION_3)) {
    say(why, "cannot make a certificate");
    return {};
  }
  X509* c = cert.get();
  if (!set_random_serial(c, why) || !set_validity(c, kDay, options.valid_for, why)) return {};
  if (!X509_set_pubkey(c, key)) {
    say(why, "cannot put the key into its certificate");
    return {};
  }
  // Cut at 64 bytes, hence at most 64 characters, and never inside one.
  if (!set_common_name(c, utf8_prefix(options.common_name, kMaxCommonName), MBSTRING_UTF8, why))
    return {};
  X509_set_issuer_name(c, X509_get_subject_name(c));
  if (options.ca &&
      (!add_extension(c, c, NID_basic_constraints, "critical,CA:TRUE", why) ||
       !add_extension(c, c, NID_key_usage, "critical,keyCertSign,digitalSignature", why) ||
       !add_extension(c, c, NID_subject_key_identifier, "hash", why)))
    return {};
  if (!X509_sign(c, key, EVP_sha256())) {
    say(why, "cannot sign the self-signed certificate");
    return {};
  }
  return cert;
}

std::optional<Identity> make_identity(const SelfSignedOptions& options, std::string* why) {
  Key key = make_key(why);
  if (!key) return std::nullopt;
  Cert cert = self_signed(key.get(), options, why);
  if (!cert) return std::nullopt;
  auto k = key_pem(key.get(), why);
  auto c = k ? cert_pem(cert.get(), why) : std::nullopt;
  if (!c) return std::nullopt;
  return Identity{std::move(*k), std::move(*c)};
}

Cert issue(EVP_PKEY* subject_key, std::string_view common_name, std::chrono::seconds valid_for,
           EVP_PKEY* ca_key, X509* ca_cert, std::string* why) {
  if (!subject_key || !ca_key || !ca_cert) {
    tell(why, !subject_key ? "no key to issue a certificate for"
                          : "no CA key and certificate to issue a certificate with");
    return {};
  }
  // The CN lands in openvpn's logs and its scripts' environment: printable
  // ASCII only, so that it cannot forge a line or carry a control code.
  const bool printable = std::all_of(common_name.begin(), common_name.end(),
                                     [](char ch) { return ch >= 0x20 && ch < 0x7f; });
  if (common_name.empty() || common_name.size() > kMaxCommonName || !printable) {
    tell(why, "a certificate's common name must be 1 to 64 printable ASCII characters (got " +
                 std::to_string(common_name.size()) + " bytes" +
                 (printable ? std::string(")") : ", not all printable)"));
    return {};
  }
  if (!valid_duration(valid_for, why)) return {};
  if (X509_check_ca(ca_cert) != 1) {
    tell(why, "the issuing certificate is not a CA (no basicConstraints CA:TRUE); make it with "
             "SelfSignedOptions::ca");
    return {};
  }
  if (EVP_PKEY_eq(X509_get0_pubkey(ca_cert), ca_key) != 1) {
    tell(why, "the CA's private key and certificate do not go together (the certificate is for "
             "another key)");
    return {};
  }
  Cert cert(X509_new());
  if (!cert || !X509_set_version(cert.get(), X509_VERSION_3)) {
    say(why, "cannot make a certificate");
    return {};
  }
  X509* c = cert.get();
  if (!set_random_serial(c, why) || !set_validity(c, 3600, valid_for, why)) return {};
  if (!X509_set_pubkey(c, subject_key)) {
    say(why, "cannot put the subscriber's key into its certificate");
    return {};
  }
  if (!set_common_name(c, std::string(common_name), MBSTRING_ASC, why)) return {};
  if (!X509_set_issuer_name(c, X509_get_subject_name(ca_cert))) {
    say(why, "cannot name the certificate's issuer");
    return {};
  }
  if (!add_extension(c, ca_cert, NID_key_usage, "critical,digitalSignature", why) ||
      !add_extension(c, ca_cert, NID_ext_key_usage, "clientAuth", why) ||
      !add_extension(c, ca_cert, NID_authority_key_identifier, "keyid:always", why))
    return {};
  if (!X509_sign(c, ca_key, EVP_sha256())) {
    say(why, "cannot sign the certificate with the CA's key");
    return {};
  }
  return cert;
}

// ---------------------------------------------------------------- public keys

std::optional<std::string> spki_der(const EVP_PKEY* key, std::string* why) {
  unsigned char* der = nullptr;
  const int len = key ? i2d_PUBKEY(key, &der) : 0;
  if (len <= 0) {
    say(why, key ? "cannot encode the public key" : "no key to encode");
    return std::nullopt;
  }
  std::string out(reinterpret_cast<const char*>(der), static_cast<std::size_t>(len));
  OPENSSL_free(der);
  return out;
}

std::optional<std::string> spki_base64(const EVP_PKEY* key, std::string* why) {
  auto der = spki_der(key, why);
  if (!der) return std::nullopt;
  return base64_encode({reinterpret_cast<const std::uint8_t*>(der->data()), der->size()});
}

Key parse_spki_base64(std::string_view text, std::string* why) {
  // Quoted only when short and printable: the text comes from outside, and
  // the sentence may end up in a log.
  const bool quotable = text.size() <= 140 && std::all_of(text.begin(), text.end(), [](char c) {
                          return c >= 0x20 && c < 0x7f && c != '"';
                        });
  const std::string what =
      "the public key " + (quotable ? "\"" + std::string(text) + "\"" : std::string("given"));
  std::string reason;
  if (text.empty() || text.size() > kMaxSpkiText) {
    tell(why, what + " is " + std::to_string(text.size()) +
                 " characters long; a P-256 key in base64 takes 124");
    return {};
  }
  // Strict base64, and canonical: the bits the padding leaves over are 0,
  // so that one key has one text.
  auto der = base64_decode(text);
  if (!der || base64_encode(*der) != text) {
    tell(why, what + " is not base64 (standard alphabet, padded, nothing else)");
    return {};
  }
  const auto* p = der->data();
  const auto* end = p + der->size();
  Key key(d2i_PUBKEY(nullptr, &p, static_cast<long>(der->size())));
  if (!key) {
    say(&reason, "is no DER SubjectPublicKeyInfo");
    tell(why, what + " " + reason);
    return {};
  }
  if (p != end) {
    tell(why, what + " has " + std::to_string(end - p) + " bytes after its SubjectPublicKeyInfo");
    return {};
  }
  if (!EVP_PKEY_is_a(key.get(), "EC")) {
    const char* type = EVP_PKEY_get0_type_name(key.get());
    tell(why, what + " is " + (type ? std::string("an ") + type : std::string("a")) +
                 " key, not a P-256 one");
    return {};
  }
  char group[64] = {};
  std::size_t group_len = 0;
  if (!EVP_PKEY_get_group_name(key.get(), group, sizeof group, &group_len) ||
      std::strcmp(group, "prime256v1") != 0) {
    tell(why, what + " is on the curve " + (group[0] ? group : "given by its parameters") +
                 ", not P-256 (prime256v1)");
    return {};
  }
  if (der->size() != kP256SpkiSize ||
      !std::equal(kP256SpkiPrefix.begin(), kP256SpkiPrefix.end(), der->begin())) {
    tell(why, what + " is not in the one form accepted (DER, named curve, uncompressed point)");
    return {};
  }
  // d2i_PUBKEY has checked that the point is on the curve; this also
  // refuses the point at infinity and any point of the wrong order.
  PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, key.get(), nullptr));
  if (!ctx || EVP_PKEY_public_check(ctx.get()) != 1) {
    say(&reason, "is not a valid point of P-256");
    tell(why, what + " " + reason);
    return {};
  }
  return key;
}

// ---------------------------------------------------------------- fingerprints

std::optional<std::string> spki_pin(const EVP_PKEY* key, std::string* why) {
  auto der = spki_der(key, why);
  if (!der) return std::nullopt;
  return pin_of_der(reinterpret_cast<const unsigned char*>(der->data()),
                    static_cast<int>(der->size()), why);
}

std::optional<std::string> spki_pin(const X509* cert, std::string* why) {
  // The certificate's own encoding of its key, not the key decoded and
  // encoded again.
  unsigned char* der = nullptr;
  const int len = cert ? i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert), &der) : 0;
  if (len <= 0) {
    say(why, cert ? "cannot encode the certificate's public key" : "no certificate to pin");
    return std::nullopt;
  }
  auto pin = pin_of_der(der, len, why);
  OPENSSL_free(der);
  return pin;
}

bool valid_pin(std::string_view text) {
  if (text.size() != 7 + 64 || text.substr(0, 7) != "sha256:") return false;
  for (char c : text.substr(7))
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

std::optional<std::string> cert_fingerprint(const X509* cert, std::string* why) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  if (!cert || !X509_digest(cert, EVP_sha256(), digest, &n)) {
    say(why, cert ? "cannot hash the certificate" : "no certificate to hash");
    return std::nullopt;
  }
  return hex(digest, n, ":");
}

std::optional<std::string> cert_pin(const X509* cert, std::string* why) {
  auto fingerprint = cert_fingerprint(cert, why);
  if (!fingerprint) return std::nullopt;
  std::erase(*fingerprint, ':');
  return "sha256:" + *fingerprint;
}

std::optional<std::string> fingerprint_of_pin(std::string_view pin) {
  if (!valid_pin(pin)) return std::nullopt;
  std::string out;
  for (std::size_t i = 7; i < pin.size(); i += 2) {
    if (i > 7) out += ':';
    out += pin.substr(i, 2);
  }
  return out;
}

}  // namespace mnigs::x509
