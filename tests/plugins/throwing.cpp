// A payment plugin whose start() throws.
#include <mnigs/plugin_entry.hpp>

namespace {

class Throwing final : public mnigs::PaymentPlugin {
 public:
  static void declare(mnigs::ConfigDeclarer&) {}
  explicit Throwing(mnigs::PluginContext&) {}
  void start() override { throw std::runtime_error("cannot start on purpose"); }
  std::string method() const override { return "throwing"; }
  Json::Value terms() const override { return Json::Value(); }
};

}  // namespace

MNIGS_PLUGIN(Throwing, "payment", "throwing", "0.1", "Test plugin whose start throws")
