// A plugin whose constructor throws.
#include <mnigs/plugin_entry.hpp>

namespace {

class CreateFails final : public mnigs::PaymentPlugin {
 public:
  static void declare(mnigs::ConfigDeclarer&) {}
  explicit CreateFails(mnigs::PluginContext&) { throw std::runtime_error("no resources"); }
  void start() override {}
  std::string method() const override { return "never"; }
  Json::Value terms() const override { return Json::Value(); }
};

}  // namespace

MNIGS_PLUGIN(CreateFails, "payment", "createfails", "0.1", "Test plugin whose constructor throws")
