#include "harness/bulk_http.hpp"

#include <httplib.h>
#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <memory>
#include <stdexcept>

#include "harness/netns.hpp"

namespace mnigs::test {

namespace {

constexpr std::size_t kPiece = 64 * 1024;

// SHA-256 over a stream, in OpenSSL's EVP (one digest, fed piece by piece).
class Sha256 {
 public:
  Sha256() : ctx_(EVP_MD_CTX_new()) {
    if (!ctx_ || EVP_DigestInit_ex(ctx_, EVP_sha256(), nullptr) != 1)
      throw std::runtime_error("BulkHttp: no SHA-256 in OpenSSL");
  }
  ~Sha256() { EVP_MD_CTX_free(ctx_); }
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void update(const char* data, std::size_t n) { EVP_DigestUpdate(ctx_, data, n); }
  std::string hex() {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    EVP_DigestFinal_ex(ctx_, md, &n);
    static constexpr char digits[] = "0123456789abcdef";
    std::string out;
    for (unsigned int i = 0; i < n; ++i) {
      out.push_back(digits[md[i] >> 4]);
      out.push_back(digits[md[i] & 0xf]);
    }
    return out;
  }

 private:
  EVP_MD_CTX* ctx_;
};

// A download in progress: xorshift64* words, so that a piece lost,
// repeated or out of order changes the digest.
struct Source {
  std::uint64_t state = 0x9e3779b97f4a7c15ull;
  std::uint64_t sent = 0;
  Sha256 sha;
  std::array<char, kPiece> piece{};
  void fill(std::size_t n) {
    for (std::size_t i = 0; i < n; i += 8) {
      state ^= state >> 12;
      state ^= state << 25;
      state ^= state >> 27;
      const std::uint64_t word = state * 0x2545f4914f6cdd1dull;
      std::copy_n(reinterpret_cast<const char*>(&word), std::min<std::size_t>(8, n - i),
                  piece.data() + i);
    }
  }
};

}  // namespace

struct BulkHttp::Impl {
  httplib::Server server;
  mutable std::mutex mutex;  // guards sent, received
  BulkDigest sent, received;
};

BulkHttp::BulkHttp(const std::string& ns, const std::string& address, int port)
    : impl_(std::make_unique<Impl>()) {
  Impl& impl = *impl_;
  impl.server.set_payload_max_length(kMaxBytes);
  impl.server.set_read_timeout(30, 0);
  impl.server.set_write_timeout(30, 0);
  const auto sink = [&impl](const httplib::Request&, httplib::Response& res,
                            const httplib::ContentReader& reader) {
    Sha256 sha;
    std::uint64_t n = 0;
    const bool whole = reader([&](const char* data, std::size_t len) {
      n += len;
      if (n > kMaxBytes) return false;
      sha.update(data, len);
      return true;
    });
    if (!whole) {
      res.status = 413;
      res.set_content("more than " + std::to_string(kMaxBytes) + " bytes, or cut short\n",
                      "text/plain");
      return;
    }
    BulkDigest d{n, sha.hex()};
    res.set_content("bytes=" + std::to_string(d.bytes) + " sha256=" + d.sha256 + "\n",
                    "text/plain");
    std::lock_guard<std::mutex> lock(impl.mutex);
    impl.received = std::move(d);
  };
  impl.server.Put("/sink", sink);
  impl.server.Post("/sink", sink);
  impl.server.Get(R"(/source/(\d{1,10}))", [&impl](const httplib::Request& req,
                                                   httplib::Response& res) {
    const std::uint64_t size = std::stoull(req.matches[1]);
    if (size > kMaxBytes) {
      res.status = 400;
      res.set_content("GET /source/N, N at most " + std::to_string(kMaxBytes) + "\n", "text/plain");
      return;
    }
    auto source = std::make_shared<Source>();
    res.set_content_provider(
        size, "application/octet-stream",
        [source, size, &impl](std::size_t offset, std::size_t, httplib::DataSink& out) {
          // httplib asks from the offset it has reached; each piece follows
          // the one before.
          if (offset != source->sent) return false;
          const std::size_t n =
              static_cast<std::size_t>(std::min<std::uint64_t>(kPiece, size - source->sent));
          source->fill(n);
          if (!out.write(source->piece.data(), n)) return false;
          source->sha.update(source->piece.data(), n);
          source->sent += n;
          if (source->sent == size) {
            std::lock_guard<std::mutex> lock(impl.mutex);
            impl.sent = {size, source->sha.hex()};
          }
          return true;
        });
  });

  // The listening socket is made on a thread in `ns`, so it lives there.
  run_in_netns_thread(ns, [&] {
    if (!impl.server.bind_to_port(address, port))
      throw std::runtime_error("BulkHttp: cannot listen on " + address + ":" +
                               std::to_string(port) + " in " + ns);
  });
  thread_ = std::thread([&impl] { impl.server.listen_after_bind(); });
  // stop() ends only a server that runs: wait for it (bounded) so that the
  // destructor never waits on a listen that has not begun.
  for (int i = 0; i < 500 && !impl.server.is_running(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
}

BulkHttp::~BulkHttp() {
  impl_->server.stop();
  if (thread_.joinable()) thread_.join();
}

BulkDigest BulkHttp::last_sent() const {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  return impl_->sent;
}

BulkDigest BulkHttp::last_received() const {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  return impl_->received;
}

}  // namespace mnigs::test
