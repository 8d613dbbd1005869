// Where cjdroute's admin interface is and its password, from the files
// cjdns users already have:
//
//   1. `adminFile` (default ~/.cjdnsadmin), when it exists: the JSON file of
//      cjdns' own admin tools, {"addr": "127.0.0.1", "port": 11234,
//      "password": "...", "config": "/etc/cjdroute.conf"}. It exists to tell
//      admin clients where cjdroute listens, and is readable by its user,
//      while cjdroute.conf is often readable by root only.
//   2. otherwise `confFile` (default /etc/cjdroute.conf): cjdroute's config,
//      JSON with // and /* */ comments; "admin": {"bind": "127.0.0.1:11234",
//      "password": "..."}.
//
// An empty key skips that file. "~" at the start of a path is the home
// directory of the user mnigsd runs as ($HOME, else the password database).
// The files are read again at every discovery, so a changed password applies
// without a restart.
//
// Blocking file reads of small local files; thread-safe.
#pragma once

#include <json/value.h>

#include <chrono>
#include <cstdint>
#include <mnigs/config_decl.hpp>
#include <optional>
#include <string>

namespace mnigs::cjdns {

inline constexpr const char* kDefaultConfFile = "/etc/cjdroute.conf";
inline constexpr const char* kDefaultAdminFile = "~/.cjdnsadmin";
inline constexpr std::int64_t kDefaultTimeoutMs = 2000;
inline constexpr std::uint16_t kDefaultAdminPort = 11234;

// The plugin's config section.
struct Settings {
  std::string conf_file = kDefaultConfFile;
  std::string admin_file = kDefaultAdminFile;
  std::chrono::milliseconds timeout{kDefaultTimeoutMs};
};

// Declares confFile, adminFile and timeout.
void declare_keys(ConfigDeclarer& declarer);
// Reads a validated section (every key present with its declared type).
Settings parse_settings(const Json::Value& section);

// How to reach cjdroute's admin interface.
struct AdminTarget {
  std::string address;  // IPv4 or IPv6 literal
  std::uint16_t port = kDefaultAdminPort;
  std::string password;
  std::string source;  // the file this came from, for messages

  // "127.0.0.1:11234" / "[::1]:11234"
  std::string endpoint() const;
};

// The home directory of the user this process runs as, "" if unknown.
std::string home_directory();
// "~" or "~/..." with `home` in place of "~"; other paths unchanged. "" when
// the path needs a home and `home` is "".
std::string expand_home(const std::string& path, const std::string& home);

// cjdroute.conf as cjdroute reads it, made plain JSON: // and /* */ comments
// anywhere between tokens (also as the only content of an array or object,
// which `cjdroute --genconf` writes), commas before ] or } and runs of commas
// (cjdroute's reader for confs without "version": 2 skips them), and the
// \xHH escape of cjdroute's strings. Comments become their line breaks, so
// line numbers stay the file's. nullopt with `why` on an unclosed comment or
// string.
std::optional<std::string> cjdroute_conf_to_json(const std::string& text, std::string* why);

// Parses a cjdroute.conf (above) or plain JSON into an object.
std::optional<Json::Value> parse_commented_json(const std::string& text, std::string* why);

// "127.0.0.1:11234", "[::1]:11234" -> address and port.
std::optional<std::pair<std::string, std::uint16_t>> parse_bind(const std::string& bind,
                                                                std::string* why);

// The admin target described by a cjdroute.conf / .cjdnsadmin text; `path`
// names the file in messages.
std::optional<AdminTarget> admin_from_conf(const std::string& text, const std::string& path,
                                           std::string* why);
std::optional<AdminTarget> admin_from_cjdnsadmin(const std::string& text, const std::string& path,
                                                 std::string* why);

// Looks up the admin target in the order described above. nullopt with `why`,
// a sentence for the user ("cannot read /etc/cjdroute.conf: No such file or
// directory").
std::optional<AdminTarget> find_admin(const Settings& settings, const std::string& home,
                                      std::string* why);

}  // namespace mnigs::cjdns
