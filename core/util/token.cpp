#include "util/token.hpp"

#include <algorithm>
#include <cctype>

#include <sys/random.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <stdexcept>
#include <vector>

#include "util/atomic_file.hpp"
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
  write_file_atomic(path, token + "\n", {.mode = 0600});
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
