// The subscriber's connection on a hand-moved clock, against a fake gateway on
// loopback and the fake tunnel plugin: renewal at a third of the timeout,
// teardown when a renewal is refused or nothing answers until expiry, the
// connection kept across a restart (or reported expired), and disconnect.
// Auto mode: two fake gateways, each with a real probe echo service on its
// port; the probes run on a hand-moved clock of their own.
#include "probe/echo_service.hpp"
#include "store/sqlite.hpp"
#include "subscriber/connection.hpp"
#include "subscriber/grant.hpp"
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

namespace mnigs {
namespace {

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
Json::Value parse(const std::string& text) {
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

TEST_F(ConnectionTest, ConnectPicksTheCommonSuiteAndBringsTheTunnelUp) {
  const std::int64_t t0 = clock_.unix_seconds();
  Reply r = connect();
  ASSERT_TRUE(r.ok) << r.payload.toStyledString();
  EXPECT_EQ(r.payload["state"], "connected");
  EXPECT_EQ(r.payload["suite"], kSuite);
  EXPECT_EQ(r.payload["created"].asInt64(), t0);
  EXPECT_EQ(r.payload["expires"].asInt64(), t0 + 60);
  EXPECT_FALSE(r.payload.isMember("secret"));
  EXPECT_EQ(tunnel_status()["connected"][0], kSessionId);
  ASSERT_EQ(gateway_->calls("requestConnection").size(), 1u);
  EXPECT_EQ(gateway_->calls("requestConnection")[0]["suite"], kSuite);
}

TEST_F(ConnectionTest, RenewsAtAThirdOfTheTimeoutAndExtendsTheSession) {
  const std::int64_t t0 = clock_.unix_seconds();
  ASSERT_TRUE(connect().ok);
  // One timer, due at a third of the 60 s granted.
  EXPECT_EQ(clock_.waiting(), 1u);
  EXPECT_DOUBLE_EQ(clock_.seconds_to_next(), 20.0);
  EXPECT_EQ(clock_.advance(19s), 0u);
  EXPECT_EQ(renewals(), 0u);

  gateway_->grant_renewals(90);
  EXPECT_EQ(clock_.advance(1s), 1u);
  ASSERT_TRUE(eventually([&] { return describe()["connection"]["expires"] == t0 + 20 + 90; }))
      << describe().toStyledString();
  ASSERT_EQ(renewals(), 1u);
  EXPECT_EQ(gateway_->calls("renewConnection")[0]["sessionId"], kSessionId);
  EXPECT_EQ(gateway_->calls("renewConnection")[0]["secret"], std::string(64, 's'));
  EXPECT_EQ(describe()["connection"]["timeout"], 90);
  EXPECT_EQ(state(), "connected");

  // The next renewal follows the new grant: a third of 90 s.
  ASSERT_TRUE(eventually([&] { return clock_.waiting() == 1; }));
  EXPECT_DOUBLE_EQ(clock_.seconds_to_next(), 30.0);
  EXPECT_EQ(clock_.advance(30s), 1u);
  ASSERT_TRUE(eventually([&] { return renewals() == 2; }));
  ASSERT_TRUE(eventually([&] { return describe()["connection"]["expires"] == t0 + 50 + 90; }));

  // What a restart would resume is the renewed session.
  restart();
  EXPECT_EQ(describe()["connection"]["expires"].asInt64(), t0 + 50 + 90);
}

TEST_F(ConnectionTest, RefusedRenewalTearsDownAndForgetsTheConnection) {
  ASSERT_TRUE(connect().ok);
  gateway_->refuse_renewals(rpc_error::not_found);
  clock_.advance(20s);
  ASSERT_TRUE(eventually([&] { return state() == "idle"; }));
  Json::Value d = describe();
  EXPECT_TRUE(d["connection"].isNull());
  EXPECT_NE(d["lastError"].asString().find("refused to renew"), std::string::npos) << d;
  EXPECT_EQ(tunnel_status()["disconnected"][0], kSessionId);
  ASSERT_TRUE(eventually([&] { return !disconnect_reasons().empty(); }));
  EXPECT_NE(disconnect_reasons().find("refused to renew"), std::string::npos);
  EXPECT_EQ(clock_.waiting(), 0u);  // no renewal left behind

  // Nothing to resume after a restart.
  restart();
  EXPECT_EQ(state(), "idle");
  EXPECT_EQ(tunnel_status()["connected"].size(), 1u);
  EXPECT_EQ(renewals(), 1u);
}

TEST_F(ConnectionTest, AGoneGatewayIsRetriedAndTheConnectionEndsWhenTheSessionExpires) {
  const std::int64_t t0 = clock_.unix_seconds();
  ASSERT_TRUE(connect().ok);
  gateway_.reset();  // the gateway is gone: every renewal fails to connect
  std::int64_t last_attempt = 0;
  for (int i = 0; i < 30 && state() == "connected"; ++i) {
    ASSERT_TRUE(eventually([&] { return clock_.waiting() == 1 || state() != "connected"; }));
    if (state() != "connected") break;
    // Retries come within 5 s, sooner as the expiry nears, and never after it.
    if (i > 0) {
      EXPECT_LE(clock_.seconds_to_next(), 5.0);
    }
    EXPECT_LE(clock_.unix_seconds() + clock_.seconds_to_next(), t0 + 60);
    clock_.advance(std::chrono::duration_cast<std::chrono::steady_clock::duration>(
        std::chrono::duration<double>(clock_.seconds_to_next())));
    last_attempt = clock_.unix_seconds();
    ASSERT_TRUE(eventually([&] {
      return clock_.waiting() == 1 || state() != "connected";
    }));
  }
  ASSERT_TRUE(eventually([&] { return state() == "idle"; }));
  EXPECT_EQ(last_attempt, t0 + 60);  // torn down when the session expired, not before
  Json::Value d = describe();
  EXPECT_NE(d["lastError"].asString().find("did not answer until the session expired"),
            std::string::npos)
      << d;
  EXPECT_EQ(tunnel_status()["disconnected"][0], kSessionId);
  ASSERT_TRUE(eventually([&] { return !disconnect_reasons().empty(); }));
  EXPECT_NE(disconnect_reasons().find("did not answer"), std::string::npos);
}

TEST_F(ConnectionTest, ABusyGatewayIsAskedAgainNotLeft) {
  const std::int64_t t0 = clock_.unix_seconds();
  ASSERT_TRUE(connect().ok);
  gateway_->refuse_renewals(rpc_error::unavailable);
  clock_.advance(20s);
  ASSERT_TRUE(eventually([&] { return renewals() == 1 && clock_.waiting() == 1; }));
  EXPECT_EQ(state(), "connected");
  EXPECT_LE(clock_.seconds_to_next(), 5.0);
  gateway_->grant_renewals(60);
  clock_.advance(std::chrono::duration_cast<std::chrono::steady_clock::duration>(
      std::chrono::duration<double>(clock_.seconds_to_next())));
  ASSERT_TRUE(eventually([&] { return renewals() == 2; }));
  ASSERT_TRUE(eventually([&] {
    return describe()["connection"]["expires"] == clock_.unix_seconds() + 60;
  }));
  EXPECT_GT(describe()["connection"]["expires"].asInt64(), t0 + 60);
  EXPECT_EQ(describe()["lastError"], "");
  EXPECT_TRUE(disconnect_reasons().empty());
}

TEST_F(ConnectionTest, AStoredConnectionIsResumedWhileItIsValid) {
  const std::int64_t t0 = clock_.unix_seconds();
  ASSERT_TRUE(connect().ok);
  wait([&](auto done) { manager_->stop(done); });
  EXPECT_EQ(tunnel_status()["disconnected"].size(), 1u);
  stopped_.push_back(std::move(manager_));
  store_->flush();
  clock_.advance(50s);  // mnigsd was down for 50 s of the 60 granted

  manager_ = make_manager();
  EXPECT_EQ(state(), "connected");
  EXPECT_EQ(tunnel_status()["connected"].size(), 2u);
  // The session is proven at once, not at the next third.
  ASSERT_TRUE(eventually([&] { return renewals() == 1; }));
  ASSERT_TRUE(eventually([&] { return describe()["connection"]["expires"] == t0 + 50 + 60; }));
  EXPECT_EQ(describe()["connection"]["created"].asInt64(), t0);
  ASSERT_TRUE(eventually([&] { return clock_.waiting() == 1; }));
  EXPECT_DOUBLE_EQ(clock_.seconds_to_next(), 20.0);
  EXPECT_TRUE(disconnect_reasons().empty());
}

TEST_F(ConnectionTest, AStoredConnectionThatLapsedIsReportedExpiredAndDropped) {
  ASSERT_TRUE(connect().ok);
  wait([&](auto done) { manager_->stop(done); });
  stopped_.push_back(std::move(manager_));
  store_->flush();
  clock_.advance(60s);  // down until the session expired

  manager_ = make_manager();
  Json::Value d = describe();
  EXPECT_EQ(d["state"], "idle");
  EXPECT_TRUE(d["connection"].isNull());
  EXPECT_NE(d["lastError"].asString().find("expired while mnigsd was not running"),
            std::string::npos)
      << d;
  EXPECT_EQ(tunnel_status()["connected"].size(), 1u);  // not brought up again
  EXPECT_EQ(renewals(), 0u);
  EXPECT_EQ(clock_.waiting(), 0u);
  ASSERT_TRUE(eventually([&] { return !disconnect_reasons().empty(); }));
  EXPECT_NE(disconnect_reasons().find("expired while mnigsd was not running"), std::string::npos);

  // Reported once: the record is gone.
  restart();
  EXPECT_EQ(describe()["lastError"], "");
  EXPECT_EQ(state(), "idle");
}

TEST_F(ConnectionTest, DisconnectReleasesTheSessionAndStopsRenewing) {
  ASSERT_TRUE(connect().ok);
  Reply r = ask([&](Responder reply) { manager_->disconnect(reply); });
  ASSERT_TRUE(r.ok) << r.payload;
  EXPECT_TRUE(r.payload["disconnected"].asBool());
  EXPECT_TRUE(r.payload["released"].asBool());
  auto released = gateway_->calls("releaseConnection");
  ASSERT_EQ(released.size(), 1u);
  EXPECT_EQ(released[0]["sessionId"], kSessionId);
  EXPECT_EQ(released[0]["secret"], std::string(64, 's'));
  EXPECT_EQ(tunnel_status()["disconnected"][0], kSessionId);
  Json::Value d = describe();
  EXPECT_EQ(d["state"], "idle");
  EXPECT_EQ(d["lastError"], "");  // the operator's choice is not an error

  EXPECT_EQ(clock_.advance(60s), 0u);
  EXPECT_EQ(renewals(), 0u);
  ASSERT_TRUE(eventually([&] { return !disconnect_reasons().empty(); }));
  EXPECT_NE(disconnect_reasons().find("disconnected by the operator"), std::string::npos);

  restart();
  EXPECT_EQ(state(), "idle");
  EXPECT_EQ(describe()["lastError"], "");  // nothing stored, not even an expired record
  EXPECT_EQ(tunnel_status()["connected"].size(), 1u);

  // A second disconnect has nothing to release.
  Reply again = ask([&](Responder reply) { manager_->disconnect(reply); });
  EXPECT_FALSE(again.ok);
  EXPECT_EQ(again.payload["code"], rpc_error::conflict);
}

// ---------------------------------------------------------------- what a gateway grants

Json::Value grant() {
  Json::Value g(Json::objectValue);
  g["sessionId"] = "0123456789abcdef";
  g["secret"] = std::string(64, 's');
  g["timeout"] = 300;
  g["tunnel"]["path"] = "/mnigs/ws";
  g["tunnel"]["token"] = std::string(32, 't');
  g["tunnel"]["mtu"] = 1400;
  g["tunnel"]["address4"] = "10.98.0.2";
  g["tunnel"]["prefix4"] = 24;
  g["tunnel"]["gateway4"] = "10.98.0.1";
  g["tunnel"]["address6"] = "fd98::2";
  g["tunnel"]["prefix6"] = 64;
  g["tunnel"]["gateway6"] = "fd98::1";
  return g;
}

TEST(Grant, AWellFormedGrantPasses) {
  EXPECT_EQ(check_grant(grant()), "");
  EXPECT_EQ(check_tunnel_params(grant()["tunnel"], "10.77.1.1", {"10.77.2.2", "fd77::2"}), "");
}

TEST(Grant, EveryMalformedFieldIsRefusedWithAReason) {
  const std::vector<std::pair<const char*, std::function<void(Json::Value&)>>> cases = {
      {"not an object", [](Json::Value& g) { g = "x"; }},
      {"no sessionId", [](Json::Value& g) { g.removeMember("sessionId"); }},
      {"sessionId with a space", [](Json::Value& g) { g["sessionId"] = "a b"; }},
      {"sessionId with CR LF", [](Json::Value& g) { g["sessionId"] = "a\r\nX-Evil: 1"; }},
      {"sessionId too long", [](Json::Value& g) { g["sessionId"] = std::string(257, 'a'); }},
      {"secret a number", [](Json::Value& g) { g["secret"] = 5; }},
      {"timeout a string", [](Json::Value& g) { g["timeout"] = "300"; }},
      {"timeout 0", [](Json::Value& g) { g["timeout"] = 0; }},
      {"timeout a year", [](Json::Value& g) { g["timeout"] = 31536000; }},
      {"tunnel an array", [](Json::Value& g) { g["tunnel"] = Json::Value(Json::arrayValue); }},
  };
  for (const auto& [what, mutate] : cases) {
    Json::Value g = grant();
    mutate(g);
    EXPECT_NE(check_grant(g), "") << what;
  }
  Json::Value renewal(Json::objectValue);
  renewal["timeout"] = 120;
  EXPECT_EQ(check_renewal(renewal), "");
  renewal["timeout"] = "120";
  EXPECT_NE(check_renewal(renewal), "");
  EXPECT_NE(check_renewal(Json::Value("x")), "");
  // Whole numbers beyond int64 (found by fuzzing: they made the check throw).
  renewal["timeout"] = Json::UInt64(18446744073709551615u);
  EXPECT_NE(check_renewal(renewal), "");
  renewal["timeout"] = 1e19;
  EXPECT_NE(check_renewal(renewal), "");
  Json::Value huge = grant();
  huge["tunnel"]["mtu"] = Json::UInt64(18446744073709551615u);
  EXPECT_NE(check_tunnel_params(huge["tunnel"], "127.0.0.1", {}), "");
}

// The attacks a review reproduced, and their relatives: each is refused
// before a plugin sees it.
TEST(Grant, TunnelParamsThatWouldBreakOrCaptureAreRefused) {
  const std::vector<std::pair<const char*, std::function<void(Json::Value&)>>> cases = {
      {"path with a space", [](Json::Value& t) { t["path"] = "/a b"; }},
      {"path not absolute", [](Json::Value& t) { t["path"] = "ws"; }},
      {"token with CR LF", [](Json::Value& t) { t["token"] = "abc\r\nHost: evil"; }},
      {"mtu a string", [](Json::Value& t) { t["mtu"] = "1400"; }},
      {"mtu 100", [](Json::Value& t) { t["mtu"] = 100; }},
      {"mtu 70000", [](Json::Value& t) { t["mtu"] = 70000; }},
      {"prefix4 a string", [](Json::Value& t) { t["prefix4"] = "24"; }},
      {"prefix4 /8 over the mesh", [](Json::Value& t) {
         t["address4"] = "10.0.0.2";
         t["prefix4"] = 8;
         t["gateway4"] = "10.0.0.1";
       }},
      {"prefix4 /4", [](Json::Value& t) { t["prefix4"] = 4; }},
      {"prefix4 33", [](Json::Value& t) { t["prefix4"] = 33; }},
      {"address4 not an address", [](Json::Value& t) { t["address4"] = "10.98.0"; }},
      {"address4 of the wrong family", [](Json::Value& t) { t["address4"] = "fd98::2"; }},
      {"address4 loopback", [](Json::Value& t) { t["address4"] = "127.0.0.2"; }},
      {"address4 multicast", [](Json::Value& t) { t["address4"] = "224.0.0.5"; }},
      {"gateway4 outside the prefix", [](Json::Value& t) { t["gateway4"] = "10.99.0.1"; }},
      {"prefix4 without address4", [](Json::Value& t) { t.removeMember("address4"); }},
      {"address6 link-local", [](Json::Value& t) { t["address6"] = "fe80::2"; }},
      {"prefix6 /16 over the mesh", [](Json::Value& t) {
         t["address6"] = "fd77::9";
         t["prefix6"] = 16;
         t["gateway6"] = "fd77::8";
       }},
      {"prefix6 48", [](Json::Value& t) { t["prefix6"] = 48; }},
      {"a prefix that holds the gateway", [](Json::Value& t) {
         t["address4"] = "10.77.1.9";
         t["prefix4"] = 24;
         t["gateway4"] = "10.77.1.8";
       }},
      {"a control character", [](Json::Value& t) { t["name"] = std::string("a\x01"); }},
      {"a huge string", [](Json::Value& t) { t["blob"] = std::string(9000, 'x'); }},
      {"a bad member name", [](Json::Value& t) { t["a b"] = 1; }},
      {"deep nesting", [](Json::Value& t) { t["a"]["b"]["c"] = 1; }},
  };
  for (const auto& [what, mutate] : cases) {
    Json::Value t = grant()["tunnel"];
    mutate(t);
    const auto why = check_tunnel_params(t, "10.77.1.1", {"10.77.2.2", "fd77::2"});
    EXPECT_NE(why, "") << what;
  }
  // Only the subscriber's own addresses and the gateway's count: the same
  // prefix is fine where nothing of ours is inside it.
  Json::Value wide = grant()["tunnel"];
  wide["address4"] = "10.0.0.2";
  wide["prefix4"] = 8;
  wide["gateway4"] = "10.0.0.1";
  EXPECT_EQ(check_tunnel_params(wide, "192.168.7.1", {"192.168.7.2"}), "");
}

TEST_F(ConnectionTest, AGatewaysUnusableTunnelParamsRefuseTheSessionAndItIsGivenBack) {
  Json::Value hostile(Json::objectValue);
  hostile["path"] = "/a b";
  gateway_->send_tunnel(hostile);
  Reply r = connect();
  ASSERT_FALSE(r.ok);
  EXPECT_NE(r.payload["message"].asString().find("tunnel parameters are refused: \"path\""),
            std::string::npos)
      << r.payload;
  EXPECT_EQ(tunnel_status()["connected"].size(), 0u) << "the plugin saw the params";
  ASSERT_TRUE(eventually([&] { return gateway_->calls("releaseConnection").size() == 1; }));
  EXPECT_EQ(state(), "idle");
  restart();
  EXPECT_EQ(state(), "idle");  // nothing stored to resume
}

// Recorded first, then the tunnel: mnigsd dying while the tunnel comes up
// leaves the record, and the next start resumes the same session instead of
// leaving it held at the gateway with nobody knowing its secret.
TEST_F(ConnectionTest, DyingWhileTheTunnelComesUpLeavesARecordThatIsResumed) {
  Json::Value hold;
  hold["holdConnect"] = true;
  gateway_->send_tunnel(hold);
  Json::Value p;
  p["address"] = "127.0.0.1";
  p["port"] = gateway_->port();
  manager_->connect(p, Responder([](bool, Json::Value) {}));
  ASSERT_TRUE(eventually([&] { return tunnel_status()["held"] == 1; }));
  EXPECT_EQ(stored_session(), kSessionId) << "the tunnel came before the record";

  restart();
  EXPECT_EQ(state(), "connected");
  EXPECT_EQ(describe()["connection"]["sessionId"], kSessionId);
  EXPECT_EQ(gateway_->calls("requestConnection").size(), 1u) << "a second session was asked for";
  ASSERT_TRUE(eventually([&] { return renewals() == 1; }));  // proven at once
  EXPECT_TRUE(disconnect_reasons().empty());
}

// A connect made while the stored connection is being resumed waits for
// the start, rather than racing the resumed session for the tunnel and the
// record (where the loser's teardown would take the winner's routes).
TEST_F(ConnectionTest, AConnectDuringTheStartWaitsForTheResumedConnection) {
  ASSERT_TRUE(connect().ok);
  wait([&](auto done) { manager_->stop(done); });
  stopped_.push_back(std::move(manager_));
  store_->flush();

  manager_ = make_manager(false);
  auto answered = std::make_shared<std::promise<Reply>>();
  Json::Value p;
  p["address"] = "127.0.0.1";
  p["port"] = gateway_->port();
  manager_->connect(p, Responder([answered](bool ok, Json::Value v) {
    answered->set_value(Reply{ok, std::move(v)});
  }));
  EXPECT_EQ(state(), "starting");
  EXPECT_EQ(gateway_->calls("nodeInfo").size(), 1u) << "the connect went ahead of the start";

  wait([&](auto done) { manager_->start(done); });
  auto reply = answered->get_future();
  ASSERT_EQ(reply.wait_for(10s), std::future_status::ready);
  Reply r = reply.get();
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.payload.toStyledString().find("already"), std::string::npos) << r.payload;
  ASSERT_TRUE(eventually([&] { return state() == "connected"; }));
  EXPECT_EQ(describe()["connection"]["sessionId"], kSessionId);
  EXPECT_EQ(gateway_->calls("requestConnection").size(), 1u);
}

TEST_F(ConnectionTest, ATunnelThatFailsLeavesNoRecordAndTheSessionIsGivenBack) {
  Json::Value fail;
  fail["failConnect"] = true;
  gateway_->send_tunnel(fail);
  Reply r = connect();
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.payload.toStyledString().find("cannot open the tunnel device"), std::string::npos)
      << r.payload;
  EXPECT_EQ(state(), "idle");
  ASSERT_TRUE(eventually([&] { return gateway_->calls("releaseConnection").size() == 1; }));
  store_->flush();
  EXPECT_EQ(stored_session(), "");
  restart();
  EXPECT_EQ(state(), "idle");  // nothing to resume
}

TEST_F(ConnectionTest, AStoredConnectionThatCannotBeResumedIsDroppedWithTheReason) {
  ASSERT_TRUE(connect().ok);
  wait([&](auto done) { manager_->stop(done); });
  stopped_.push_back(std::move(manager_));
  // Written by an older mnigs, or by hand: the record is as bad as a reply.
  store_->post([](sqlite3* db) {
    exec(db, R"(UPDATE subscriber_connection SET tunnel = '{"mode":"fake","mtu":"big"}')");
  });
  store_->flush();
  manager_ = make_manager();
  Json::Value d = describe();
  EXPECT_EQ(d["state"], "idle");
  EXPECT_NE(d["lastError"].asString().find("cannot be resumed (\"mtu\""), std::string::npos)
      << d;
  ASSERT_TRUE(eventually([&] { return !disconnect_reasons().empty(); }));
  EXPECT_NE(disconnect_reasons().find("cannot be resumed"), std::string::npos);
  // Dropped, not tried again at the next start.
  restart();
  EXPECT_EQ(state(), "idle");
  EXPECT_EQ(describe()["lastError"], "");
}

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

TEST_F(AutoModeTest, ConnectsToTheBestAndMovesWhenItGoesDown) {
  set_auto(true);
  manager_->auto_changed(false);
  ASSERT_TRUE(eventually([&] { return connected_to() == "127.0.0.1"; })) << describe();
  ASSERT_TRUE(probe_until([&] { return health() == "up"; })) << describe();
  EXPECT_FALSE(describe()["pinned"].asBool());

  echo_a_.hold("s", {});  // a stops answering
  ASSERT_TRUE(probe_until([&] { return connected_to() == "127.0.0.2"; })) << describe();
  Json::Value d = describe();
  ASSERT_EQ(d["switches"].size(), 1u) << d;
  EXPECT_EQ(d["switches"][0]["from"], "127.0.0.1");
  EXPECT_EQ(d["switches"][0]["to"], "127.0.0.2");
  EXPECT_EQ(d["switches"][0]["reason"].asString().rfind("gateway down: no answer to", 0), 0u) << d;
  EXPECT_TRUE(d["heldDown"].isMember("127.0.0.1")) << d;
  EXPECT_EQ(gateway_->calls("releaseConnection").size(), 1u) << "a's session given back";
  ASSERT_TRUE(eventually([&] { return events_seen().size() >= 3; }));
  auto seen = events_seen();
  EXPECT_NE(std::find(seen.begin(), seen.end(), "subscriber.down 127.0.0.1"), seen.end());
  EXPECT_NE(std::find(seen.begin(), seen.end(), "subscriber.switched 127.0.0.1"), seen.end());
  // The history survives a restart.
  restart();
  EXPECT_EQ(describe()["switches"].size(), 1u);
}

TEST_F(AutoModeTest, AWarmStandbyIsHeldAndTakesOverWithoutANewSession) {
  set_auto(true, 1);
  manager_->auto_changed(false);
  ASSERT_TRUE(eventually([&] { return connected_to() == "127.0.0.1"; })) << describe();
  // b, the next best, holds a session whose tunnel is up with routes untouched.
  ASSERT_TRUE(eventually([&] { return describe()["standby"]["gatewayAddress"] == "127.0.0.2"; }))
      << describe();
  EXPECT_TRUE(asked("127.0.0.2 none")) << tunnel_status();
  EXPECT_FALSE(asked("127.0.0.2 default")) << tunnel_status();
  EXPECT_EQ(gateway_b_->calls("requestConnection").size(), 1u);
  // Each shows its own tunnel's device and counters.
  Json::Value shown = describe();
  EXPECT_EQ(shown["connection"]["traffic"]["device"], "lo") << shown;
  EXPECT_EQ(shown["connection"]["traffic"]["bytesIn"].asUInt64(), 2000u) << shown;
  EXPECT_EQ(shown["standby"]["traffic"]["device"], "lo") << shown;
  EXPECT_EQ(shown["standby"]["traffic"]["packetsOut"].asUInt64(), 10u) << shown;
  ASSERT_TRUE(probe_until([&] { return health() == "up"; })) << describe();
  // Probed too, and renewed like the active session.
  ASSERT_TRUE(probe_until([&] {
    return describe()["standby"]["health"]["received"].asUInt64() > 0;
  })) << describe();
  clock_.advance(20s);
  ASSERT_TRUE(eventually([&] { return gateway_b_->calls("renewConnection").size() >= 1; }));

  echo_a_.hold("s", {});  // a stops answering
  ASSERT_TRUE(probe_until([&] { return connected_to() == "127.0.0.2"; })) << describe();
  // The standby's own session, its route moved by connecting it again.
  EXPECT_EQ(gateway_b_->calls("requestConnection").size(), 1u) << "a new session was asked for";
  EXPECT_TRUE(asked("127.0.0.2 default")) << tunnel_status();
  Json::Value d = describe();
  ASSERT_EQ(d["switches"].size(), 1u) << d;
  EXPECT_EQ(d["switches"][0]["from"], "127.0.0.1");
  EXPECT_EQ(d["switches"][0]["to"], "127.0.0.2");
  EXPECT_NE(d["switches"][0]["reason"].asString().find("standby took over"), std::string::npos)
      << d;
  EXPECT_EQ(d["lastError"], "") << d;
  // The same tunnel session, connected a second time: its counters go on.
  EXPECT_EQ(d["connection"]["traffic"]["device"], "lo") << d;
  EXPECT_EQ(d["connection"]["traffic"]["bytesOut"].asUInt64(), 2000u) << d;
  ASSERT_TRUE(eventually([&] { return gateway_->calls("releaseConnection").size() == 1; }))
      << "a's session given back";
  // a is held down, and there is no third gateway: no standby now.
  EXPECT_TRUE(describe()["standby"].isNull()) << describe();
  // The connection on record is b's: a restart resumes it, and a standby
  // is held again (a, which answers again; hold-downs do not outlive a run).
  echo_a_.hold("s", {lo1_, lo2_});
  restart();
  EXPECT_EQ(connected_to(), "127.0.0.2");
  ASSERT_TRUE(eventually([&] { return describe()["standby"]["gatewayAddress"] == "127.0.0.1"; }))
      << describe();
}

TEST_F(AutoModeTest, AStandbyThatGoesSilentIsDroppedAndItsSessionGivenBack) {
  set_auto(true, 1);
  manager_->auto_changed(false);
  ASSERT_TRUE(eventually([&] { return describe()["standby"]["gatewayAddress"] == "127.0.0.2"; }))
      << describe();
  echo_b_.hold("s", {});
  ASSERT_TRUE(probe_until([&] { return describe()["standby"].isNull(); })) << describe();
  ASSERT_TRUE(eventually([&] { return gateway_b_->calls("releaseConnection").size() == 1; }));
  EXPECT_EQ(connected_to(), "127.0.0.1");  // the active connection is untouched
  EXPECT_TRUE(describe()["heldDown"].isMember("127.0.0.2")) << describe();
}

TEST_F(AutoModeTest, DisconnectingOrTurningTheStandbyOffGivesItsSessionBack) {
  set_auto(true, 1);
  manager_->auto_changed(false);
  ASSERT_TRUE(eventually([&] { return describe()["standby"]["gatewayAddress"] == "127.0.0.2"; }))
      << describe();
  set_auto(true, 0);
  manager_->auto_changed(false);
  ASSERT_TRUE(eventually([&] { return describe()["standby"].isNull(); })) << describe();
  ASSERT_TRUE(eventually([&] { return gateway_b_->calls("releaseConnection").size() == 1; }));
  set_auto(true, 1);
  manager_->auto_changed(false);
  ASSERT_TRUE(eventually([&] { return describe()["standby"]["gatewayAddress"] == "127.0.0.2"; }))
      << describe();
  ASSERT_TRUE(ask([&](Responder r) { manager_->disconnect(r); }).ok);
  EXPECT_TRUE(describe()["standby"].isNull()) << describe();
  ASSERT_TRUE(eventually([&] { return gateway_b_->calls("releaseConnection").size() == 2; }));
}

TEST_F(AutoModeTest, WithoutStandbyNoSecondSessionIsAskedFor) {
  set_auto(true, 0);
  manager_->auto_changed(false);
  ASSERT_TRUE(eventually([&] { return connected_to() == "127.0.0.1"; })) << describe();
  ASSERT_TRUE(probe_until([&] { return health() == "up"; })) << describe();
  EXPECT_TRUE(describe()["standby"].isNull());
  EXPECT_TRUE(gateway_b_->calls("requestConnection").empty());
}

// The clock counts whole seconds: a gateway left just before a second turns
// is still held for all of subscriber.holdDown (here 1 s), not retaken at
// once.
TEST_F(AutoModeTest, AHoldDownLastsAtLeastItsSeconds) {
  set_auto(true);
  Json::Value v = config_->get()->values();
  v["subscriber"]["holdDown"] = 1;
  config_->set(std::make_shared<const Config>("", v));
  manager_->auto_changed(false);
  ASSERT_TRUE(eventually([&] { return connected_to() == "127.0.0.1"; })) << describe();
  ASSERT_TRUE(probe_until([&] { return health() == "up"; })) << describe();
  echo_a_.hold("s", {});
  ASSERT_TRUE(probe_until([&] { return connected_to() == "127.0.0.2"; })) << describe();
  EXPECT_EQ(describe()["heldDown"]["127.0.0.1"], 2) << describe();  // this second and the next
  clock_.advance(1s);
  EXPECT_EQ(describe()["heldDown"]["127.0.0.1"], 1) << describe();
  clock_.advance(1s);
  EXPECT_FALSE(describe()["heldDown"].isMember("127.0.0.1")) << describe();
}

// a, first on subscriber.prefer, fails: b's standby takes over. Once a
// answers again and its hold-down is over it becomes the standby, and after
// subscriber.switchAfter seconds of answering every probe auto mode moves
// back to it by choice.
TEST_F(AutoModeTest, AFailedPreferredGatewayIsTakenBackOnceStable) {
  set_auto(true, 1);
  Json::Value v = config_->get()->values();
  v["subscriber"]["prefer"].append("a");
  v["subscriber"]["switchAfter"] = 10;
  config_->set(std::make_shared<const Config>("", v));
  manager_->auto_changed(false);
  ASSERT_TRUE(eventually([&] { return connected_to() == "127.0.0.1"; })) << describe();
  ASSERT_TRUE(probe_until([&] { return describe()["standby"]["health"]["health"] == "up"; }))
      << describe();
  echo_a_.hold("s", {});
  ASSERT_TRUE(probe_until([&] { return connected_to() == "127.0.0.2"; })) << describe();
  echo_a_.hold("s", {lo1_, lo2_});  // a is back

  // Seconds pass on both clocks: a's hold-down (30 s) ends, it becomes the
  // standby, answers, and is taken back after 10 s more, not sooner.
  std::optional<std::int64_t> standby_since;
  std::int64_t seconds = 0;
  for (; seconds < 90 && connected_to() != "127.0.0.1"; ++seconds) {
    clock_.advance(1s);
    for (int i = 0; i < 5; ++i) {
      probe_clock_.advance(200ms);
      std::this_thread::sleep_for(2ms);
    }
    eventually_short([&] { return false; });
    const Json::Value standby = describe()["standby"];
    if (!standby_since && standby["gatewayAddress"] == "127.0.0.1" &&
        standby["health"]["health"] == "up")
      standby_since = seconds;
  }
  ASSERT_EQ(connected_to(), "127.0.0.1") << describe();
  ASSERT_TRUE(standby_since.has_value());
  EXPECT_GE(seconds - *standby_since, 10) << "taken back before it was stable for switchAfter";
  Json::Value d = describe();
  ASSERT_EQ(d["switches"].size(), 2u) << d;
  EXPECT_EQ(d["switches"][1]["from"], "127.0.0.2");
  EXPECT_NE(d["switches"][1]["reason"].asString().find("a clearly better gateway (before "
                                                       "127.0.0.2 on subscriber.prefer)"),
            std::string::npos)
      << d;
  // b is not held down (it did not fail): it is the standby again.
  ASSERT_TRUE(eventually([&] { return describe()["standby"]["gatewayAddress"] == "127.0.0.2"; }))
      << describe();
}

TEST_F(AutoModeTest, AGatewaySayingItsUplinkIsDownIsLeftAtTheNextRenewal) {
  set_auto(true);
  manager_->auto_changed(false);
  ASSERT_TRUE(eventually([&] { return connected_to() == "127.0.0.1"; }));
  gateway_->report_uplink(false);
  clock_.advance(20s);  // the renewal, at a third of 60 s
  ASSERT_TRUE(eventually([&] { return connected_to() == "127.0.0.2"; })) << describe();
  EXPECT_EQ(describe()["switches"][0]["reason"], "the gateway's uplink is down");
}

TEST_F(AutoModeTest, AGatewayWhoseTunnelAnswersButNothingBeyondItIsLeft) {
  Json::Value v = config_->get()->values();
  v["subscriber"]["checkTargets"].append("127.0.0.1:1");  // refuses: "no Internet"
  v["subscriber"]["checkInterval"] = 1;
  config_->set(std::make_shared<const Config>("", v));
  set_auto(true);
  manager_->auto_changed(false);
  ASSERT_TRUE(eventually([&] { return connected_to() == "127.0.0.1"; }));
  ASSERT_TRUE(probe_until([&] { return describe()["switches"].size() == 1; })) << describe();
  Json::Value d = describe();
  EXPECT_EQ(d["switches"][0]["from"], "127.0.0.1");
  EXPECT_EQ(
      d["switches"][0]["reason"].asString().rfind("the gateway has no Internet: 127.0.0.1:1", 0),
      0u)
      << d;
}

TEST_F(AutoModeTest, AManualConnectPinsUntilAutoModeIsTurnedOnAgain) {
  set_auto(true);
  ASSERT_TRUE(connect().ok);  // to a, by hand
  EXPECT_TRUE(describe()["pinned"].asBool());
  echo_a_.hold("s", {});
  ASSERT_TRUE(probe_until([&] { return health() == "down"; })) << describe();
  for (int i = 0; i < 5; ++i) probe_clock_.advance(200ms);
  EXPECT_EQ(connected_to(), "127.0.0.1") << "pinned: reported down, not left";
  EXPECT_EQ(describe()["switches"].size(), 0u);

  restart();  // the pin is kept
  EXPECT_TRUE(describe()["pinned"].asBool());
  EXPECT_EQ(connected_to(), "127.0.0.1");
  manager_->auto_changed(true);  // --auto on: the pin goes, and so does the dead gateway
  ASSERT_TRUE(probe_until([&] { return connected_to() == "127.0.0.2"; })) << describe();
  EXPECT_FALSE(describe()["pinned"].asBool());
}

TEST_F(AutoModeTest, AManualDisconnectKeepsAutoModeFromConnecting) {
  set_auto(true);
  manager_->auto_changed(false);
  ASSERT_TRUE(eventually([&] { return connected_to() == "127.0.0.1"; }));
  ASSERT_TRUE(ask([&](Responder r) { manager_->disconnect(r); }).ok);
  clock_.advance(10s);
  EXPECT_EQ(state(), "idle");
  EXPECT_TRUE(describe()["pinned"].asBool());
}

TEST_F(AutoModeTest, AGatewayThatFailsIsHeldDownAndTheNextIsTried) {
  {
    std::lock_guard lock(gateways_mutex_);
    gateways_[0]["port"] = 1;  // nothing listens there: a cannot be reached
  }
  set_auto(true);
  manager_->auto_changed(false);
  ASSERT_TRUE(eventually([&] { return connected_to() == "127.0.0.2"; })) << describe();
  EXPECT_TRUE(describe()["heldDown"].isMember("127.0.0.1"));
  EXPECT_EQ(describe()["switches"].size(), 0u) << "a first choice is not a switch";
}

TEST_F(AutoModeTest, WithNoUsableGatewayItSaysWhyAndAsksForAScan) {
  int scans = 0;
  {
    std::lock_guard lock(gateways_mutex_);
    gateways_ = Json::Value(Json::arrayValue);
  }
  stopped_.push_back(std::move(manager_));
  manager_ = make_manager(false);
  ConnectionManager::Environment env;
  env.probe_clock = &probe_clock_;
  env.list_gateways = [this](std::function<void(Json::Value)> done) {
    std::lock_guard lock(gateways_mutex_);
    done(gateways_);
  };
  env.request_scan = [&scans] { ++scans; };
  manager_->set_environment(env);
  set_auto(true);
  wait([&](auto done) { manager_->start(done); });
  ASSERT_TRUE(eventually([&] { return scans == 1; }));
  EXPECT_EQ(describe()["lastError"], "auto mode: no gateway known yet; scanning");
  {
    std::lock_guard lock(gateways_mutex_);
    gateways_.append(entry("127.0.0.2", gateway_b_->port(), "b", 5));
    gateways_[0]["suites"][0] = "cjdns-openvpn-free";
  }
  clock_.advance(2s);
  ASSERT_TRUE(eventually([&] {
    return describe()["lastError"].asString().find("no suite in common") != std::string::npos;
  })) << describe();
  {
    std::lock_guard lock(gateways_mutex_);
    gateways_[0]["suites"][0] = kSuite;
  }
  clock_.advance(2s);
  ASSERT_TRUE(eventually([&] { return connected_to() == "127.0.0.2"; })) << describe();
}

TEST_F(AutoModeTest, TestGatewayMeasuresThroughATunnelOfItsOwnAndGivesItBack) {
  Json::Value params(Json::objectValue);
  params["address"] = "127.0.0.2";
  params["port"] = gateway_b_->port();
  Reply r = test_gateway(params);
  ASSERT_TRUE(r.ok) << r.payload;
  const Json::Value& t = r.payload;
  EXPECT_EQ(t["address"], "127.0.0.2");
  EXPECT_FALSE(t["current"].asBool());
  EXPECT_TRUE(t["setupMs"].isNumeric()) << t;
  EXPECT_EQ(t["probes"].asInt(), 25) << t;
  EXPECT_EQ(t["received"].asInt(), 25) << t;
  EXPECT_EQ(t["loss"].asDouble(), 0.0);
  EXPECT_TRUE(t["rttMs"].isObject());
  EXPECT_TRUE(t["score"].isNumeric());
  // The stand-in gateway has no bulk endpoint: said, not hidden.
  EXPECT_NE(t["throughputError"].asString().find("answered"), std::string::npos) << t;
  // The test's session is given back and nothing stays connected.
  ASSERT_TRUE(eventually([&] { return state() == "idle"; }));
  EXPECT_EQ(gateway_b_->calls("releaseConnection").size(), 1u);
  EXPECT_EQ(describe()["lastError"], "");
  EXPECT_EQ(describe()["switches"].size(), 0u) << "a test is no switch";
  EXPECT_EQ(disconnect_reasons(), "") << "nor a connection: no hooks run";
  auto stored = store_->call<std::string>([](sqlite3* db) {
    Statement st(db, "SELECT address FROM gateway_tests");
    return st.step() ? st.column_text(0) : std::string();
  });
  EXPECT_EQ(stored, "127.0.0.2");
}

// While connected through a tunnel that holds several sessions (the fake
// one does, as forwarding), another gateway is tested on a session of the
// test's own beside the connection, routes untouched, given back after it;
// the targets beyond it are not checked (they are reached through a).
TEST_F(AutoModeTest, WhileConnectedAnotherGatewayIsTestedBesideTheConnection) {
  ASSERT_TRUE(connect().ok);  // to a
  Json::Value v = config_->get()->values();
  v["subscriber"]["checkTargets"].append("127.0.0.1:1");
  config_->set(std::make_shared<const Config>("", v));
  Json::Value params(Json::objectValue);
  params["address"] = "127.0.0.2";
  params["port"] = gateway_b_->port();
  Reply r = test_gateway(params);
  ASSERT_TRUE(r.ok) << r.payload;
  EXPECT_FALSE(r.payload["current"].asBool()) << r.payload;
  EXPECT_EQ(r.payload["received"].asInt(), 25) << r.payload;
  EXPECT_TRUE(r.payload["checks"].isNull()) << r.payload;
  EXPECT_NE(r.payload["checksSkipped"].asString().find("through the current gateway"),
            std::string::npos)
      << r.payload;
  EXPECT_TRUE(asked("127.0.0.2 none")) << tunnel_status();
  ASSERT_TRUE(eventually([&] { return gateway_b_->calls("releaseConnection").size() == 1; }));
  EXPECT_EQ(connected_to(), "127.0.0.1");
  EXPECT_EQ(describe()["switches"].size(), 0u);
  params["address"] = "not an address";
  r = ask([&](Responder reply) { manager_->test_gateway(params, reply); });
  EXPECT_EQ(r.payload["code"], rpc_error::invalid_params);
}

// The standby is tested on its own session: no second one is asked for.
TEST_F(AutoModeTest, TheStandbyIsTestedOnItsOwnSession) {
  set_auto(true, 1);
  manager_->auto_changed(false);
  ASSERT_TRUE(eventually([&] { return describe()["standby"]["gatewayAddress"] == "127.0.0.2"; }))
      << describe();
  Json::Value params(Json::objectValue);
  params["address"] = "127.0.0.2";
  params["port"] = gateway_b_->port();
  Reply r = test_gateway(params);
  ASSERT_TRUE(r.ok) << r.payload;
  EXPECT_FALSE(r.payload["current"].asBool());
  EXPECT_TRUE(r.payload["setupMs"].isNull()) << r.payload;
  EXPECT_EQ(gateway_b_->calls("requestConnection").size(), 1u);
  EXPECT_TRUE(gateway_b_->calls("releaseConnection").empty()) << "the standby was given back";
  EXPECT_EQ(describe()["standby"]["gatewayAddress"], "127.0.0.2");
}

}  // namespace
}  // namespace mnigs
