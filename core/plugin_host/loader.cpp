#include "plugin_host/loader.hpp"

#include <mnigs/build_fingerprint.hpp>

#include <dlfcn.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <regex>
#include <set>
#include <string_view>

namespace mnigs {
namespace fs = std::filesystem;

std::string check_descriptor(const mnigs_plugin_info* info) {
  if (!info) return "mnigs_plugin_info() returned NULL";
  // The first three fields have been stable since ABI 1; read them before
  // trusting anything else in the struct.
  if (info->abi_major != MNIGS_PLUGIN_ABI_MAJOR)
    return "plugin ABI " + std::to_string(info->abi_major) + "." +
           std::to_string(info->abi_minor) + " does not match mnigsd's ABI " +
           std::to_string(MNIGS_PLUGIN_ABI_MAJOR) + "." + std::to_string(MNIGS_PLUGIN_ABI_MINOR) +
           "; rebuild the plugin against this mnigs";
  if (info->struct_size < sizeof(mnigs_plugin_info))
    return "plugin descriptor is " + std::to_string(info->struct_size) + " bytes, expected " +
           std::to_string(sizeof(mnigs_plugin_info)) + "; rebuild the plugin";
  if (!info->fingerprint || std::strcmp(info->fingerprint, MNIGS_BUILD_FINGERPRINT) != 0) {
    std::string theirs = info->fingerprint ? info->fingerprint : "(none)";
    // Same toolchain, other headers: name the two API hashes alone, since the
    // toolchain text is long and the same on both sides.
    constexpr std::string_view same_toolchain = MNIGS_BUILD_TOOLCHAIN "; api ";
    if (theirs.starts_with(same_toolchain))
      return "plugin was built against other API headers (api " +
             theirs.substr(same_toolchain.size()) + ") than mnigsd (api " MNIGS_API_HASH
             "); rebuild it against this mnigs's core/api";
    return "plugin was built with \"" + theirs + "\" but mnigsd with \"" +
           MNIGS_BUILD_FINGERPRINT + "\"; rebuild it with the same toolchain and mnigs headers";
  }
  if (!info->name || !std::regex_match(info->name, std::regex("[a-z][a-z0-9]{0,30}")))
    return "plugin name must be 1-31 lowercase letters or digits, starting with a letter";
  if (!info->kind || (std::strcmp(info->kind, "discovery") != 0 &&
                      std::strcmp(info->kind, "tunnel") != 0 &&
                      std::strcmp(info->kind, "payment") != 0))
    return std::string("unknown plugin kind \"") + (info->kind ? info->kind : "") +
           "\" (allowed: discovery, tunnel, payment)";
  if (!info->declare || !info->create || !info->destroy)
    return "plugin descriptor lacks declare/create/destroy functions";
  return "";
}

std::string check_trusted_file(const struct stat& st, const std::string& what) {
  if (st.st_uid != 0 && st.st_uid != ::geteuid())
    return what + " is owned by uid " + std::to_string(st.st_uid) +
           ", not by root (or the user mnigsd runs as)";
  if (st.st_mode & (S_IWGRP | S_IWOTH)) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    return what + " is writable by " + ((st.st_mode & S_IWOTH) ? "every user" : "its group") +
           " (mode " + mode + "); only its owner may write it";
  }
  return "";
}

namespace {

// Closes the descriptor at the end of the scope.
struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

}  // namespace

std::vector<PluginLibrary> load_plugin_libraries(const std::string& dir,
                                                 const std::vector<std::string>& disabled,
                                                 Schema& schema, Logger& log) {
  std::vector<PluginLibrary> out;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    log.warn("plugin directory ", dir, " does not exist; no plugins loaded (set plugins.dir)");
    return out;
  }
  // A plugin runs as root inside mnigsd: whoever may write its file or put
  // one in its directory may run code as root.
  struct stat dir_stat {};
  std::string untrusted_dir =
      ::stat(dir.c_str(), &dir_stat) != 0
          ? "plugin directory " + dir + " cannot be examined: " + std::strerror(errno)
          : check_trusted_file(dir_stat, "plugin directory " + dir);
  if (!untrusted_dir.empty()) {
    log.error(untrusted_dir, "; no plugins loaded");
    return out;
  }
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(dir, ec))
    if (entry.path().extension() == ".so" && entry.is_regular_file(ec)) files.push_back(entry.path());
  std::sort(files.begin(), files.end());

  std::set<std::string> names;
  for (const auto& file : files) {
    PluginLibrary lib;
    lib.path = file.string();
    auto refuse = [&](std::string why) {
      lib.error = std::move(why);
      log.error("plugin ", lib.path, ": ", lib.error, "; it is not loaded");
      out.push_back(lib);
    };
    // Examined as opened, not through a symlink. Loaded by its path: only
    // root can replace it in between, since the directory passed the same
    // check. (Not through /proc/self/fd/N: glibc would take a later plugin
    // opened at a reused descriptor number for the one already loaded.)
    Fd file_fd{::open(lib.path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC)};
    struct stat file_stat {};
    if (file_fd.fd < 0 || ::fstat(file_fd.fd, &file_stat) != 0) {
      refuse(std::string("cannot open: ") + std::strerror(errno) +
             (errno == ELOOP ? " (a symlink; plugins must be regular files)" : ""));
      continue;
    }
    if (!S_ISREG(file_stat.st_mode)) {
      refuse("not a regular file");
      continue;
    }
    if (auto why = check_trusted_file(file_stat, "the file"); !why.empty()) {
      refuse(why);
      continue;
    }
    // RTLD_NOW: an unresolved symbol fails here, not in the middle of a call.
    // RTLD_LOCAL: one plugin's symbols never satisfy another's.
    void* handle = dlopen(lib.path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
      const char* err = dlerror();
      refuse(std::string("cannot load: ") + (err ? err : "unknown dlopen error"));
      continue;
    }
    auto entry = reinterpret_cast<mnigs_plugin_info_fn>(dlsym(handle, MNIGS_PLUGIN_ENTRY_SYMBOL));
    if (!entry) {
      refuse("not a mnigs plugin: no " MNIGS_PLUGIN_ENTRY_SYMBOL "() entry point");
      continue;
    }
    const mnigs_plugin_info* info = entry();
    if (std::string why = check_descriptor(info); !why.empty()) {
      if (info && info->name) lib.name = info->name;
      refuse(why);
      continue;
    }
    lib.name = info->name;
    lib.kind = info->kind;
    lib.version = info->version ? info->version : "";
    lib.summary = info->summary ? info->summary : "";
    if (names.count(lib.name)) {
      refuse("another plugin is already named \"" + lib.name + "\"");
      continue;
    }
    if (schema.section(lib.name)) {
      refuse("plugin name \"" + lib.name + "\" is a core config section");
      continue;
    }
    names.insert(lib.name);
    // A disabled plugin still declares its keys, so its section in the file
    // stays valid and --dump-config shows it.
    char err[512] = {0};
    int rc = -1;
    try {
      schema.add_section(lib.name, "plugin " + lib.kind + "/" + lib.name,
                         lib.summary.empty() ? lib.name : lib.summary,
                         [&](ConfigDeclarer& declarer) {
                           rc = info->declare(&declarer, err, sizeof err);
                           if (rc != 0) throw std::runtime_error(err);
                         });
    } catch (const std::exception& e) {
      std::snprintf(err, sizeof err, "%s", e.what());
      rc = -1;
    }
    if (rc != 0) {
      refuse(std::string("declaring its config keys failed: ") + err);
      continue;
    }
    lib.info = info;
    if (std::find(disabled.begin(), disabled.end(), lib.name) != disabled.end()) {
      lib.disabled = true;
      log.info("plugin ", lib.name, " is disabled by plugins.disabled");
    }
    log.debug("plugin ", lib.kind, "/", lib.name, " ", lib.version, " loaded from ", lib.path);
    out.push_back(lib);
  }
  return out;
}

}  // namespace mnigs
