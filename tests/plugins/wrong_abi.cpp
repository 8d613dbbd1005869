// A plugin claiming a future ABI major version.
#include <mnigs/build_fingerprint.hpp>
#include <mnigs/plugin_abi.h>

static const struct mnigs_plugin_info info = {
    sizeof(struct mnigs_plugin_info), MNIGS_PLUGIN_ABI_MAJOR + 1, 0, MNIGS_BUILD_FINGERPRINT,
    "wrongabi", "payment", "0.1", "Test plugin with another ABI", nullptr, nullptr, nullptr};

extern "C" __attribute__((visibility("default"))) const struct mnigs_plugin_info*
mnigs_plugin_info() {
  return &info;
}
