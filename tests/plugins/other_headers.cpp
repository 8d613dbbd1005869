// A plugin built against a changed copy of the API headers
// (other_headers.cmake), twice under two names: `changedapi` against a
// PluginContext with an extra virtual method and the same ABI version,
// `oldmajor` against an older ABI major. The loader must refuse both before
// calling anything: were either let in, it would declare a key and register
// an RPC method, which the tests look for.
#include <mnigs/plugin_entry.hpp>

namespace {

class OtherHeaders final : public mnigs::PaymentPlugin {
 public:
  static void declare(mnigs::ConfigDeclarer& d) {
    d.declare(mnigs::string_key("greeting", "hello", "Declared only if the plugin is let in"));
  }
  explicit OtherHeaders(mnigs::PluginContext& ctx) : ctx_(ctx) {}
  void start() override {
    // Built against `changedapi`'s headers, this calls the daemon's slot
    // after register_method: the silent breakage the API hash prevents.
    ctx_.register_method("hello", mnigs::Access::mesh,
                         [](const Json::Value&, const mnigs::CallInfo&, mnigs::Responder r) {
                           r.result("served by a plugin that should have been refused");
                         });
  }
  std::string method() const override { return OTHER_HEADERS_NAME; }
  Json::Value terms() const override { return Json::Value(Json::objectValue); }

 private:
  mnigs::PluginContext& ctx_;
};

}  // namespace

MNIGS_PLUGIN(OtherHeaders, "payment", OTHER_HEADERS_NAME, "0.1",
             "Test plugin built against other API headers")
