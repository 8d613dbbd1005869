// A payment plugin for tests: free, under another name.
#include <mnigs/plugin_entry.hpp>

namespace {

class FakePayment final : public mnigs::PaymentPlugin {
 public:
  static void declare(mnigs::ConfigDeclarer&) {}
  explicit FakePayment(mnigs::PluginContext&) {}
  void start() override {}
  std::string method() const override { return "fakepay"; }
  Json::Value terms() const override { return Json::Value(Json::objectValue); }
};

}  // namespace

MNIGS_PLUGIN(FakePayment, "payment", "fakepay", "0.1", "Test payment method")
