// payment/free: the gateway charges nothing. Subscribers still see the terms
// in the offer, so a free gateway and a paid one list the same way.
#include <mnigs/plugin_entry.hpp>

namespace {

class Free final : public mnigs::PaymentPlugin {
 public:
  static void declare(mnigs::ConfigDeclarer& d) {
    d.declare(mnigs::string_key("note", "",
                                "Text shown to subscribers with the offer, e.g. a fair-use rule",
                                true));
  }

  explicit Free(mnigs::PluginContext& ctx) : ctx_(ctx) {}

  void start() override { ctx_.log().debug("gateways using this plugin charge nothing"); }
  std::string method() const override { return "free"; }

  Json::Value terms() const override {
    Json::Value t(Json::objectValue);
    t["method"] = "free";
    t["price"] = 0;
    t["currency"] = "";
    t["note"] = ctx_.config()["note"].asString();
    return t;
  }

  Json::Value status() const override { return terms(); }

 private:
  mnigs::PluginContext& ctx_;
};

}  // namespace

MNIGS_PLUGIN(Free, "payment", "free", "1.0", "Gateways that charge nothing")
