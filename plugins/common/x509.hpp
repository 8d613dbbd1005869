// Keys and certificates for the TLS tunnels (websocket's wss, openvpn), with
// OpenSSL: P-256 keys, self-signed certificates (optionally a CA), client
// certificates a gateway issues for a subscriber's public key, PEM in and
// out, and the fingerprints subscribers pin.
//
// The two fingerprints:
// - the key pin, "sha256:" and 64 lowercase hex digits, the SHA-256 of the
//   DER SubjectPublicKeyInfo (what websocket pins; it survives re-issuing a
//   certificate for the same key);
// - the certificate fingerprint, the SHA-256 of the certificate's DER, as
//   openvpn's --peer-fingerprint takes it: 32 lowercase hex pairs separated
//   by ':' (openvpn accepts either case), or published as "sha256:<hex>".
//
// Errors: nothing throws. A function that can fail returns a null handle or
// nullopt and, if `why` is given, sets it to a sentence saying what failed
// and on what. Pure; thread-safe (OpenSSL's error queue is per thread).
#pragma once

#include <openssl/types.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace mnigs::x509 {

struct KeyFree {
  void operator()(EVP_PKEY* key) const;
};
struct CertFree {
  void operator()(X509* cert) const;
};
using Key = std::unique_ptr<EVP_PKEY, KeyFree>;
using Cert = std::unique_ptr<X509, CertFree>;

// ---- keys and PEM

// A fresh P-256 (prime256v1) key pair.
Key make_key(std::string* why = nullptr);

// The private key as unencrypted PKCS#8 PEM ("BEGIN PRIVATE KEY").
std::optional<std::string> key_pem(const EVP_PKEY* key, std::string* why = nullptr);
// The certificate as PEM ("BEGIN CERTIFICATE").
std::optional<std::string> cert_pem(const X509* cert, std::string* why = nullptr);

// The first private key, or certificate, in `pem` (at most 64 KiB); blocks
// of other kinds are skipped, so one text may hold both. An encrypted key is
// refused (nobody is there to type a passphrase).
Key load_key(std::string_view pem, std::string* why = nullptr);
Cert load_cert(std::string_view pem, std::string* why = nullptr);

// A key and its certificate as PEM text (what a plugin's store keeps).
struct Identity {
  std::string key_pem;
  std::string cert_pem;
};
struct LoadedIdentity {
  Key key;
  Cert cert;
};
// Both loaded, and checked to go together (the certificate is for the key).
std::optional<LoadedIdentity> load_identity(const Identity& identity, std::string* why = nullptr);

// ---- certificates

struct SelfSignedOptions {
  // At most 64 characters (longer is cut), UTF-8.
  std::string common_name;
  // Valid from a day ago (clocks differ) for this long: 50 years by
  // default, since what is checked is the pinned key or fingerprint.
  std::chrono::seconds valid_for = std::chrono::hours(24 * 365 * 50);
  // A CA too: basicConstraints CA:TRUE and keyUsage keyCertSign and
  // digitalSignature, both critical, a subject key identifier; so one
  // certificate can be a server's and the CA of the client certificates
  // issue() makes. Otherwise a plain v3 certificate with no extensions.
  bool ca = false;
};
// A certificate for `key` signed by itself (SHA-256), random 128-bit serial.
Cert self_signed(EVP_PKEY* key, const SelfSignedOptions& options, std::string* why = nullptr);
// make_key and self_signed, as PEM.
std::optional<Identity> make_identity(const SelfSignedOptions& options,
                                      std::string* why = nullptr);

// A client certificate for `subject_key` signed by the CA `ca_key` /
// `ca_cert` (which must go together): subject CN `common_name` (1 to 64
// printable ASCII characters, e.g. a session id), issuer the CA's subject,
// a random positive 128-bit serial, valid from an hour ago (clocks differ)
// until `valid_for` (1 s to 100 years) from now, keyUsage digitalSignature
// (critical), extendedKeyUsage clientAuth, and an authority key identifier
// (the CA's subject key identifier). The CA must have CA:TRUE.
Cert issue(EVP_PKEY* subject_key, std::string_view common_name, std::chrono::seconds valid_for,
           EVP_PKEY* ca_key, X509* ca_cert, std::string* why = nullptr);

// ---- public keys as text

// The key's SubjectPublicKeyInfo, DER (91 bytes for P-256).
std::optional<std::string> spki_der(const EVP_PKEY* key, std::string* why = nullptr);
// The same in standard base64 with padding, no line breaks (124
// characters for P-256): the form a subscriber sends its key in.
std::optional<std::string> spki_base64(const EVP_PKEY* key, std::string* why = nullptr);
// Reads what spki_base64 writes, strictly, as text from outside: only the
// canonical base64 of the DER SPKI of a P-256 public key (named curve,
// uncompressed point on the curve), nothing before or after. Returns a key
// with no private part.
Key parse_spki_base64(std::string_view text, std::string* why = nullptr);

// ---- fingerprints

// The key pin of a key, or of the key a certificate is for.
std::optional<std::string> spki_pin(const EVP_PKEY* key, std::string* why = nullptr);
std::optional<std::string> spki_pin(const X509* cert, std::string* why = nullptr);
// Whether `text` has the form of a pin: "sha256:" and 64 lowercase hex.
bool valid_pin(std::string_view text);

// The certificate's SHA-256 as --peer-fingerprint takes it
// ("ab:01:...", 95 characters), and as a pin ("sha256:ab01...").
std::optional<std::string> cert_fingerprint(const X509* cert, std::string* why = nullptr);
std::optional<std::string> cert_pin(const X509* cert, std::string* why = nullptr);
// A pin (valid_pin) written as --peer-fingerprint takes it; nullopt for
// text that is no pin.
std::optional<std::string> fingerprint_of_pin(std::string_view pin);

}  // namespace mnigs::x509
