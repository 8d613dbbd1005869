#include "tls.hpp"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <sys/auxv.h>
#if defined(__aarch64__) || defined(__arm__)
#include <asm/hwcap.h>
#endif

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace mnigs::websocket::tls {

namespace net = boost::asio;

namespace {

// TLS 1.3's suites in the order this end prefers them: AES-128-GCM is the
// fastest where the CPU has AES instructions, ChaCha20 where it has not. The
// server's order counts, except that a client listing ChaCha20 first gets it
// (SSL_OP_PRIORITIZE_CHACHA: clients without AES instructions do that).
constexpr const char* kSuites =
    "TLS_AES_128_GCM_SHA256:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_256_GCM_SHA384";
constexpr const char* kSuitesChachaFirst =
    "TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384";
// OpenSSL's read buffer: with read-ahead, one read(2) takes up to this much
// (four full records and then some), not one record header at a time.
constexpr long kReadBuffer = 80 * 1024;

// The first reason on OpenSSL's error queue, as text, and the queue emptied.
std::string openssl_reason(const char* fallback) {
  unsigned long code = ERR_get_error();
  ERR_clear_error();
  if (code == 0) return fallback;
  const char* reason = ERR_reason_error_string(code);
  return reason ? reason : fallback;
}

[[noreturn]] void fail(const std::string& what) {
  throw std::runtime_error(what + ": " + openssl_reason("unknown OpenSSL error"));
}

struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct KeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct CertFree {
  void operator()(X509* x) const { X509_free(x); }
};
using BioPtr = std::unique_ptr<BIO, BioFree>;
using KeyPtr = std::unique_ptr<EVP_PKEY, KeyFree>;
using CertPtr = std::unique_ptr<X509, CertFree>;

std::string bio_text(BIO* bio) {
  BUF_MEM* mem = nullptr;
  BIO_get_mem_ptr(bio, &mem);
  return mem ? std::string(mem->data, mem->length) : std::string();
}

BioPtr text_bio(const std::string& text) {
  BioPtr bio(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
  if (!bio) fail("cannot read PEM text");
  return bio;
}

CertPtr read_cert(const std::string& pem) {
  auto bio = text_bio(pem);
  CertPtr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (!cert) fail("the TLS certificate does not load");
  return cert;
}

std::string pin_of(X509* cert) {
  unsigned char* der = nullptr;
  const int len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert), &der);
  if (len <= 0) fail("cannot encode the certificate's public key");
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  const int ok = EVP_Digest(der, static_cast<std::size_t>(len), digest, &size, EVP_sha256(),
                            nullptr);
  OPENSSL_free(der);
  if (!ok) fail("cannot hash the certificate's public key");
  static const char* hex = "0123456789abcdef";
  std::string out = "sha256:";
  for (unsigned i = 0; i < size; ++i) {
    out += hex[digest[i] >> 4];
    out += hex[digest[i] & 15];
  }
  return out;
}

// The client's check of the server's certificate: its key must be the
// pinned one. Chain and dates do not matter (the certificate signs itself).
int verify_pin(int, X509_STORE_CTX* store) {
  auto* ssl = static_cast<SSL*>(
      X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()));
  auto* check = static_cast<Session::PinCheck*>(SSL_get_app_data(ssl));
  // Only the server's own certificate (depth 0) counts; a chain it sends
  // along is not looked at.
  if (X509_STORE_CTX_get_error_depth(store) != 0) return 1;
  X509* cert = X509_STORE_CTX_get_current_cert(store);
  if (!cert || !check) return 0;
  try {
    check->seen = pin_of(cert);
  } catch (const std::exception&) {
    check->seen.clear();
    return 0;
  }
  if (check->seen != check->expected) {
    X509_STORE_CTX_set_error(store, X509_V_ERR_CERT_REJECTED);
    return 0;
  }
  X509_STORE_CTX_set_error(store, X509_V_OK);
  return 1;
}

}  // namespace

Identity make_identity(const std::string& common_name) {
  KeyPtr key(EVP_EC_gen("P-256"));
  if (!key) fail("cannot make a TLS key");
  CertPtr cert(X509_new());
  if (!cert) fail("cannot make a TLS certificate");
  X509_set_version(cert.get(), 2);
  BIGNUM* serial = BN_new();
  if (!serial || !BN_rand(serial, 63, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) ||
      !BN_to_ASN1_INTEGER(serial, X509_get_serialNumber(cert.get()))) {
    BN_free(serial);
    fail("cannot give the TLS certificate a serial number");
  }
  BN_free(serial);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -86400);
  X509_time_adj_ex(X509_getm_notAfter(cert.get()), 50 * 365, 0, nullptr);
  X509_set_pubkey(cert.get(), key.get());
  X509_NAME* name = X509_get_subject_name(cert.get());
  // A common name holds at most 64 characters.
  const std::string cn = common_name.substr(0, 64);
  if (!X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                                  reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0))
    fail("cannot name the TLS certificate");
  X509_set_issuer_name(cert.get(), name);
  if (!X509_sign(cert.get(), key.get(), EVP_sha256())) fail("cannot sign the TLS certificate");
  Identity id;
  BioPtr out(BIO_new(BIO_s_mem()));
  if (!out || !PEM_write_bio_PrivateKey(out.get(), key.get(), nullptr, nullptr, 0, nullptr,
                                        nullptr))
    fail("cannot write the TLS key");
  id.key_pem = bio_text(out.get());
  out.reset(BIO_new(BIO_s_mem()));
  if (!out || !PEM_write_bio_X509(out.get(), cert.get())) fail("cannot write the certificate");
  id.cert_pem = bio_text(out.get());
  return id;
}

std::string pin_of(const std::string& cert_pem) { return pin_of(read_cert(cert_pem).get()); }

bool valid_pin(std::string_view text) {
  if (text.size() != 7 + 64 || text.substr(0, 7) != "sha256:") return false;
  for (char c : text.substr(7))
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

// ---------------------------------------------------------------- Context

namespace {

SSL_CTX* common_context(const SSL_METHOD* method, const char* suites = kSuites) {
  SSL_CTX* ctx = SSL_CTX_new(method);
  if (!ctx) fail("cannot make a TLS context");
  // No resumption (every connection is a full handshake, which is cheap
  // with P-256), hence no tickets arriving after the handshake; an EOF
  // without close_notify is the end of the connection (the WebSocket has
  // its own close handshake, and its frames their own lengths).
  SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET | SSL_OP_IGNORE_UNEXPECTED_EOF |
                               SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE |
                               SSL_OP_PRIORITIZE_CHACHA);
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  SSL_CTX_set_num_tickets(ctx, 0);
  SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  SSL_CTX_set_read_ahead(ctx, 1);
  SSL_CTX_set_default_read_buffer_len(ctx, kReadBuffer);
  if (!SSL_CTX_set_ciphersuites(ctx, suites)) {
    SSL_CTX_free(ctx);
    fail("cannot choose the TLS 1.3 cipher suites");
  }
  return ctx;
}

}  // namespace

std::shared_ptr<Context> Context::server(const Identity& identity) {
  SSL_CTX* ctx = common_context(TLS_server_method());
  std::shared_ptr<Context> out(new Context(ctx));
  // TLS 1.2 too, for vpn-ws clients built against older libraries: only
  // its AEAD suites with forward secrecy.
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  if (!SSL_CTX_set_cipher_list(ctx, "ECDHE+AESGCM:ECDHE+CHACHA20"))
    fail("cannot choose the TLS 1.2 ciphers");
  auto bio = text_bio(identity.key_pem);
  KeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  if (!key) fail("the TLS key does not load");
  CertPtr cert = read_cert(identity.cert_pem);
  if (SSL_CTX_use_certificate(ctx, cert.get()) != 1 ||
      SSL_CTX_use_PrivateKey(ctx, key.get()) != 1 || SSL_CTX_check_private_key(ctx) != 1)
    fail("the TLS key and certificate do not go together");
  return out;
}

bool cpu_has_aes() {
#if defined(__x86_64__) || defined(__i386__)
  return __builtin_cpu_supports("aes");
#elif defined(__aarch64__)
  return (getauxval(AT_HWCAP) & HWCAP_AES) != 0;
#elif defined(__arm__)
  return (getauxval(AT_HWCAP2) & HWCAP2_AES) != 0;
#else
  return false;  // MIPS and the rest: no AES instructions to count on
#endif
}

const char* client_suites(bool aes) { return aes ? kSuites : kSuitesChachaFirst; }

std::shared_ptr<Context> Context::client() {
  // Without AES instructions ChaCha20 is several times faster; listing it
  // first makes the gateway choose it (SSL_OP_PRIORITIZE_CHACHA).
  static const bool aes = cpu_has_aes();
  SSL_CTX* ctx = common_context(TLS_client_method(), client_suites(aes));
  std::shared_ptr<Context> out(new Context(ctx));
  // Only mnigs gateways are reached this way: TLS 1.3.
  SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, verify_pin);
  return out;
}

Context::~Context() { SSL_CTX_free(ctx_); }

// ---------------------------------------------------------------- Session

Session::Session(std::shared_ptr<Context> context, int fd, bool server, std::string pin)
    : ssl_(SSL_new(context->get())), pin_{std::move(pin), {}} {
  // The SSL holds a reference of its own to the context.
  if (!ssl_) fail("cannot make a TLS session");
  if (SSL_set_fd(ssl_, fd) != 1) {
    SSL_free(ssl_);
    fail("cannot give the TLS session its socket");
  }
  if (server) {
    SSL_set_accept_state(ssl_);
  } else {
    SSL_set_app_data(ssl_, &pin_);
    SSL_set_connect_state(ssl_);
  }
}

Session::~Session() { SSL_free(ssl_); }

Session::Status Session::result(int ret, const char* what) {
  const int code = SSL_get_error(ssl_, ret);
  switch (code) {
    case SSL_ERROR_WANT_READ:
      return Status::want_read;
    case SSL_ERROR_WANT_WRITE:
      return Status::want_write;
    case SSL_ERROR_ZERO_RETURN:
      ERR_clear_error();
      return Status::closed;
    case SSL_ERROR_SYSCALL: {
      const int err = errno;
      ERR_clear_error();
      if (err == 0) return Status::closed;
      error_ = std::string(what) + ": " + std::strerror(err);
      return Status::failed;
    }
    default:
      break;
  }
  const long verify = SSL_get_verify_result(ssl_);
  std::string reason = openssl_reason("TLS error");
  if (!pin_.expected.empty() && verify == X509_V_ERR_CERT_REJECTED)
    reason = "the gateway showed " +
             (pin_.seen.empty() ? std::string("an unreadable key") : "key " + pin_.seen) +
             ", not the pinned " + pin_.expected;
  error_ = std::string(what) + ": " + reason;
  return Status::failed;
}

Session::Status Session::handshake() {
  ERR_clear_error();
  errno = 0;
  const int r = SSL_do_handshake(ssl_);
  return r == 1 ? Status::ok : result(r, "TLS handshake");
}

Session::Status Session::read(std::span<std::uint8_t> room, std::size_t& n) {
  n = 0;
  while (n < room.size()) {
    ERR_clear_error();
    errno = 0;
    std::size_t got = 0;
    const int r = SSL_read_ex(ssl_, room.data() + n, room.size() - n, &got);
    if (r == 1) {
      n += got;
      continue;
    }
    const Status s = result(r, "TLS read");
    // What was read goes up first; the next call meets the same state.
    if (n > 0) return Status::ok;
    return s;
  }
  return Status::ok;
}

Session::Status Session::write(std::span<const std::uint8_t> data, std::size_t& n) {
  n = 0;
  ERR_clear_error();
  errno = 0;
  const int r = SSL_write_ex(ssl_, data.data(), data.size(), &n);
  return r == 1 ? Status::ok : result(r, "TLS write");
}

std::string Session::description() const {
  const SSL_CIPHER* cipher = SSL_get_current_cipher(ssl_);
  return std::string(SSL_get_version(ssl_)) + " " + (cipher ? SSL_CIPHER_get_name(cipher) : "");
}

// ---------------------------------------------------------------- driving

void drive(net::ip::tcp::socket& socket, std::function<Session::Status()> step,
           std::function<void(Session::Status)> done) {
  const Session::Status s = step();
  if (s != Session::Status::want_read && s != Session::Status::want_write) return done(s);
  socket.async_wait(
      s == Session::Status::want_read ? net::socket_base::wait_read : net::socket_base::wait_write,
      [&socket, step = std::move(step), done = std::move(done)](boost::system::error_code ec) {
        // Closed meanwhile (a deadline, a stop): the descriptor the session
        // holds may be another socket's by now.
        if (ec || !socket.is_open()) return done(Session::Status::failed);
        drive(socket, step, done);
      });
}

void write_all(net::ip::tcp::socket& socket, std::shared_ptr<Session> session,
               std::shared_ptr<const std::string> text, std::function<void(std::string)> done) {
  auto sent = std::make_shared<std::size_t>(0);
  drive(
      socket,
      [session, text, sent]() {
        while (*sent < text->size()) {
          std::size_t n = 0;
          auto s = session->write(
              {reinterpret_cast<const std::uint8_t*>(text->data()) + *sent, text->size() - *sent},
              n);
          if (s != Session::Status::ok) return s;
          *sent += n;
        }
        return Session::Status::ok;
      },
      [session, done](Session::Status s) {
        if (s == Session::Status::ok) return done("");
        done(session->error().empty() ? "the connection closed" : session->error());
      });
}

}  // namespace mnigs::websocket::tls
