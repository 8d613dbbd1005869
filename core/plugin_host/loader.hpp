// Finding and opening plugin shared objects, checking their ABI and taking
// their config declarations. Nothing here starts a plugin (see host.hpp), so
// mnigs-cli uses it too, to know the keys plugins declare.
#pragma once

#include "config/schema.hpp"

#include <mnigs/log.hpp>
#include <mnigs/plugin_abi.h>

#include <sys/stat.h>

#include <string>
#include <vector>

namespace mnigs {

struct PluginLibrary {
  std::string path;  // the .so file
  std::string name, kind, version, summary;
  const mnigs_plugin_info* info = nullptr;  // null when the library was refused
  std::string error;                        // why it was refused; "" when usable
  bool disabled = false;                    // listed in plugins.disabled
  bool usable() const { return info && error.empty() && !disabled; }
};

// Opens every "*.so" in `dir` (sorted by file name) with RTLD_NOW|RTLD_LOCAL.
// Plugins run as root: when `dir` is not trusted (check_trusted_file) none
// is loaded, and a file that is not trusted, or is a symlink, is refused
// unopened. A library that fails to open, lacks the entry point, has another ABI major
// version or build fingerprint (toolchain, or hash of the API headers it was
// built against), an unknown kind, a name taken by another plugin, or a
// failing declaration is returned with `error` set and is not used; its
// problems are also logged. Usable plugins have declared their keys
// in `schema`, in a section named after the plugin. Libraries are never closed.
std::vector<PluginLibrary> load_plugin_libraries(const std::string& dir,
                                                 const std::vector<std::string>& disabled,
                                                 Schema& schema, Logger& log);

// Checks one descriptor; returns "" when acceptable, else the reason.
std::string check_descriptor(const mnigs_plugin_info* info);

// "" when a plugin file (or its directory) with this stat may be loaded:
// owned by root or by the user mnigsd runs as, and writable by no one
// else. Otherwise why not, starting with `what`.
std::string check_trusted_file(const struct stat& st, const std::string& what);

}  // namespace mnigs
