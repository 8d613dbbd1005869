#include "plugin_host/loader.hpp"

#include <mnigs/build_fingerprint.hpp>

#include <dlfcn.h>

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

std::vector<PluginLibrary> load_plugin_libraries(const std::string& dir,
                                                 const std::vector<std::string>& disabled,
                                                 Schema& schema, Logger& log) {
  std::vector<PluginLibrary> out;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    log.warn("plugin directory ", dir, " does not exist; no plugins loaded (set plugins.dir)");
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
