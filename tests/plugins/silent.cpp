// A discovery plugin that never answers discover(): the host must not wait
// for it longer than its deadline.
#include <mnigs/plugin_entry.hpp>

namespace {

class Silent final : public mnigs::DiscoveryPlugin {
 public:
  static void declare(mnigs::ConfigDeclarer&) {}
  explicit Silent(mnigs::PluginContext&) {}
  void start() override {}
  std::string network() const override { return "silentnet"; }
  void discover(std::function<void(mnigs::Discovery)> done) override {
    held_.push_back(std::move(done));  // kept, never called
  }

 private:
  std::vector<std::function<void(mnigs::Discovery)>> held_;
};

}  // namespace

MNIGS_PLUGIN(Silent, "discovery", "silent", "0.1", "Test plugin that never reports")
