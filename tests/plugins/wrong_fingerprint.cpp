// A plugin built (it says) by another toolchain.
#include <mnigs/plugin_abi.h>

static const struct mnigs_plugin_info info = {
    sizeof(struct mnigs_plugin_info), MNIGS_PLUGIN_ABI_MAJOR, MNIGS_PLUGIN_ABI_MINOR,
    "clang 3.0; boost 105000; c++ 201103; cxx11abi 0; jsoncpp 0.6", "wrongfp", "payment", "0.1",
    "Test plugin from another toolchain", nullptr, nullptr, nullptr};

extern "C" __attribute__((visibility("default"))) const struct mnigs_plugin_info*
mnigs_plugin_info() {
  return &info;
}
