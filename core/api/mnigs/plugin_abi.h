/* The one C entry point of a plugin shared object.
 *
 * Each .so exports `mnigs_plugin_info()`, returning a static descriptor. The
 * loader checks `struct_size`, the ABI major version and the build
 * fingerprint before it calls anything else; a mismatch is reported and the
 * plugin is not used. Plugins are C++ classes behind this entry point: the
 * tree builds them with the same compiler as the daemon, and the fingerprint
 * makes sure of it.
 *
 * Write a plugin with MNIGS_PLUGIN(Class, kind, name, version, summary) from
 * <mnigs/plugin_entry.hpp>; it fills this struct and keeps exceptions inside.
 *
 * Versions (core/api/README.md): a field added at the end of a C struct, a new
 * free function or a new non-virtual helper is minor; anything that moves a
 * vtable slot, changes a signature, a struct's layout or what a call means is
 * major. The fingerprint also carries a hash of these headers, so any header
 * change refuses plugins built before it, whatever the version says.
 */
#ifndef MNIGS_PLUGIN_ABI_H
#define MNIGS_PLUGIN_ABI_H

#include <stddef.h>
#include <stdint.h>

#define MNIGS_PLUGIN_ABI_MAJOR 9 /* incompatible change: bump, old plugins refused */
#define MNIGS_PLUGIN_ABI_MINOR 0 /* compatible addition; back to 0 with each major */

#ifdef __cplusplus
extern "C" {
#endif

struct mnigs_plugin_info {
  uint32_t struct_size; /* sizeof(struct mnigs_plugin_info) as the plugin saw it */
  uint16_t abi_major;
  uint16_t abi_minor;
  const char* fingerprint; /* compiler, Boost, C++, libstdc++ ABI, jsoncpp, API hash */
  const char* name;        /* unique; also its config section and RPC prefix */
  const char* kind;        /* "discovery", "tunnel" or "payment" */
  const char* version;
  const char* summary;     /* one line for listPlugins */
  /* Declares the config keys: `declarer` is a mnigs::ConfigDeclarer*.
   * Returns 0, or -1 with a message in err. */
  int (*declare)(void* declarer, char* err, size_t err_len);
  /* Creates the plugin: `context` is a mnigs::PluginContext*; returns a
   * mnigs::Plugin*, or NULL with a message in err. */
  void* (*create)(void* context, char* err, size_t err_len);
  /* Destroys what create returned. */
  void (*destroy)(void* plugin);
};

typedef const struct mnigs_plugin_info* (*mnigs_plugin_info_fn)(void);
#define MNIGS_PLUGIN_ENTRY_SYMBOL "mnigs_plugin_info"

#ifdef __cplusplus
}
#endif

#endif /* MNIGS_PLUGIN_ABI_H */
