// Fakes for a plugin's own unit tests: a PluginContext on a private
// io_context, whose log, store, events, registered methods and commands the
// test can read. Single-threaded: the test drives the io_context itself
// (ctx.poll() or ctx.run_for()).
//
//   mnigs::testing::FakeContext ctx("babel");
//   ctx.config_["port"] = 33123;
//   MyPlugin p(ctx);
//   p.start();
//   ctx.run_for(100ms);
#pragma once

#include <mnigs/plugin.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include <chrono>
#include <deque>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace mnigs::testing {

// Records the keys a plugin declares, for tests of its declarations.
class RecordingDeclarer : public ConfigDeclarer {
 public:
  void declare(KeySpec spec) override { keys.push_back(std::move(spec)); }
  // The key called `name`; throws std::out_of_range when none is.
  const KeySpec& at(const std::string& name) const {
    for (const auto& k : keys)
      if (k.name == name) return k;
    throw std::out_of_range(name);
  }
  std::vector<KeySpec> keys;
};

class FakeLogger : public Logger {
 public:
  bool enabled(LogLevel) const override { return true; }
  void write(LogLevel, std::string_view message) override { lines.emplace_back(message); }
  // True if some line contains `text`.
  bool saw(std::string_view text) const {
    for (const auto& l : lines)
      if (l.find(text) != std::string::npos) return true;
    return false;
  }
  std::vector<std::string> lines;
};

class FakeStore : public KeyValueStore {
 public:
  void get(std::string key, std::function<void(std::optional<std::string>)> done) override {
    auto it = rows.find(key);
    done(it == rows.end() ? std::nullopt : std::optional<std::string>(it->second));
  }
  void put(std::string key, std::string value, std::function<void(bool)> done) override {
    if (!fail_puts) rows[key] = std::move(value);
    if (done) done(!fail_puts);
  }
  void erase(std::string key, std::function<void(bool)> done) override {
    rows.erase(key);
    if (done) done(true);
  }
  void list(std::string prefix, std::function<void(std::vector<Row>)> done) override {
    std::vector<Row> out;
    for (const auto& [k, v] : rows)
      if (k.rfind(prefix, 0) == 0) out.emplace_back(k, v);
    done(out);
  }
  std::map<std::string, std::string> rows;
  bool fail_puts = false;  // a full disk, say: put() writes nothing and says so
};

// Records what is published; subscribers are not called by publish(),
// only by fire(), which a test calls as the daemon would publish.
class FakeBus : public EventBus {
 public:
  void publish(const std::string& topic, Json::Value data) override {
    published.emplace_back(topic, std::move(data));
  }
  Subscription subscribe(const std::string& topic, Handler handler) override {
    handlers_[++last_] = {topic, std::move(handler)};
    return last_;
  }
  void unsubscribe(Subscription id) override { handlers_.erase(id); }
  // Calls the handlers subscribed to exactly `topic` (or "*").
  void fire(const std::string& topic, const Json::Value& data) {
    const auto now = handlers_;
    for (const auto& [id, h] : now)
      if (h.first == topic || h.first == "*") h.second(topic, data);
  }
  std::vector<std::pair<std::string, Json::Value>> published;

 private:
  Subscription last_ = 0;
  std::map<Subscription, std::pair<std::string, Handler>> handlers_;
};

// The gateway's sessions and vouchers as a test scripts them: sessions by
// address, what redeeming each code gives; every call recorded. Answers at
// once, on the caller's thread.
class FakePayments : public GatewayPayments {
 public:
  std::map<std::string, PaymentState> sessions;  // by address
  std::map<std::string, PaymentState> codes;     // redeem's answer by code as typed
  std::vector<std::string> redeemed;             // "address session code"
  std::vector<Json::Value> created;              // create_vouchers' params
  Json::Value create_answer{Json::objectValue};
  std::string create_error;

  void session_at(const std::string& address, std::function<void(PaymentState)> done) override {
    auto it = sessions.find(address);
    done(it == sessions.end() ? PaymentState{} : it->second);
  }
  void redeem(const std::string& address, const std::string& session_id,
              const std::string& code, std::function<void(PaymentState)> done) override {
    redeemed.push_back(address + " " + session_id + " " + code);
    auto it = codes.find(code);
    if (it != codes.end()) return done(it->second);
    PaymentState refused;
    refused.error = "no such voucher";
    done(refused);
  }
  void create_vouchers(const Json::Value& params,
                       std::function<void(std::string, Json::Value)> done) override {
    created.push_back(params);
    done(create_error, create_answer);
  }
};

class FakeContext : public PluginContext {
 public:
  explicit FakeContext(std::string name) : name_(std::move(name)) {}

  // Commands given to run(): argv joined by spaces. Each completes at the next
  // poll with `answer` (exit 0, no output unless set for its first word).
  std::vector<std::string> commands;
  std::map<std::string, CommandOutcome> answer;  // by argv[0]

  void poll() {
    io_.restart();
    io_.poll();
  }
  void run_for(std::chrono::milliseconds d) {
    io_.restart();
    io_.run_for(d);
  }
  boost::asio::io_context& io() { return io_; }

  const std::string& name() const override { return name_; }
  boost::asio::any_io_executor executor() override { return io_.get_executor(); }
  Logger& log() override { return log_; }
  Json::Value config() const override { return config_; }
  // `core_sections[section]`, as a test set it.
  Json::Value core_config(const std::string& section) const override {
    return core_sections.isMember(section) ? core_sections[section] : Json::Value();
  }
  KeyValueStore& store() override { return store_; }
  void register_method(const std::string& method, Access, MethodHandler handler) override {
    methods[method] = std::move(handler);
  }
  void register_upgrade(const std::string& path, UpgradeHandler handler) override {
    upgrades[path] = std::move(handler);
  }
  EventBus& events() override { return bus_; }
  GatewayPayments& payments() override { return payments_; }
  // Answers with `known_gateways`, at the next poll.
  void gateways(std::function<void(Json::Value)> done) override {
    boost::asio::post(io_, [done, list = known_gateways] { done(list); });
  }
  void run(std::vector<std::string> argv, std::string, std::chrono::milliseconds,
           std::function<void(CommandOutcome)> done) override {
    std::string line;
    for (const auto& a : argv) line += (line.empty() ? "" : " ") + a;
    commands.push_back(line);
    CommandOutcome outcome;
    outcome.exit_code = 0;
    if (!argv.empty())
      if (auto it = answer.find(argv[0]); it != answer.end()) outcome = it->second;
    if (done) boost::asio::post(io_, [done, outcome] { done(outcome); });
  }
  std::chrono::system_clock::time_point wall_now() const override {
    return std::chrono::system_clock::now();
  }
  std::chrono::steady_clock::time_point now() const override {
    return std::chrono::steady_clock::now();
  }

  Json::Value config_{Json::objectValue};
  Json::Value known_gateways{Json::arrayValue};  // what gateways() answers
  Json::Value core_sections{Json::objectValue};  // what core_config() answers
  std::map<std::string, MethodHandler> methods;
  std::map<std::string, UpgradeHandler> upgrades;
  FakeStore store_;
  FakeLogger log_;
  FakeBus bus_;
  FakePayments payments_;

 private:
  std::string name_;
  boost::asio::io_context io_;
};

}  // namespace mnigs::testing
