// A payment plugin for tests: free under another name, or (fakepay.charges)
// one whose sessions must be paid, with its page at http://GATEWAY:8/.
#include <mnigs/plugin_entry.hpp>

namespace {

class FakePayment final : public mnigs::PaymentPlugin {
 public:
  static void declare(mnigs::ConfigDeclarer& d) {
    d.declare(mnigs::bool_key("charges", false, "Sessions must be paid with a voucher", true));
  }
  explicit FakePayment(mnigs::PluginContext& ctx) : ctx_(ctx) {}
  void start() override {}
  std::string method() const override { return "fakepay"; }
  Json::Value terms() const override { return Json::Value(Json::objectValue); }
  bool charges() const override { return ctx_.config()["charges"].asBool(); }
  std::string portal(const std::string& gateway_address) const override {
    return charges() ? "http://" + gateway_address + ":8/" : "";
  }
  std::uint16_t portal_port() const override { return charges() ? 8 : 0; }

 private:
  mnigs::PluginContext& ctx_;
};

}  // namespace

MNIGS_PLUGIN(FakePayment, "payment", "fakepay", "0.2", "Test payment method")
