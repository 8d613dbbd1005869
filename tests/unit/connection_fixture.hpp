// The subscriber's connection manager under test, on a hand-moved clock:
// a fake gateway on loopback, the fake tunnel plugin, and for auto mode two
// fake gateways each with a real probe echo service on its port, whose
// probes run on a hand-moved clock of their own. Shared by
// connection_test.cpp and auto_mode_test.cpp.
#pragma once

#include "probe/echo_service.hpp"
#include "store/sqlite.hpp"
#include "subscriber/connection.hpp"
#include "test_util.hpp"

#include <fake_peer.hpp>
#include <manual_clock.hpp>

#include <gtest/gtest.h>
#include <json/reader.h>

#include <boost/asio/executor_work_guard.hpp>

#include <fstream>
#include <future>
#include <mutex>
#include <sstream>
#include <thread>
#include <vector>

namespace mnigs::subscriber_test {

using namespace std::chrono_literals;
using test::eventually;
using testing::Answer;
using testing::error_body;
using testing::FakePeer;
using testing::http_reply;
using testing::result_body;

constexpr const char* kSuite = "testnet-fake-fakepay";
constexpr const char* kSessionId = "0123456789abcdef0123456789abcdef";

struct Reply {
  bool ok = false;
  Json::Value payload;
};

// Null for what is not JSON (the bulk test's upgrade request, say).
inline Json::Value parse(const std::string& text) {
  Json::Value v;
  try {
    std::istringstream(text) >> v;
  } catch (const Json::Exception&) {
    return Json::Value();
  }
  return v;
}

// A gateway that speaks just enough of the protocol: nodeInfo,
// requestConnection, renewConnection and releaseConnection. What renewals get
// is set by the test. Requests are read back from the peer.
class FakeGateway {
 public:
  explicit FakeGateway(const std::string& address = "127.0.0.1")
      : peer_(address, [this](const testing::Request& r) { return answer(parse(r.body())); }) {}

  std::uint16_t port() const { return peer_.port(); }
  // Sets what renewConnection answers: the seconds granted, or an error.
  void grant_renewals(int timeout) {
    std::lock_guard lock(mutex_);
    renew_timeout_ = timeout;
    renew_error_ = 0;
  }
  // What renewals say of the gateway's uplink.
  void report_uplink(bool up) {
    std::lock_guard lock(mutex_);
    uplink_ = up;
  }
  void refuse_renewals(int code) {
    std::lock_guard lock(mutex_);
    renew_error_ = code;
  }
  // Members set in requestConnection's "tunnel" object, over the usual ones.
  void send_tunnel(const Json::Value& members) {
    std::lock_guard lock(mutex_);
    tunnel_extra_ = members;
  }
  // Members set in nodeInfo's reply, over the usual ones ("tunnelKeys", "dht").
  void send_node_info(const Json::Value& members) {
    std::lock_guard lock(mutex_);
    node_info_extra_ = members;
  }
  // The params of each call of `method` so far.
  std::vector<Json::Value> calls(const std::string& method) const {
    std::vector<Json::Value> out;
    for (const auto& r : peer_.requests()) {
      Json::Value v = parse(r.body());
      if (v["method"] == method) out.push_back(v["params"]);
    }
    return out;
  }

 private:
  Answer answer(const Json::Value& request) {
    std::lock_guard lock(mutex_);
    const std::string method = request["method"].asString();
    Json::Value r(Json::objectValue);
    if (method == "nodeInfo") {
      r["id"] = "gw-id";
      r["name"] = "gw";
      r["gateway"] = true;
      r["suites"].append("babel-websocket-free");
      r["suites"].append(kSuite);
      for (const auto& key : node_info_extra_.getMemberNames()) r[key] = node_info_extra_[key];
    } else if (method == "requestConnection") {
      r["sessionId"] = kSessionId;
      r["secret"] = std::string(64, 's');
      r["timeout"] = 60;
      r["tunnel"]["mode"] = "fake";
      for (const auto& key : tunnel_extra_.getMemberNames()) r["tunnel"][key] = tunnel_extra_[key];
    } else if (method == "renewConnection") {
      if (renew_error_)
        return Answer{http_reply(200, error_body(renew_error_, "no such session"))};
      r["timeout"] = renew_timeout_;
      r["uplink"] = uplink_;
    } else if (method == "releaseConnection") {
      r["released"] = true;
    } else {
      return Answer{http_reply(200, error_body(rpc_error::method_not_found, method))};
    }
    return Answer{http_reply(200, result_body(r))};
  }

  FakePeer peer_;
  std::mutex mutex_;
  int renew_timeout_ = 60;
  int renew_error_ = 0;
  bool uplink_ = true;
  Json::Value tunnel_extra_{Json::objectValue};
  Json::Value node_info_extra_{Json::objectValue};
};

class ConnectionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    declare_core_keys(schema_);
    auto libs = load_plugin_libraries(MNIGS_TEST_PLUGIN_DIR, {}, schema_, log_);
    Json::Value values = defaults(schema_);
    values["subscriber"]["onDisconnect"] = "echo \"$MNIGS_REASON\" >> " + dir_.file("down");
    config_ = std::make_unique<ConfigHolder>(std::make_shared<const Config>("", values));
    store_ = Store::open(dir_.file("state.db"), log_);
    hooks_ = std::make_unique<Hooks>(*config_, log_);
    plugins_ = std::make_unique<PluginHost>(io_, *config_, store_.get(), events_,
                                            [](const std::string&, Access, MethodHandler) {});
    thread_ = std::thread([this] { io_.run(); });
    plugins_->start(libs);
    wait([&](auto done) { plugins_->when_started(done); });
    ASSERT_NE(gateway_->port(), 0);
    manager_ = make_manager();
  }
  // As the daemon does: a manager is destroyed only once the io thread has
  // stopped, since a call it made may still complete after stop().
  void TearDown() override {
    if (manager_) wait([&](auto done) { manager_->stop(done); });
    if (manager_) stopped_.push_back(std::move(manager_));
    hooks_->drain();
    std::promise<void> stopped;
    plugins_->stop([&] { stopped.set_value(); });
    stopped.get_future().wait();
    work_.reset();
    io_.stop();
    thread_.join();
    stopped_.clear();
    plugins_.reset();
    // Before io_ goes: the store's worker may still hold a query whose
    // completion carries a strand of io_, and destroys it when it finishes.
    store_.reset();
  }

  std::unique_ptr<ConnectionManager> make_manager(bool start = true) {
    auto m = std::make_unique<ConnectionManager>(
        io_, *config_, *store_, *plugins_, *hooks_, [this] { return clock_.unix_seconds(); },
        clock_);
    // Probes on a clock of their own, so that the renewal timer is the only
    // one clock_ has.
    ConnectionManager::Environment env;
    env.events = &events_;
    env.probe_clock = &probe_clock_;
    env.list_gateways = [this](std::function<void(Json::Value)> done) {
      std::lock_guard lock(gateways_mutex_);
      done(gateways_);
    };
    m->set_environment(env);
    if (start) wait([&](auto done) { m->start(done); });
    return m;
  }
  // As the daemon stops and starts again: the tunnel goes down, the record stays.
  void restart() {
    wait([&](auto done) { manager_->stop(done); });
    stopped_.push_back(std::move(manager_));
    store_->flush();
    manager_ = make_manager();
  }

  template <class F>
  void wait(F start) {
    std::promise<void> p;
    start([&] { p.set_value(); });
    ASSERT_EQ(p.get_future().wait_for(5s), std::future_status::ready);
  }
  template <class F>
  Reply ask(F call) {
    auto p = std::make_shared<std::promise<Reply>>();
    call(Responder([p](bool ok, Json::Value v) { p->set_value(Reply{ok, std::move(v)}); }));
    auto f = p->get_future();
    if (f.wait_for(10s) != std::future_status::ready) return Reply{false, "no answer"};
    return f.get();
  }

  Reply connect() {
    Json::Value p(Json::objectValue);
    p["address"] = "127.0.0.1";
    p["port"] = gateway_->port();
    return ask([&](Responder r) { manager_->connect(p, r); });
  }
  Json::Value describe() {
    std::promise<Json::Value> p;
    manager_->describe([&](Json::Value v) { p.set_value(v); });
    return p.get_future().get();
  }
  std::string state() { return describe()["state"].asString(); }
  Json::Value tunnel_status() {
    std::promise<Json::Value> p;
    plugins_->describe([&](Json::Value v) { p.set_value(v); });
    for (const auto& plugin : p.get_future().get())
      if (plugin["name"] == "fake") return plugin["status"];
    return Json::Value();
  }
  // The reasons the onDisconnect hook was given, one a line.
  std::string disconnect_reasons() const {
    std::ifstream in(dir_.file("down"));
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }
  std::size_t renewals() const { return gateway_->calls("renewConnection").size(); }
  // The session id a start would resume, "" for none.
  std::string stored_session() {
    return store_->call<std::string>([](sqlite3* db) {
      Statement st(db, "SELECT session_id FROM subscriber_connection WHERE id = 1");
      return st.step() ? st.column_text(0) : std::string();
    });
  }

  test::TempDir dir_;
  test::RecordingLogger log_;
  Schema schema_;
  testing::ManualClock clock_;
  testing::ManualClock probe_clock_;
  std::mutex gateways_mutex_;
  Json::Value gateways_{Json::arrayValue};  // what auto mode's gateway list holds
  std::unique_ptr<FakeGateway> gateway_ = std::make_unique<FakeGateway>();
  std::unique_ptr<ConfigHolder> config_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<Hooks> hooks_;
  boost::asio::io_context io_;
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_{
      io_.get_executor()};
  CoreEventBus events_{io_.get_executor()};
  std::unique_ptr<PluginHost> plugins_;
  std::unique_ptr<ConnectionManager> manager_;
  std::vector<std::unique_ptr<ConnectionManager>> stopped_;  // destroyed after the io thread
  std::thread thread_;
};

// Auto mode with two gateways: "a" on 127.0.0.1 (nearest by the scan) and
// "b" on 127.0.0.2. Each answers probes through a real echo service on its
// port while the test lets it.
class AutoModeTest : public ConnectionTest {
 protected:
  void SetUp() override {
    ConnectionTest::SetUp();
    for (auto* echo : {&echo_a_, &echo_b_}) echo->hold("s", {lo1_, lo2_});
    ASSERT_EQ(echo_a_.listen({udp(lo1_, gateway_->port())}), "");
    ASSERT_EQ(echo_b_.listen({udp(lo2_, gateway_b_->port())}), "");
    std::lock_guard lock(gateways_mutex_);
    gateways_.append(entry("127.0.0.1", gateway_->port(), "a", 1));
    gateways_.append(entry("127.0.0.2", gateway_b_->port(), "b", 5));
    events_.subscribe("subscriber.", [this](const std::string& topic, const Json::Value& data) {
      std::lock_guard lock(events_mutex_);
      events_seen_.push_back(topic + " " + data["gateway"].asString() + data["from"].asString());
    });
  }
  void TearDown() override {
    ConnectionTest::TearDown();
    echo_a_.stop();
    echo_b_.stop();
  }
  static boost::asio::ip::udp::endpoint udp(const boost::asio::ip::address& a, std::uint16_t p) {
    return {a, p};
  }
  static Json::Value entry(const std::string& address, std::uint16_t port, const std::string& name,
                           double rtt) {
    Json::Value g(Json::objectValue);
    g["address"] = address;
    g["port"] = port;
    g["name"] = name;
    g["suites"].append(kSuite);
    g["rtt"] = rtt;
    g["current"] = true;
    return g;
  }
  // Auto mode on or off; without a standby unless `standby`.
  void set_auto(bool on, int standby = 0) {
    Json::Value v = config_->get()->values();
    v["subscriber"]["auto"] = on;
    v["subscriber"]["holdDown"] = 30;
    v["subscriber"]["standby"] = standby;
    config_->set(std::make_shared<const Config>("", v));
  }
  // The routing of each connect the fake tunnel was asked for: "GATEWAY ROUTING".
  std::vector<std::string> routings() {
    std::vector<std::string> out;
    const Json::Value status = tunnel_status();
    for (const auto& r : status["routings"]) out.push_back(r.asString());
    return out;
  }
  bool asked(const std::string& routing) {
    auto r = routings();
    return std::find(r.begin(), r.end(), routing) != r.end();
  }
  std::string connected_to() {
    auto d = describe();
    return d["state"] == "connected" ? d["connection"]["gatewayAddress"].asString() : "";
  }
  std::string health() { return describe()["health"]["health"].asString(); }
  // Moves the probes' clock one interval at a time until `done`, at most 30 steps.
  template <class Pred>
  bool probe_until(Pred done) {
    for (int i = 0; i < 30; ++i) {
      if (eventually_short(done)) return true;
      probe_clock_.advance(200ms);
    }
    return false;
  }
  template <class Pred>
  static bool eventually_short(Pred done) {
    for (int i = 0; i < 20; ++i) {
      if (done()) return true;
      std::this_thread::sleep_for(5ms);
    }
    return false;
  }
  // testGateway, with the probes' clock moved along: 25 probes 50 ms apart,
  // then a second for the last answers.
  Reply test_gateway(const Json::Value& params) {
    auto pending = std::async(std::launch::async, [&] {
      return ask([&](Responder r) { manager_->test_gateway(params, r); });
    });
    for (int i = 0; i < 60 && pending.wait_for(0s) != std::future_status::ready; ++i) {
      std::this_thread::sleep_for(10ms);
      probe_clock_.advance(50ms);
    }
    return pending.get();
  }
  std::vector<std::string> events_seen() {
    std::lock_guard lock(events_mutex_);
    return events_seen_;
  }

  const boost::asio::ip::address lo1_ = boost::asio::ip::make_address("127.0.0.1");
  const boost::asio::ip::address lo2_ = boost::asio::ip::make_address("127.0.0.2");
  std::unique_ptr<FakeGateway> gateway_b_ = std::make_unique<FakeGateway>("127.0.0.2");
  probe::EchoService echo_a_{io_, probe_clock_};
  probe::EchoService echo_b_{io_, probe_clock_};
  std::mutex events_mutex_;
  std::vector<std::string> events_seen_;
};

}  // namespace mnigs::subscriber_test
