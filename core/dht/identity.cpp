#include "dht/identity.hpp"

#include "util/atomic_file.hpp"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <system_error>

namespace mnigs {
namespace {

namespace fs = std::filesystem;

// Key and certificate files are small; anything larger is not ours.
constexpr std::uintmax_t max_pem_bytes = 64 * 1024;

std::runtime_error error(const fs::path& path, const std::string& what) {
  return std::runtime_error("dht: " + path.string() + ": " + what);
}

std::string read_small_file(const fs::path& path) {
  std::error_code ec;
  const auto size = fs::file_size(path, ec);
  if (ec) throw error(path, "cannot read: " + ec.message());
  if (size > max_pem_bytes) throw error(path, "is " + std::to_string(size) + " bytes, not PEM");
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  if (!in.good() && !in.eof()) throw error(path, "cannot read: " + std::string(strerror(errno)));
  return text.str();
}

// Signs and verifies a probe, as a value signature would be: catches keys
// OpenDHT 2.4 can load but whose signatures it cannot check (non-RSA).
void check_can_sign(const dht::crypto::PrivateKey& key, const fs::path& path) {
  const dht::Blob probe{'m', 'n', 'i', 'g', 's'};
  const auto signature = key.sign(probe);
  if (!key.getPublicKey().checkSignature(probe, signature))
    throw error(path, "is not an RSA key; OpenDHT cannot verify its signatures. Remove " +
                          path.filename().string() + " and " + dht_cert_file +
                          " to create a new identity");
}

void tighten_mode(const fs::path& path, std::vector<std::string>& notes) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0 || (st.st_mode & 077) == 0) return;
  if (::chmod(path.c_str(), 0600) == 0)
    notes.push_back("made " + path.string() + " readable by its owner only (mode 0600)");
}

DhtIdentity create(const fs::path& dir, unsigned key_bits) {
  DhtIdentity out;
  out.pair = dht::crypto::generateIdentity("mnigs", {}, key_bits);
  save_identity(dir, out.pair);
  out.created = true;
  return out;
}

}  // namespace

std::string identity_id(const dht::crypto::PublicKey& key) { return key.getLongId().toString(); }

void save_identity(const fs::path& dir, const dht::crypto::Identity& identity) {
  if (!identity.first || !identity.second)
    throw std::runtime_error("dht: cannot save an incomplete identity");
  const auto key = identity.first->serialize();
  write_file_atomic(dir / dht_key_file, std::string(key.begin(), key.end()), {.mode = 0600});
  const auto cert = identity.second->getPacked();
  write_file_atomic(dir / dht_cert_file, std::string(cert.begin(), cert.end()), {.mode = 0644});
}

DhtIdentity load_or_create_identity(const fs::path& dir, unsigned key_bits) {
  const fs::path key_path = dir / dht_key_file;
  const fs::path cert_path = dir / dht_cert_file;
  std::error_code ec;
  if (!fs::exists(key_path, ec)) {
    if (ec) throw error(key_path, "cannot read: " + ec.message());
    return create(dir, key_bits);
  }

  DhtIdentity out;
  std::shared_ptr<dht::crypto::PrivateKey> key;
  try {
    key = std::make_shared<dht::crypto::PrivateKey>(read_small_file(key_path));
  } catch (const dht::crypto::CryptoException& e) {
    throw error(key_path, std::string("is not a PEM private key (") + e.what() +
                              "). Restore it from a backup, or remove it and " + dht_cert_file +
                              " to create a new identity (a new node id)");
  }
  check_can_sign(*key, key_path);
  tighten_mode(key_path, out.notes);

  std::shared_ptr<dht::crypto::Certificate> cert;
  if (fs::exists(cert_path, ec)) {
    try {
      cert = std::make_shared<dht::crypto::Certificate>(read_small_file(cert_path));
    } catch (const dht::crypto::CryptoException& e) {
      throw error(cert_path, std::string("is not a PEM certificate (") + e.what() +
                                 "). Remove it: it is re-made from " + dht_key_file);
    }
    if (cert->getLongId() != key->getPublicKey().getLongId())
      throw error(cert_path, std::string("does not belong to ") + key_path.string() +
                                 ". Remove it: it is re-made from " + dht_key_file);
  } else {
    // The certificate only carries the public key; making it again keeps
    // the node id.
    cert = std::make_shared<dht::crypto::Certificate>(
        dht::crypto::Certificate::generate(*key, "mnigs"));
    const auto packed = cert->getPacked();
    write_file_atomic(cert_path, std::string(packed.begin(), packed.end()), {.mode = 0644});
    out.notes.push_back("re-made " + cert_path.string() + " from " + key_path.string());
  }
  out.pair = {std::move(key), std::move(cert)};
  return out;
}

}  // namespace mnigs
