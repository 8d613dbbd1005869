// A tunnel plugin that changes nothing in the kernel: it records what it was
// asked, refuses sessions for 10.9.9.9 and can hold a connect for ever, so
// session logic can be tested without root. Its gateway key is fake.gatewayKey,
// its subscriber key fake.subscriberKey ("error: ..." fails with the rest).
#include <mnigs/plugin_entry.hpp>

#include <map>
#include <string>

namespace {

class FakeTunnel final : public mnigs::TunnelPlugin {
 public:
  static void declare(mnigs::ConfigDeclarer& d) {
    d.declare(mnigs::string_key("gatewayKey", "sha256:" + std::string(64, 'f'),
                                "What gateway_key() says", true));
    d.declare(mnigs::string_key("subscriberKey", "", "What subscriber_key() says", true));
    d.declare(mnigs::string_key("announce", "", "What announce() says", true));
  }
  explicit FakeTunnel(mnigs::PluginContext& ctx) : ctx_(ctx) {}
  // Asks once for the gateways this node knows; status() says how many.
  void start() override {
    ctx_.gateways([this](Json::Value list) { gateways_ = static_cast<int>(list.size()); });
  }
  std::string method() const override { return "fake"; }

  void open_session(const mnigs::TunnelSession& s,
                    std::function<void(std::string, Json::Value)> done) override {
    if (s.subscriber_address == "10.9.9.9") return done("no route to 10.9.9.9", Json::Value());
    open_.append(s.id);
    opened_keys_.append(s.subscriber_key);
    Json::Value p(Json::objectValue);
    p["mode"] = "fake";
    p["resumed"] = !s.params.empty();
    done("", p);
  }
  void close_session(const mnigs::TunnelSession& s, Done done) override {
    closed_.append(s.id);
    done("");
  }
  std::string gateway_key() const override { return ctx_.config()["gatewayKey"].asString(); }
  std::string announce() const override { return ctx_.config()["announce"].asString(); }
  void subscriber_key(std::function<void(std::string, std::string)> done) override {
    const std::string key = ctx_.config()["subscriberKey"].asString();
    if (key.rfind("error: ", 0) == 0) return done(key.substr(7), "");
    done("", key);
  }
  // With "failConnect" in the gateway's params, connect fails. With
  // "holdConnect", the first connect of a session never completes: mnigsd
  // dying while the tunnel comes up.
  void connect(const mnigs::TunnelSession& s, Done done) override {
    connected_.append(s.id);
    routings_.append(s.gateway_address + " " + s.params["routing"].asString());
    last_params_ = s.params;
    last_key_ = s.subscriber_key;
    if (s.params["failConnect"].asBool()) return done("cannot open the tunnel device");
    if (s.params["holdConnect"].asBool() && !held_.count(s.id)) {
      held_[s.id] = std::move(done);
      return;
    }
    ++connects_[key(s)];
    done("");
  }
  void disconnect(const mnigs::TunnelSession& s, Done done) override {
    disconnected_.append(s.id);
    connects_.erase(key(s));
    done("");
  }
  // A connected session's device is lo, where the test gateways are, so
  // probes bound to it reach them; it "sent" 1000 bytes in 10 packets per
  // connect and received twice that.
  mnigs::TunnelTraffic traffic(const mnigs::TunnelSession& s) const override {
    mnigs::TunnelTraffic t;
    auto it = connects_.find(key(s));
    if (it == connects_.end()) return t;
    t.device = "lo";
    t.counted = true;
    t.bytes_out = 1000u * it->second;
    t.bytes_in = 2 * t.bytes_out;
    t.packets_out = 10u * it->second;
    t.packets_in = 2 * t.packets_out;
    return t;
  }
  // Records the routing of each connect ("routings"), which is all a
  // standby needs of it here.
  bool supports_standby() const override { return true; }
  void reset(Done done) override {
    ++resets_;
    done("");
  }
  Json::Value status() const override {
    Json::Value s(Json::objectValue);
    s["opened"] = open_;
    s["closed"] = closed_;
    s["connected"] = connected_;
    s["disconnected"] = disconnected_;
    s["routings"] = routings_;
    s["resets"] = resets_;
    s["held"] = static_cast<int>(held_.size());
    s["lastParams"] = last_params_;
    s["openedKeys"] = opened_keys_;  // the subscriber_key of each open_session
    s["lastKey"] = last_key_;        // the subscriber_key of the last connect
    s["gateways"] = gateways_;       // what PluginContext::gateways gave, -1 before
    return s;
  }

 private:
  mnigs::PluginContext& ctx_;
  Json::Value open_{Json::arrayValue}, closed_{Json::arrayValue};
  Json::Value connected_{Json::arrayValue}, disconnected_{Json::arrayValue};
  Json::Value routings_{Json::arrayValue};  // "GATEWAY ROUTING" of each connect
  Json::Value last_params_;                 // the params of the last connect
  Json::Value opened_keys_{Json::arrayValue};
  std::string last_key_;
  int gateways_ = -1;
  int resets_ = 0;
  std::map<std::string, Done> held_;  // by session id
  // Connected sessions, by gateway and id (the test gateways all give the
  // same id): connects since the last disconnect.
  std::map<std::string, unsigned> connects_;
  static std::string key(const mnigs::TunnelSession& s) { return s.gateway_address + " " + s.id; }
};

}  // namespace

MNIGS_PLUGIN(FakeTunnel, "tunnel", "fake", "0.1", "Test tunnel that records what it is asked")
