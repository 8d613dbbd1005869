#include "tls.hpp"

#include <openssl/err.h>
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
  auto pin = x509::spki_pin(cert);
  if (!pin) {
    check->seen.clear();
    return 0;
  }
  check->seen = std::move(*pin);
  if (check->seen != check->expected) {
    X509_STORE_CTX_set_error(store, X509_V_ERR_CERT_REJECTED);
    return 0;
  }
  X509_STORE_CTX_set_error(store, X509_V_OK);
  return 1;
}

}  // namespace

Identity make_identity(const std::string& common_name) {
  std::string why;
  auto id = x509::make_identity({.common_name = common_name}, &why);
  if (!id) throw std::runtime_error("cannot make the TLS identity: " + why);
  return std::move(*id);
}

std::string pin_of(const std::string& cert_pem) {
  std::string why;
  x509::Cert cert = x509::load_cert(cert_pem, &why);
  auto pin = cert ? x509::spki_pin(cert.get(), &why) : std::nullopt;
  if (!pin) throw std::runtime_error("the TLS certificate does not load: " + why);
  return std::move(*pin);
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
  std::string why;
  auto loaded = x509::load_identity(identity, &why);
  if (!loaded) throw std::runtime_error("the TLS identity does not load: " + why);
  if (SSL_CTX_use_certificate(ctx, loaded->cert.get()) != 1 ||
      SSL_CTX_use_PrivateKey(ctx, loaded->key.get()) != 1 || SSL_CTX_check_private_key(ctx) != 1)
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
