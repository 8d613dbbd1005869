// nodeInfo as the core registers it (rpc/methods/node.cpp), over the test
// plugins in a real host and the daemon's services, none of them started: a
// gateway's reply names the keys its tunnels are pinned by.
#include "dht/service.hpp"
#include "events/event_log.hpp"
#include "gateway/sessions.hpp"
#include "gateway/uplink.hpp"
#include "gateways/gateway_list.hpp"
#include "probe/echo_service.hpp"
#include "rpc/http_server.hpp"
#include "rpc/methods/methods.hpp"
#include "scanner/scanner.hpp"
#include "subscriber/connection.hpp"
#include "subscriber/gateway_key.hpp"
#include "subscriber/lan.hpp"
#include "test_util.hpp"

#include <gtest/gtest.h>
#include <json/reader.h>
#include <json/writer.h>

#include <boost/asio/executor_work_guard.hpp>

#include <algorithm>
#include <cstring>
#include <future>
#include <memory>
#include <optional>
#include <thread>

namespace mnigs {
namespace {

using namespace std::chrono_literals;

class NodeInfoTest : public ::testing::Test {
 protected:
  void SetUp() override {
    declare_core_keys(schema_);
    auto libs = load_plugin_libraries(MNIGS_TEST_PLUGIN_DIR, {}, schema_, log_);
    Json::Value values = defaults(schema_);
    values["gateway"]["enabled"] = true;
    values["gateway"]["payments"] = Json::Value(Json::arrayValue);
    values["gateway"]["payments"].append("fakepay");
    config_ = std::make_unique<ConfigRuntime>(std::make_shared<const Config>("", values));
    config_->schema = schema_;
    store_ = Store::open(dir_.file("state.db"), log_);
    plugins_ = std::make_unique<PluginHost>(io_, config_->holder, store_.get(), events_,
                                            [](const std::string&, Access, MethodHandler) {});
    hooks_ = std::make_unique<Hooks>(config_->holder, log_);
    auto wall = [] { return std::int64_t{1'800'000'000}; };
    event_log_ = std::make_unique<EventLog>(io_, events_, wall);
    sessions_ = std::make_unique<SessionManager>(io_, config_->holder, *store_, *plugins_,
                                                 *hooks_, wall);
    connection_ = std::make_unique<ConnectionManager>(io_, config_->holder, *store_, *plugins_,
                                                      *hooks_, wall);
    scanner_ = std::make_unique<Scanner>(io_, config_->holder, *store_, *plugins_, events_,
                                         "self");
    gateways_ = std::make_unique<GatewayList>(*store_, io_.get_executor());
    dht_ = std::make_unique<DhtService>(io_, config_->holder, *store_, *plugins_, *sessions_);
    echo_ = std::make_unique<probe::EchoService>(io_, os::real_clock());
    uplink_ =
        std::make_unique<UplinkCheck>(io_, config_->holder, os::real_clock(), [](bool) {});
    lan_ = std::make_unique<LanShare>(io_, config_->holder, *store_,
                                      [](os::Command, std::function<void(CommandOutcome)>) {});
    dispatcher_ = std::make_unique<Dispatcher>(registry_);
    http_ = std::make_unique<HttpServer>(
        io_, config_->holder, *dispatcher_,
        [](std::string_view) { return Caller::Token::invalid; }, log_);
    services_ = std::make_unique<CoreServices>(CoreServices{
        *config_, *plugins_, *dispatcher_, *http_, *store_, *sessions_, *connection_, *scanner_,
        *gateways_, *dht_, *echo_, *uplink_, *lan_, std::chrono::steady_clock::now(), "node-id",
        event_log_.get()});
    register_node_methods(registry_, *services_);
    register_event_methods(registry_, *services_);
    register_config_methods(registry_, *services_);
    thread_ = std::thread([this] { io_.run(); });
    plugins_->start(libs);
    std::promise<void> started;
    plugins_->when_started([&] { started.set_value(); });
    ASSERT_EQ(started.get_future().wait_for(5s), std::future_status::ready);
  }
  void TearDown() override {
    event_log_->stop();
    std::promise<void> stopped;
    plugins_->stop([&] { stopped.set_value(); });
    stopped.get_future().wait();
    work_.reset();
    io_.stop();
    thread_.join();
    // As the daemon: what holds strands of io_ goes before it, the store first.
    services_.reset();
    http_.reset();
    event_log_.reset();
    dht_.reset();
    scanner_.reset();
    connection_.reset();
    sessions_.reset();
    lan_.reset();
    uplink_.reset();
    echo_.reset();
    gateways_.reset();
    plugins_.reset();
    store_.reset();
  }

  // An admin method's answer: {"ok": bool, "value": result or error}.
  Json::Value admin_call(const std::string& name, const Json::Value& params) {
    auto method = registry_.find(name);
    EXPECT_TRUE(method);
    if (!method) return Json::Value();
    std::promise<Json::Value> p;
    method->handler(params, CallInfo{"127.0.0.1", "127.0.0.1", true},
                    Responder([&](bool ok, Json::Value v) {
                      Json::Value r(Json::objectValue);
                      r["ok"] = ok;
                      r["value"] = std::move(v);
                      p.set_value(std::move(r));
                    }));
    auto f = p.get_future();
    EXPECT_EQ(f.wait_for(5s), std::future_status::ready);
    return f.get();
  }

  // nodeInfo's result, as a neighbour on the mesh gets it.
  Json::Value node_info() {
    auto method = registry_.find("nodeInfo");
    EXPECT_TRUE(method);
    if (!method) return Json::Value();
    std::promise<Json::Value> p;
    method->handler(Json::Value(), CallInfo{"10.0.0.2", "10.0.0.1", false},
                    Responder([&](bool ok, Json::Value v) {
                      p.set_value(ok ? std::move(v) : Json::Value("error: " + v.toStyledString()));
                    }));
    auto f = p.get_future();
    EXPECT_EQ(f.wait_for(5s), std::future_status::ready);
    return f.get();
  }
  void set(const std::string& section, const std::string& key, Json::Value value) {
    Json::Value v = config_->holder.get()->values();
    v[section][key] = std::move(value);
    config_->holder.set(std::make_shared<const Config>("", v));
  }

  test::TempDir dir_;
  test::RecordingLogger log_;
  Schema schema_;
  boost::asio::io_context io_;
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_{
      io_.get_executor()};
  CoreEventBus events_{io_.get_executor()};
  MethodRegistry registry_;
  std::unique_ptr<ConfigRuntime> config_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<PluginHost> plugins_;
  std::unique_ptr<Hooks> hooks_;
  std::unique_ptr<SessionManager> sessions_;
  std::unique_ptr<ConnectionManager> connection_;
  std::unique_ptr<Scanner> scanner_;
  std::unique_ptr<GatewayList> gateways_;
  std::unique_ptr<DhtService> dht_;
  std::unique_ptr<probe::EchoService> echo_;
  std::unique_ptr<UplinkCheck> uplink_;
  std::unique_ptr<LanShare> lan_;
  std::unique_ptr<Dispatcher> dispatcher_;
  std::unique_ptr<HttpServer> http_;
  std::unique_ptr<EventLog> event_log_;
  std::unique_ptr<CoreServices> services_;
  std::thread thread_;
};

TEST_F(NodeInfoTest, AGatewayNamesTheKeysItsTunnelsArePinnedBy) {
  Json::Value r = node_info();
  ASSERT_TRUE(r.isObject()) << r;
  EXPECT_TRUE(r["gateway"].asBool()) << r;
  EXPECT_NE(std::find(r["suites"].begin(), r["suites"].end(), Json::Value("testnet-fake-fakepay")),
            r["suites"].end())
      << r;
  Json::Value expected(Json::objectValue);
  expected["fake"] = "sha256:" + std::string(64, 'f');
  EXPECT_EQ(r["tunnelKeys"], expected) << r;
  EXPECT_TRUE(r["capacity"].isObject()) << r;
  // What a subscriber makes of the reply: the key, from nodeInfo.
  const GatewayKey key = choose_gateway_key("fake", "10.0.0.1", r, Json::Value());
  EXPECT_EQ(key.key, expected["fake"].asString());
  EXPECT_EQ(key.source, "nodeInfo");
  EXPECT_EQ(key.ignored, "");

  // A tunnel without a key: an empty object, still there.
  set("fake", "gatewayKey", "");
  r = node_info();
  EXPECT_TRUE(r["tunnelKeys"].isObject()) << r;
  EXPECT_TRUE(r["tunnelKeys"].empty()) << r;

  // A key the offer's rules refuse is not published, here either.
  set("fake", "gatewayKey", "sha256:\"quoted\"");
  r = node_info();
  EXPECT_TRUE(r["tunnelKeys"].isObject()) << r;
  EXPECT_TRUE(r["tunnelKeys"].empty()) << r;

  // What it serves beside the suites: none by default, an empty object.
  EXPECT_TRUE(r["services"].isObject()) << r;
  EXPECT_TRUE(r["services"].empty()) << r;
  set("fake", "announce", "http://gw.example:8080/");
  r = node_info();
  EXPECT_EQ(r["services"]["fake"], "http://gw.example:8080/") << r;

  // Not a gateway: no keys and no services at all.
  set("gateway", "enabled", false);
  r = node_info();
  EXPECT_FALSE(r["gateway"].asBool()) << r;
  EXPECT_FALSE(r.isMember("tunnelKeys")) << r;
  EXPECT_FALSE(r.isMember("services")) << r;
}

}  // namespace
}  // namespace mnigs

namespace mnigs {
namespace {

TEST_F(NodeInfoTest, EventsAreLongPolledWithCheckedParams) {
  for (const char* bad : {R"([1])", R"({"after":-1})", R"({"after":"3"})", R"({"after":1.5})",
                          R"({"wait":26})", R"({"wait":-1})", R"({"wait":true})",
                          R"({"since":3})", R"({"wait":18446744073709551615})",
                          R"({"after":18446744073709551616})"}) {
    Json::Value params;
    std::unique_ptr<Json::CharReader> reader(Json::CharReaderBuilder().newCharReader());
    ASSERT_TRUE(reader->parse(bad, bad + std::strlen(bad), &params, nullptr)) << bad;
    auto r = admin_call("events", params);
    EXPECT_EQ(r["ok"], false) << bad;
    EXPECT_EQ(r["value"]["code"], rpc_error::invalid_params) << bad;
  }
  events_.publish("config.changed", Json::Value("subscriber.auto"));
  auto r = admin_call("events", Json::Value());
  ASSERT_EQ(r["ok"], true) << r;
  // The plugins' own events at start come first.
  const Json::Value& events = r["value"]["events"];
  ASSERT_GE(events.size(), 1u) << r;
  const Json::Value& last = events[events.size() - 1];
  EXPECT_EQ(last["topic"], "config.changed");
  EXPECT_EQ(last["data"], "subscriber.auto");
  EXPECT_EQ(last["seq"], r["value"]["next"]);
  EXPECT_EQ(r["value"]["time"], 1'800'000'000);
  Json::Value params(Json::objectValue);
  params["after"] = r["value"]["next"];
  params["wait"] = 1;
  // Waits up to a second for the next; whatever comes is new.
  auto waited = admin_call("events", params);
  ASSERT_EQ(waited["ok"], true) << waited;
  for (const auto& e : waited["value"]["events"])
    EXPECT_GT(e["seq"].asInt64(), params["after"].asInt64());
}

TEST_F(NodeInfoTest, GetConfigDescribesEachKeyForAForm) {
  Json::Value params(Json::objectValue);
  params["describe"] = true;
  auto r = admin_call("getConfig", params);
  ASSERT_EQ(r["ok"], true) << r;
  const Json::Value& daemon = r["value"]["values"]["daemon"];
  EXPECT_EQ(daemon["webuiLoginIdle"]["kind"], "integer");
  EXPECT_EQ(daemon["webuiLoginIdle"]["min"], 60);
  EXPECT_EQ(daemon["webuiLoginIdle"]["max"], 86400);
  EXPECT_EQ(daemon["webuiLoginIdle"]["live"], true);
  EXPECT_EQ(daemon["webuiLoginIdle"]["default"], 3600);
  EXPECT_EQ(daemon["logLevel"]["kind"], "string");
  ASSERT_EQ(daemon["logLevel"]["choices"].size(), 4u);
  EXPECT_EQ(daemon["logLevel"]["choices"][0], "error");
  EXPECT_FALSE(daemon["webuiDir"].isMember("choices"));
  EXPECT_EQ(daemon["webuiDir"]["fileOnly"], true);
  EXPECT_EQ(daemon["rpcCorsOrigins"]["kind"], "cidr_list");
  EXPECT_EQ(daemon["listenIpv4"]["kind"], "address");
  EXPECT_EQ(r["value"]["values"]["gateway"]["enabled"]["kind"], "boolean");
  EXPECT_FALSE(r["value"]["values"]["gateway"]["enabled"].isMember("min"));
}

TEST_F(NodeInfoTest, StatusTellsTheDaemonsClock) {
  auto r = admin_call("status", Json::Value());
  ASSERT_EQ(r["ok"], true) << r;
  const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  EXPECT_NEAR(static_cast<double>(r["value"]["time"].asInt64()), static_cast<double>(now), 5.0);
}

}  // namespace
}  // namespace mnigs
