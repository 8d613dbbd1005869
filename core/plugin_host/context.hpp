// PluginHost's insides, shared by its source files: the record it keeps of
// each plugin, and the PluginContext each plugin gets (context.cpp). Not a
// public header: only core/plugin_host/ includes it.
#pragma once

#include "plugin_host/host.hpp"

#include <mnigs/plugin.hpp>

#include <boost/asio/strand.hpp>

#include <functional>
#include <memory>
#include <mutex>
#include <string>

namespace mnigs {

struct PluginHost::Record {
  PluginLibrary lib;
  State state = State::refused;
  std::string error;
  std::string suite_part;  // network() or method(), cached at start
  // Discovery only: whether its last discover() answered without an error
  // (its routing daemon is there). Networks that are not are left out of
  // the suites this node offers and accepts.
  bool available = true;
  // Tunnel only: what was last said in the log about its gateway_key()
  // (tunnel_keys), so that nodeInfo, which anyone may call, repeats nothing.
  std::string key_problem;
  // Likewise for its announce() (services).
  std::string service_problem;
  std::unique_ptr<Context> context;
  Plugin* instance = nullptr;
};

// Collects answers that arrive on different strands into one T: `done` gets
// it, on the thread of the last answer, once each of `askers` and the
// caller itself have called answered() (so it cannot run before the caller
// has asked everyone). Thread-safe.
template <class T>
class Gather {
 public:
  Gather(std::size_t askers, T initial, std::function<void(T)> done)
      : value_(std::move(initial)), remaining_(askers + 1), done_(std::move(done)) {}
  // Runs fn(value) under the lock.
  template <class F>
  void update(F&& fn) {
    std::lock_guard lock(mutex_);
    fn(value_);
  }
  void answered() {
    std::unique_lock lock(mutex_);
    if (--remaining_ != 0) return;
    T out = std::move(value_);
    lock.unlock();
    done_(std::move(out));
  }

 private:
  std::mutex mutex_;
  T value_;
  std::size_t remaining_;
  std::function<void(T)> done_;
};

// What a plugin reaches the daemon through: its strand, logger, config
// section, namespaced store, RPC methods and HTTP upgrades, events and
// commands. Every callback into the plugin runs on its strand, guarded: an
// exception fails the plugin, never the daemon.
class PluginHost::Context final : public PluginContext {
 public:
  Context(PluginHost& host, std::shared_ptr<Record> record)
      : host_(host),
        record_(record),
        name_(record->lib.name),
        strand_(boost::asio::make_strand(host.io_)),
        log_(record->lib.name) {}

  const std::string& name() const override { return name_; }
  boost::asio::any_io_executor executor() override { return strand_; }
  Logger& log() override { return log_; }
  Json::Value config() const override { return host_.config_.get()->section(name_); }
  Json::Value core_config(const std::string& section) const override;
  KeyValueStore& store() override;
  void register_method(const std::string& method, Access access, MethodHandler handler) override;
  void register_upgrade(const std::string& path, UpgradeHandler handler) override;
  EventBus& events() override { return bus_; }
  GatewayPayments& payments() override { return payments_; }
  void gateways(std::function<void(Json::Value)> done) override;
  void run(std::vector<std::string> argv, std::string input, std::chrono::milliseconds timeout,
           std::function<void(CommandOutcome)> done) override;
  std::chrono::system_clock::time_point wall_now() const override {
    return std::chrono::system_clock::now();
  }
  std::chrono::steady_clock::time_point now() const override {
    return std::chrono::steady_clock::now();
  }

 private:
  // The plugin's view of the bus: its handlers run on its strand, guarded.
  class Bus final : public EventBus {
   public:
    explicit Bus(Context& ctx) : ctx_(ctx) {}
    void publish(const std::string& topic, Json::Value data) override {
      ctx_.host_.events_.publish(topic, std::move(data));
    }
    Subscription subscribe(const std::string& topic, Handler handler) override;
    void unsubscribe(Subscription id) override { ctx_.host_.events_.unsubscribe(id); }

   private:
    Context& ctx_;
  };

  // The core's GatewayPayments, with the answers brought to the plugin's
  // strand, guarded.
  class Payments final : public GatewayPayments {
   public:
    explicit Payments(Context& ctx) : ctx_(ctx) {}
    void session_at(const std::string& address, std::function<void(PaymentState)> done) override;
    void redeem(const std::string& address, const std::string& session_id,
                const std::string& code, std::function<void(PaymentState)> done) override;
    void create_vouchers(const Json::Value& params,
                         std::function<void(std::string, Json::Value)> done) override;

   private:
    Context& ctx_;
  };

  // `fn` on the plugin's strand, guarded as an event handler is; dropped
  // when the plugin no longer runs.
  void deliver(std::string what, std::function<void()> fn);

  PluginHost& host_;
  std::weak_ptr<Record> record_;
  std::string name_;
  boost::asio::strand<boost::asio::io_context::executor_type> strand_;
  StderrLogger log_;
  std::unique_ptr<KeyValueStore> kv_;
  Bus bus_{*this};
  Payments payments_{*this};
};

}  // namespace mnigs
