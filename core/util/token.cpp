#include "util/token.hpp"

#include <algorithm>
#include <cctype>

#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <stdexcept>
#include <vector>

#include "util/text.hpp"

namespace mnigs {

std::string random_hex(std::size_t bytes) {
  std::vector<unsigned char> buf(bytes);
  std::size_t got = 0;
  while (got < bytes) {
    ssize_t n = getrandom(buf.data() + got, bytes - got, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw std::runtime_error(std::string("getrandom failed: ") + std::strerror(errno));
    }
    got += static_cast<std::size_t>(n);
  }
  static const char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes * 2);
  for (unsigned char c : buf) {
    out += digits[c >> 4];
    out += digits[c & 15];
  }
  return out;
}

std::string generate_token() { return random_hex(32); }

std::string load_or_create_node_id(const std::string& data_dir, std::string* warning) {
  std::string path = data_dir;
  if (!path.empty() && path.back() != '/') path += '/';
  path += "node.id";
  if (auto id = read_token_file(path)) {
    bool hex = id->size() == 32 &&
               std::all_of(id->begin(), id->end(), [](char c) { return std::isxdigit(
                                                                    static_cast<unsigned char>(c)); });
    if (hex) return *id;
    if (warning) *warning = path + " does not hold a node id; a new one replaces it";
  }
  std::string id = random_hex(16);
  write_token_file(path, id);
  return id;
}

std::string token_path(const std::string& data_dir) {
  std::string dir = data_dir;
  if (!dir.empty() && dir.back() != '/') dir += '/';
  return dir + "admin.token";
}

void write_token_file(const std::string& path, const std::string& token) {
  std::string tmp = path + ".tmp";
  ::unlink(tmp.c_str());
  // O_EXCL|O_NOFOLLOW: never write through a link someone planted.
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0)
    throw std::runtime_error("cannot write admin token " + tmp + ": " + std::strerror(errno));
  std::string line = token + "\n";
  bool ok = ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size()) &&
            ::fchmod(fd, 0600) == 0 && ::fsync(fd) == 0;
  int err = errno;
  ::close(fd);
  if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) {
    if (ok) err = errno;
    ::unlink(tmp.c_str());
    throw std::runtime_error("cannot write admin token " + path + ": " + std::strerror(err));
  }
}

std::optional<std::string> read_token_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::string line;
  std::getline(in, line);
  auto t = trim(line);
  if (t.empty()) return std::nullopt;
  return std::string(t);
}

bool constant_time_equal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (std::size_t i = 0; i < a.size(); ++i)
    diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

}  // namespace mnigs
