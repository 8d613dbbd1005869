// A fake PluginContext for the forwarding plugin's unit tests: every run()
// is recorded and answered later, when the test settles, with a canned
// outcome, as the host's runner would from its own thread. Plus a fixture
// that starts the plugin on it. Single-threaded, for tests only.
#pragma once

#include "tunnel.hpp"

#include <plugin_fakes.hpp>

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>

#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace mnigs::forwarding::testing {

using mnigs::testing::FakeBus;
using mnigs::testing::FakeLogger;
using mnigs::testing::FakeStore;

class FakeContext : public PluginContext {
 public:
  struct Call {
    std::string line;  // argv joined by spaces
    std::string input;
    bool wants_outcome = false;
  };

  // Commands whose line starts with `prefix` get this outcome (the first
  // matching answer with uses left; `times` < 0: unlimited). Others succeed
  // with no output.
  void answer(std::string prefix, int exit_code, std::string out = "", std::string err = "",
              int times = -1) {
    CommandOutcome o;
    o.exit_code = exit_code;
    o.out = std::move(out);
    o.err = std::move(err);
    answers_.push_back({std::move(prefix), std::move(o), times});
  }
  void clear_answers() { answers_.clear(); }

  // Completes the commands handed over so far and those they lead to.
  void settle() {
    for (int i = 0; i < 10000 && !pending_.empty(); ++i) {
      auto [outcome, done] = std::move(pending_.front());
      pending_.pop_front();
      if (done) done(outcome);
    }
    ASSERT_TRUE(pending_.empty()) << "commands keep coming";
  }

  std::vector<std::string> lines() const {
    std::vector<std::string> out;
    for (const auto& c : calls) out.push_back(c.line);
    return out;
  }
  std::size_t count(const std::string& line) const {
    std::size_t n = 0;
    for (const auto& c : calls) n += c.line == line;
    return n;
  }

  const std::string& name() const override { return name_; }
  boost::asio::any_io_executor executor() override { return io_.get_executor(); }
  Logger& log() override { return log_; }
  Json::Value config() const override { return config_; }
  Json::Value core_config(const std::string&) const override { return Json::Value(); }
  KeyValueStore& store() override { return store_; }
  void register_method(const std::string&, Access, MethodHandler) override {}
  void register_upgrade(const std::string&, UpgradeHandler) override {}
  EventBus& events() override { return bus_; }
  GatewayPayments& payments() override { return payments_; }
  void gateways(std::function<void(Json::Value)> done) override {
    boost::asio::post(io_, [done] { done(Json::Value(Json::arrayValue)); });
  }
  void run(std::vector<std::string> argv, std::string input, std::chrono::milliseconds,
           std::function<void(CommandOutcome)> done) override {
    Call call;
    for (const auto& a : argv) call.line += (call.line.empty() ? "" : " ") + a;
    call.input = std::move(input);
    call.wants_outcome = static_cast<bool>(done);
    CommandOutcome outcome;
    outcome.exit_code = 0;
    for (auto& a : answers_) {
      if (a.times == 0 || call.line.rfind(a.prefix, 0) != 0) continue;
      if (a.times > 0) --a.times;
      outcome = a.outcome;
      break;
    }
    calls.push_back(std::move(call));
    pending_.emplace_back(std::move(outcome), std::move(done));
  }
  std::chrono::system_clock::time_point wall_now() const override {
    return std::chrono::system_clock::now();
  }
  std::chrono::steady_clock::time_point now() const override {
    return std::chrono::steady_clock::now();
  }

  Json::Value config_{Json::objectValue};
  std::vector<Call> calls;
  FakeStore store_;
  FakeLogger log_;

 private:
  struct Answer {
    std::string prefix;
    CommandOutcome outcome;
    int times;
  };
  std::string name_ = "forwarding";
  boost::asio::io_context io_;
  FakeBus bus_;
  mnigs::testing::FakePayments payments_;
  std::vector<Answer> answers_;
  std::deque<std::pair<CommandOutcome, std::function<void(CommandOutcome)>>> pending_;
};

// What a done callback received.
struct Result {
  bool called = false;
  std::string error;
  Json::Value params;
};

inline TunnelSession session(std::string id, std::string subscriber, std::string gateway,
                      std::string routing = "") {
  TunnelSession s;
  s.id = std::move(id);
  s.suite = "static-forwarding-free";
  s.subscriber_address = std::move(subscriber);
  s.gateway_address = std::move(gateway);
  if (!routing.empty()) s.params["routing"] = routing;
  return s;
}

inline bool contains(const std::string& text, const std::string& what) {
  return text.find(what) != std::string::npos;
}

class ForwardingTest : public ::testing::Test {
 protected:
  void start(Json::Value overrides = Json::Value(Json::objectValue)) {
    ctx.config_["uplink"] = "";
    ctx.config_["table"] = 65533;
    ctx.config_["priority"] = 31000;
    ctx.config_["restrict"] = true;
    for (const auto& key : overrides.getMemberNames()) ctx.config_[key] = overrides[key];
    plugin = std::make_unique<ForwardingTunnel>(ctx);
    plugin->start();
  }
  Result open(const TunnelSession& s) {
    Result r;
    plugin->open_session(s, [&r](std::string e, Json::Value p) {
      r = {true, std::move(e), std::move(p)};
    });
    ctx.settle();
    return r;
  }
  template <class Call>
  Result call(Call fn) {
    Result r;
    fn([&r](std::string e) { r = {true, std::move(e), {}}; });
    ctx.settle();
    return r;
  }
  Result close(const TunnelSession& s) {
    return call([&](auto done) { plugin->close_session(s, done); });
  }
  Result connect(const TunnelSession& s) {
    return call([&](auto done) { plugin->connect(s, done); });
  }
  Result disconnect(const TunnelSession& s) {
    return call([&](auto done) { plugin->disconnect(s, done); });
  }
  Result reset() {
    return call([&](auto done) { plugin->reset(done); });
  }

  FakeContext ctx;
  std::unique_ptr<ForwardingTunnel> plugin;
};

}  // namespace mnigs::forwarding::testing
