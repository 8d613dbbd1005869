// MNIGS_PLUGIN: defines a plugin's C entry point around a C++ class.
//
//   class Free final : public mnigs::PaymentPlugin {
//    public:
//     static void declare(mnigs::ConfigDeclarer& d);
//     explicit Free(mnigs::PluginContext& ctx);
//     ...
//   };
//   MNIGS_PLUGIN(Free, "payment", "free", "1.0", "Gateways that charge nothing")
#pragma once

#include <mnigs/build_fingerprint.hpp>
#include <mnigs/plugin.hpp>
#include <mnigs/plugin_abi.h>

#include <cstdio>
#include <exception>

namespace mnigs::detail {
inline void copy_error(char* err, size_t len, const char* what) {
  if (err && len) std::snprintf(err, len, "%s", what);
}
}  // namespace mnigs::detail

#define MNIGS_PLUGIN(Class, Kind, Name, Version, Summary)                                    \
  namespace {                                                                                \
  int mnigs_declare_(void* declarer, char* err, size_t len) {                                \
    try {                                                                                    \
      Class::declare(*static_cast<mnigs::ConfigDeclarer*>(declarer));                        \
      return 0;                                                                              \
    } catch (const std::exception& e) {                                                      \
      mnigs::detail::copy_error(err, len, e.what());                                         \
    } catch (...) {                                                                          \
      mnigs::detail::copy_error(err, len, "unknown exception");                              \
    }                                                                                        \
    return -1;                                                                               \
  }                                                                                          \
  void* mnigs_create_(void* context, char* err, size_t len) {                                \
    try {                                                                                    \
      mnigs::Plugin* p = new Class(*static_cast<mnigs::PluginContext*>(context));            \
      return p;                                                                              \
    } catch (const std::exception& e) {                                                      \
      mnigs::detail::copy_error(err, len, e.what());                                         \
    } catch (...) {                                                                          \
      mnigs::detail::copy_error(err, len, "unknown exception");                              \
    }                                                                                        \
    return nullptr;                                                                          \
  }                                                                                          \
  void mnigs_destroy_(void* plugin) { delete static_cast<mnigs::Plugin*>(plugin); }          \
  const struct mnigs_plugin_info mnigs_info_ = {                                                    \
      sizeof(struct mnigs_plugin_info), MNIGS_PLUGIN_ABI_MAJOR, MNIGS_PLUGIN_ABI_MINOR,             \
      MNIGS_BUILD_FINGERPRINT,   Name,                   Kind,                               \
      Version,                   Summary,                &mnigs_declare_,                    \
      &mnigs_create_,            &mnigs_destroy_};                                           \
  }                                                                                          \
  extern "C" __attribute__((visibility("default"))) const struct mnigs_plugin_info*               \
  mnigs_plugin_info() {                                                                      \
    return &mnigs_info_;                                                                     \
  }
