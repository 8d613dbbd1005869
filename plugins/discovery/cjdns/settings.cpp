#include "settings.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <json/reader.h>
#include <pwd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#include "keys.hpp"
#include "util/host_port.hpp"

namespace mnigs::cjdns {

namespace {

constexpr std::size_t kMaxFileBytes = 1 << 20;

enum class ReadStatus { ok, missing, failed };

// Reads a whole small file. `why` is strerror or a size complaint.
ReadStatus read_small_file(const std::string& path, std::string& out, std::string* why) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int err = errno;
    if (why) *why = std::strerror(err);
    return err == ENOENT ? ReadStatus::missing : ReadStatus::failed;
  }
  out.clear();
  char buf[8192];
  for (;;) {
    ssize_t got = ::read(fd, buf, sizeof buf);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) {
      if (why) *why = std::strerror(errno);
      ::close(fd);
      return ReadStatus::failed;
    }
    if (got == 0) break;
    out.append(buf, static_cast<std::size_t>(got));
    if (out.size() > kMaxFileBytes) {
      if (why) *why = "larger than 1 MiB, not a cjdns config file";
      ::close(fd);
      return ReadStatus::failed;
    }
  }
  ::close(fd);
  return ReadStatus::ok;
}

std::string address_literal(std::string address) {
  // Admin tools commonly write "localhost"; cjdroute itself binds literals.
  if (address == "localhost") return "127.0.0.1";
  return address;
}

// jsoncpp reports "* Line 3, Column 5\n  Syntax error: ...\n* Line ...": the
// first error, on one line.
std::string first_error(const std::string& errors) {
  std::string first = errors.substr(0, errors.find("\n*"));
  if (first.rfind("* ", 0) == 0) first.erase(0, 2);
  std::string out;
  for (char c : first) {
    if (c == '\n') c = ' ';
    if (c == ' ' && !out.empty() && out.back() == ' ') continue;
    out += c;
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

bool is_ip_literal(const std::string& text) {
  unsigned char buf[16];
  return ::inet_pton(AF_INET, text.c_str(), buf) == 1 ||
         ::inet_pton(AF_INET6, text.c_str(), buf) == 1;
}

}  // namespace

void declare_keys(ConfigDeclarer& d) {
  d.declare(file_only(string_key(
      "confFile", kDefaultConfFile,
      "cjdroute's config file, read for admin.bind and admin.password when adminFile does not "
      "exist; \"\" skips it",
      true)));
  d.declare(file_only(string_key(
      "adminFile", kDefaultAdminFile,
      "cjdns admin tools' file (JSON: addr, port, password), tried first; \"~\" is the home of "
      "mnigsd's user; \"\" skips it",
      true)));
  d.declare(int_key("timeout", kDefaultTimeoutMs, 100, 30000,
                    "Milliseconds cjdroute has to answer each admin request", true));
}

Settings parse_settings(const Json::Value& section) {
  Settings s;
  if (section.isMember("confFile")) s.conf_file = section["confFile"].asString();
  if (section.isMember("adminFile")) s.admin_file = section["adminFile"].asString();
  if (section.isMember("timeout"))
    s.timeout = std::chrono::milliseconds(section["timeout"].asInt64());
  return s;
}

std::string AdminTarget::endpoint() const {
  if (address.find(':') != std::string::npos) return "[" + address + "]:" + std::to_string(port);
  return address + ":" + std::to_string(port);
}

std::string home_directory() {
  if (const char* home = std::getenv("HOME"); home && *home) return home;
  // Daemons started without HOME (some init systems): ask the password database.
  std::vector<char> buf(16384);
  passwd pw{};
  passwd* found = nullptr;
  if (::getpwuid_r(::getuid(), &pw, buf.data(), buf.size(), &found) == 0 && found && pw.pw_dir)
    return pw.pw_dir;
  return "";
}

std::string expand_home(const std::string& path, const std::string& home) {
  if (path == "~" || path.rfind("~/", 0) == 0) {
    if (home.empty()) return "";
    return home + path.substr(1);
  }
  return path;
}

namespace {

// Skips whitespace and comments from `i`; false on an unterminated /* */.
bool skip_blank(const std::string& text, std::size_t& i) {
  while (i < text.size()) {
    char c = text[i];
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
      ++i;
    } else if (c == '/' && i + 1 < text.size() && text[i + 1] == '/') {
      auto end = text.find('\n', i);
      i = end == std::string::npos ? text.size() : end;
    } else if (c == '/' && i + 1 < text.size() && text[i + 1] == '*') {
      auto end = text.find("*/", i + 2);
      if (end == std::string::npos) return false;
      i = end + 2;
    } else {
      break;
    }
  }
  return true;
}

void append_escaped_byte(std::string& out, unsigned char byte) {
  static const char* hex = "0123456789abcdef";
  if (byte == '"' || byte == '\\' || byte < 0x20 || byte == 0x7f) {
    out += "\\u00";
    out += hex[byte >> 4];
    out += hex[byte & 15];
  } else {
    out += static_cast<char>(byte);
  }
}

}  // namespace

std::optional<std::string> cjdroute_conf_to_json(const std::string& text, std::string* why) {
  std::string out;
  out.reserve(text.size());
  std::size_t line = 1;
  auto fail = [&](const std::string& what) -> std::optional<std::string> {
    if (why) *why = what + " (line " + std::to_string(line) + ")";
    return std::nullopt;
  };
  // What is left out becomes its line breaks (or one space), so tokens stay
  // apart and jsoncpp's line numbers are the file's.
  auto blank = [&](std::size_t from, std::size_t to) {
    std::size_t breaks = 0;
    for (std::size_t k = from; k < to; ++k) breaks += text[k] == '\n';
    line += breaks;
    out.append(breaks ? breaks : 1, breaks ? '\n' : ' ');
  };
  std::size_t i = 0;
  while (i < text.size()) {
    std::size_t from = i;
    if (!skip_blank(text, i)) {
      blank(from, i);
      return fail("a /* comment is not closed");
    }
    if (i != from) {
      blank(from, i);
      continue;
    }
    char c = text[i];
    if (c == '"') {
      out += '"';
      for (++i;; ++i) {
        if (i >= text.size() || text[i] == '\n') return fail("a string is not closed");
        char s = text[i];
        if (s == '"') break;
        if (s == '\\' && i + 1 < text.size() && text[i + 1] == 'x') {
          // cjdroute's only escape: \xHH, one byte.
          int high = i + 2 < text.size() ? hex_value(text[i + 2]) : -1;
          int low = i + 3 < text.size() ? hex_value(text[i + 3]) : -1;
          if (high < 0 || low < 0) return fail("\\x in a string is not followed by two hex digits");
          append_escaped_byte(out, static_cast<unsigned char>(high * 16 + low));
          i += 3;
        } else if (s == '\\') {
          // A JSON escape; jsoncpp judges it.
          if (i + 1 >= text.size()) return fail("a string is not closed");
          out += s;
          out += text[++i];
        } else {
          out += s;
        }
      }
      out += '"';
      ++i;
      continue;
    }
    if (c == ',') {
      // cjdroute's older reader skips stray commas: a trailing one before ]
      // or }, and runs of them. Keep a comma only if a value follows.
      std::size_t next = i + 1;
      if (!skip_blank(text, next)) {
        blank(i, next);
        return fail("a /* comment is not closed");
      }
      if (next < text.size() && (text[next] == ']' || text[next] == '}' || text[next] == ',')) {
        blank(i, next);
        i = next;
        continue;
      }
    }
    out += c;
    ++i;
  }
  return out;
}

std::optional<Json::Value> parse_commented_json(const std::string& text, std::string* why) {
  auto json = cjdroute_conf_to_json(text, why);
  if (!json) {
    if (why) *why = "not valid JSON: " + *why;
    return std::nullopt;
  }
  Json::CharReaderBuilder builder;
  builder["collectComments"] = false;
  builder["rejectDupKeys"] = false;
  std::unique_ptr<Json::CharReader> reader(builder.newCharReader());
  Json::Value root;
  std::string errors;
  try {
    if (!reader->parse(json->data(), json->data() + json->size(), &root, &errors)) {
      if (why) *why = "not valid JSON: " + first_error(errors);
      return std::nullopt;
    }
  } catch (const Json::Exception&) {  // jsoncpp throws past its stack limit
    if (why) *why = "not valid JSON: nested too deeply";
    return std::nullopt;
  }
  if (!root.isObject()) {
    if (why) *why = "not a JSON object";
    return std::nullopt;
  }
  return root;
}

std::optional<std::pair<std::string, std::uint16_t>> parse_bind(const std::string& bind,
                                                                std::string* why) {
  auto fail = [&]() -> std::optional<std::pair<std::string, std::uint16_t>> {
    if (why) *why = "admin.bind \"" + bind + "\" is not ADDRESS:PORT or [IPv6]:PORT";
    return std::nullopt;
  };
  // "localhost" is a name, read here as cjdroute's tools read it.
  auto parsed = parse_host_port(bind, {.default_port = std::nullopt, .bare_ipv6 = false,
                                       .names = true});
  if (!parsed) return fail();
  std::string host = address_literal(parsed->host);
  if (!is_ip_literal(host)) return fail();
  // cjdroute binding the wildcard answers on loopback too.
  if (host == "0.0.0.0") host = "127.0.0.1";
  if (host == "::") host = "::1";
  return std::make_pair(host, parsed->port);
}

std::optional<AdminTarget> admin_from_conf(const std::string& text, const std::string& path,
                                           std::string* why) {
  auto root = parse_commented_json(text, why);
  if (!root) return std::nullopt;
  const Json::Value& admin = (*root)["admin"];
  if (!admin.isObject()) {
    if (why) *why = "it has no \"admin\" section";
    return std::nullopt;
  }
  if (!admin["password"].isString()) {
    if (why) *why = "it has no admin.password";
    return std::nullopt;
  }
  AdminTarget target;
  target.source = path;
  target.password = admin["password"].asString();
  target.address = "127.0.0.1";  // cjdroute's default bind
  if (admin.isMember("bind")) {
    if (!admin["bind"].isString()) {
      if (why) *why = "admin.bind is not a string";
      return std::nullopt;
    }
    auto bind = parse_bind(admin["bind"].asString(), why);
    if (!bind) return std::nullopt;
    target.address = bind->first;
    target.port = bind->second;
  }
  return target;
}

std::optional<AdminTarget> admin_from_cjdnsadmin(const std::string& text, const std::string& path,
                                                 std::string* why) {
  auto root = parse_commented_json(text, why);
  if (!root) return std::nullopt;
  AdminTarget target;
  target.source = path;
  if (!(*root)["password"].isString()) {
    if (why) *why = "it has no \"password\"";
    return std::nullopt;
  }
  target.password = (*root)["password"].asString();
  target.address = "127.0.0.1";
  if (root->isMember("addr")) {
    if (!(*root)["addr"].isString() ||
        !is_ip_literal(address_literal((*root)["addr"].asString()))) {
      if (why) *why = "\"addr\" is not an IP address";
      return std::nullopt;
    }
    target.address = address_literal((*root)["addr"].asString());
  }
  if (root->isMember("port")) {
    const Json::Value& port = (*root)["port"];
    if (!port.isInt64() || port.asInt64() < 1 || port.asInt64() > 65535) {
      if (why) *why = "\"port\" is not a port number";
      return std::nullopt;
    }
    target.port = static_cast<std::uint16_t>(port.asInt64());
  }
  return target;
}

std::optional<AdminTarget> find_admin(const Settings& settings, const std::string& home,
                                      std::string* why) {
  auto fail = [&](const std::string& what) -> std::optional<AdminTarget> {
    if (why) *why = what;
    return std::nullopt;
  };
  std::string admin_file = expand_home(settings.admin_file, home);
  std::string text, err;
  std::string no_admin_file;  // why adminFile was not used, for the final message
  if (!admin_file.empty()) {
    switch (read_small_file(admin_file, text, &err)) {
      case ReadStatus::ok: {
        auto target = admin_from_cjdnsadmin(text, admin_file, &err);
        if (!target) return fail("cannot use " + admin_file + ": " + err);
        return target;
      }
      case ReadStatus::failed:
        return fail("cannot read " + admin_file + ": " + err);
      case ReadStatus::missing:
        no_admin_file = " (and there is no " + admin_file + ")";
        break;
    }
  }
  if (settings.conf_file.empty()) {
    if (settings.admin_file.empty())
      return fail(
          "cjdns.confFile and cjdns.adminFile are both empty: nowhere to find "
          "cjdroute's admin password");
    return fail("cannot find cjdroute's admin password: cjdns.confFile is empty" + no_admin_file);
  }
  const std::string conf = expand_home(settings.conf_file, home);
  if (conf.empty()) return fail("cannot read " + settings.conf_file + ": no home directory");
  switch (read_small_file(conf, text, &err)) {
    case ReadStatus::ok:
      break;
    case ReadStatus::missing:
    case ReadStatus::failed:
      return fail("cannot read " + conf + ": " + err + no_admin_file);
  }
  auto target = admin_from_conf(text, conf, &err);
  if (!target) return fail("cannot use " + conf + ": " + err);
  return target;
}

}  // namespace mnigs::cjdns
