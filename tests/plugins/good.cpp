// A well-behaved discovery plugin with RPC methods, one of which throws.
#include <mnigs/plugin_entry.hpp>

namespace {

class Good final : public mnigs::DiscoveryPlugin {
 public:
  static void declare(mnigs::ConfigDeclarer& d) {
    d.declare(mnigs::string_key("greeting", "hello", "What echo answers with", true));
    d.declare(mnigs::int_key("limit", 3, 1, 10, "A bounded number"));
  }
  explicit Good(mnigs::PluginContext& ctx) : ctx_(ctx) {}
  void start() override {
    ctx_.register_method("echo", mnigs::Access::mesh,
                         [this](const Json::Value& params, const mnigs::CallInfo&,
                                mnigs::Responder r) {
                           Json::Value out(Json::objectValue);
                           out["greeting"] = ctx_.config()["greeting"];
                           out["params"] = params;
                           r.result(out);
                         });
    // A section as core_config gives it.
    ctx_.register_method("coreConfig", mnigs::Access::admin,
                         [this](const Json::Value& params, const mnigs::CallInfo&,
                                mnigs::Responder r) {
                           r.result(ctx_.core_config(params["section"].asString()));
                         });
    ctx_.register_method("boom", mnigs::Access::admin,
                         [](const Json::Value&, const mnigs::CallInfo&, mnigs::Responder) {
                           throw std::runtime_error("boom on purpose");
                         });
    // What a plugin does when its daemon goes away and comes back.
    ctx_.register_method(
        "problem", mnigs::Access::admin,
        [this](const Json::Value& params, const mnigs::CallInfo&, mnigs::Responder r) {
          problem_ = params["error"].asString();
          r.result(true);
        });
    // Runs argv through the host and answers with what it printed.
    ctx_.register_method("run", mnigs::Access::admin,
                         [this](const Json::Value& params, const mnigs::CallInfo&,
                                mnigs::Responder r) {
                           std::vector<std::string> argv;
                           for (const auto& a : params) argv.push_back(a.asString());
                           ctx_.run(argv, "", std::chrono::seconds(5),
                                    [r](mnigs::CommandOutcome o) { r.result(o.out); });
                         });
    ctx_.register_method("remember", mnigs::Access::admin,
                         [this](const Json::Value& params, const mnigs::CallInfo&,
                                mnigs::Responder r) {
                           ctx_.store().put("last", params.toStyledString(),
                                            [r](bool ok) { r.result(ok); });
                         });
  }
  void stop() override { stopped_ = true; }
  std::string network() const override { return "testnet"; }
  void discover(std::function<void(mnigs::Discovery)> done) override {
    mnigs::Discovery d;
    mnigs::Candidate c;
    c.address = "10.1.2.3";
    c.port = 65533;
    c.detail = "test";
    d.candidates.push_back(c);
    done(std::move(d));
  }
  Json::Value status() const override {
    Json::Value s(Json::objectValue);
    s["stopped"] = stopped_;
    s["error"] = problem_;
    return s;
  }

 private:
  mnigs::PluginContext& ctx_;
  bool stopped_ = false;
  std::string problem_;
};

}  // namespace

MNIGS_PLUGIN(Good, "discovery", "good", "0.1", "Test plugin that behaves")
