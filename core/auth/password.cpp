#include "auth/password.hpp"

#include <crypt.h>
#include <fcntl.h>
#include <sys/random.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <system_error>

#include "util/atomic_file.hpp"
#include "util/token.hpp"

namespace mnigs {
namespace {

// SHA-512 crypt's rounds where yescrypt is missing: about as slow as
// yescrypt's default cost on the same machine.
constexpr unsigned kSha512Rounds = 200000;

// Longer than any crypt(5) hash; a bigger file is not one.
constexpr std::size_t kMaxHashFileBytes = 1024;

bool is_hash(std::string_view text) {
  if (text.size() < 13 || text.front() != '$') return false;
  for (char c : text)
    if (c <= ' ' || c > '~') return false;
  return true;
}

}  // namespace

std::string password_path(const std::string& data_dir) {
  std::string dir = data_dir;
  if (!dir.empty() && dir.back() != '/') dir += '/';
  return dir + "webui.password";
}

std::string password_problem(std::string_view password) {
  if (password.size() < kMinPasswordBytes)
    return "the password must be at least " + std::to_string(kMinPasswordBytes) + " characters";
  if (password.size() > kMaxPasswordBytes)
    return "the password must be at most " + std::to_string(kMaxPasswordBytes) + " bytes";
  for (char c : password)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f)
      return "the password must not hold control characters (newline, tab, ...)";
  return "";
}

namespace detail {

std::string sha512_setting(unsigned rounds) {
  static const char alphabet[] = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  // 16 characters of 64: 96 bits of salt. 4 random bits of each byte are
  // dropped, so every character is equally likely.
  unsigned char bytes[16];
  std::size_t got = 0;
  while (got < sizeof bytes) {
    ssize_t n = getrandom(bytes + got, sizeof bytes - got, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw std::system_error(errno, std::generic_category(), "getrandom");
    got += static_cast<std::size_t>(n);
  }
  std::string out = "$6$rounds=" + std::to_string(rounds) + "$";
  for (unsigned char b : bytes) out += alphabet[b & 63];
  return out + "$";
}

std::string new_setting() {
#if defined(CRYPT_GENSALT_IMPLEMENTS_AUTO_ENTROPY)
  char buf[CRYPT_GENSALT_OUTPUT_SIZE];
  // Count 0: the library's default cost; no random bytes given: it reads
  // them from the kernel itself.
  if (crypt_gensalt_rn("$y$", 0, nullptr, 0, buf, sizeof buf) && buf[0] == '$') return buf;
#endif
  return sha512_setting(kSha512Rounds);
}

std::string crypt_with(std::string_view password, const std::string& setting) {
  const std::string text(password);            // NUL-terminated for crypt_r
  auto data = std::make_unique<crypt_data>();  // tens of KiB: not on the stack
  std::memset(data.get(), 0, sizeof(crypt_data));
  const char* out = crypt_r(text.c_str(), setting.c_str(), data.get());
  // Failure: NULL, or a string starting with '*' ("*0", "*1").
  if (!out || out[0] != '$') return "";
  return out;
}

}  // namespace detail

std::string hash_password(std::string_view password) {
  const std::string setting = detail::new_setting();
  std::string hash = detail::crypt_with(password, setting);
  // A C library stripped of a method may fall back to another (OpenWrt's
  // musl can to DES): only the method asked for is a hash worth keeping.
  const std::string method = setting.substr(0, setting.find('$', 1) + 1);  // "$y$", "$6$"
  if (hash.empty() || !hash.starts_with(method))
    throw std::runtime_error("the C library's crypt() cannot hash with " + method +
                             " (yescrypt or SHA-512 crypt)");
  return hash;
}

std::optional<bool> verify_password(std::string_view password, const std::string& hash) {
  if (!is_hash(hash) || password.size() > kMaxPasswordBytes) return false;
  const std::string computed = detail::crypt_with(password, hash);
  if (computed.empty()) return std::nullopt;
  return constant_time_equal(computed, hash);
}

std::optional<std::string> read_password_hash(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return std::nullopt;
    throw std::runtime_error("cannot read " + path + ": " + std::strerror(errno));
  }
  std::string text(kMaxHashFileBytes + 1, '\0');
  std::size_t got = 0;
  while (got < text.size()) {
    const ssize_t n = ::read(fd, text.data() + got, text.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int err = errno;
      if (n < 0) {
        ::close(fd);
        throw std::runtime_error("cannot read " + path + ": " + std::strerror(err));
      }
      break;
    }
    got += static_cast<std::size_t>(n);
  }
  ::close(fd);
  text.resize(got);
  if (text.size() > kMaxHashFileBytes)
    throw std::runtime_error(path +
                             " is larger than a password hash; set the password again "
                             "with mnigs-cli --set-password");
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' '))
    text.pop_back();
  if (text.empty()) return std::nullopt;
  if (!is_hash(text))
    throw std::runtime_error(path +
                             " holds no password hash; set the password again with "
                             "mnigs-cli --set-password");
  return text;
}

void write_password_hash(const std::string& path, const std::string& hash) {
  if (hash.empty()) {
    if (::unlink(path.c_str()) != 0 && errno != ENOENT)
      throw std::runtime_error("cannot remove " + path + ": " + std::strerror(errno));
    return;
  }
  if (!is_hash(hash)) throw std::invalid_argument("not a crypt(5) hash");
  write_file_atomic(path, hash + "\n", {.mode = 0600});
}

}  // namespace mnigs
