// TLS for the websocket tunnel (wss) with OpenSSL, and no certificate
// authority: the gateway makes a key and a self-signed certificate once, and
// subscribers pin its public key by fingerprint, which they learn from the
// gateway's signed DHT offer or its nodeInfo (the core's gatewayKey).
//
// A Session runs over the connected, non-blocking TCP socket itself
// (OpenSSL's socket BIO), not through memory buffers: records are read and
// written by OpenSSL's own system calls, with no copy of ours in between.
// Reads take whatever the socket holds (read-ahead), so one read brings
// many records: a caller that stops reading before read() says want_read
// must not wait for the socket, since bytes may be left inside OpenSSL.
//
// Threading: a Session belongs to one thread (the data plane); Contexts are
// immutable once made and may be shared.
#pragma once

#include <openssl/ssl.h>

#include <x509.hpp>

#include <boost/asio/ip/tcp.hpp>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>

namespace mnigs::websocket::tls {

// The gateway's TLS identity, as PEM text (what the plugin's store keeps).
// Made, loaded and pinned by plugins/common/x509, which openvpn shares.
using Identity = x509::Identity;

// A fresh P-256 key and a certificate for it, signed by itself, for
// `common_name`, valid from a day ago for 50 years (nobody checks dates: the
// key is pinned). Throws std::runtime_error with the reason.
Identity make_identity(const std::string& common_name);

// "sha256:" and 64 lowercase hex digits: the SHA-256 of the DER form of the
// certificate's public key (SubjectPublicKeyInfo), which is what is pinned
// (x509::spki_pin). Throws std::runtime_error for text that is no
// certificate.
std::string pin_of(const std::string& cert_pem);
// Whether `text` has the form pin_of gives.
using x509::valid_pin;

// Whether this CPU has AES instructions, and the TLS 1.3 suites a client
// offers with or without them: AES-128-GCM first, or ChaCha20-Poly1305.
bool cpu_has_aes();
const char* client_suites(bool aes);

class Context {
 public:
  // The gateway's: TLS 1.2 and 1.3, its identity, no session tickets.
  // Throws std::runtime_error when the key and certificate do not load or
  // do not match.
  static std::shared_ptr<Context> server(const Identity& identity);
  // A subscriber's: it sends no certificate and checks the server's only
  // against the pin given to each Session. It lists ChaCha20 first on a
  // CPU without AES instructions.
  static std::shared_ptr<Context> client();
  ~Context();
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;
  SSL_CTX* get() const { return ctx_; }

 private:
  explicit Context(SSL_CTX* ctx) : ctx_(ctx) {}
  SSL_CTX* ctx_;
};

class Session {
 public:
  enum class Status {
    ok,          // done (some bytes moved, for read and write)
    want_read,   // wait until the socket is readable, then call again
    want_write,  // wait until it is writable, then call again
    closed,      // the peer ended the TLS connection (close_notify or EOF)
    failed,      // error() says what went wrong; the connection is useless
  };
  // A server session, or a client one whose peer must have the key `pin`
  // (valid_pin). The socket stays the caller's to close, after the Session.
  // Throws std::runtime_error when OpenSSL cannot make one.
  Session(std::shared_ptr<Context> context, int fd, bool server, std::string pin = {});
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  Status handshake();
  // Reads up to room.size() plaintext bytes: as many records as are there,
  // until room is full or the socket has no more. ok with n > 0, or
  // want_read/want_write with n == 0.
  Status read(std::span<std::uint8_t> room, std::size_t& n);
  // Writes data in records of up to 16 KiB; n is what was taken, which may
  // be less than data.size() (ok) or 0 (want_write). After want_*, call
  // again with the same bytes (they may have moved).
  Status write(std::span<const std::uint8_t> data, std::size_t& n);
  // What failed, as a sentence: the handshake's or the last call's.
  const std::string& error() const { return error_; }
  // The negotiated protocol and cipher, for logs ("TLSv1.3 TLS_AES_128_GCM_SHA256").
  std::string description() const;

  // The client's check of the server's key: its verify callback's data.
  struct PinCheck {
    std::string expected;
    std::string seen;  // the key the server showed, once it showed one
  };

 private:
  Status result(int ret, const char* what);
  SSL* ssl_;
  PinCheck pin_;
  std::string error_;
};

// ---- driving a Session with Boost.Asio until a Link takes over

// Runs `step` until it returns something else than want_read/want_write,
// waiting on `socket` as asked; `done` gets the last status. Closing the
// socket ends the wait (done(failed)). The socket must outlive the wait.
void drive(boost::asio::ip::tcp::socket& socket, std::function<Session::Status()> step,
           std::function<void(Session::Status)> done);

// Writes all of `text` through the session; done("") or done(why not).
void write_all(boost::asio::ip::tcp::socket& socket, std::shared_ptr<Session> session,
               std::shared_ptr<const std::string> text, std::function<void(std::string)> done);

}  // namespace mnigs::websocket::tls
