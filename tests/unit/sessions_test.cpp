// The gateway's session protocol on a fake tunnel and a fake clock: ids and
// secrets, suites, limits, renewal rules, expiry, release, and sessions
// surviving a restart of the manager.
#include "gateway/sessions.hpp"
#include "store/sqlite.hpp"
#include "test_util.hpp"

#include <gtest/gtest.h>
#include <json/reader.h>

#include <boost/asio/executor_work_guard.hpp>

#include <atomic>
#include <future>
#include <mutex>
#include <sstream>
#include <thread>
#include <vector>

namespace mnigs {
namespace {

struct Answer {
  bool ok = false;
  Json::Value payload;
  int code() const { return payload["code"].asInt(); }
};

class SessionsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    declare_core_keys(schema_);
    auto libs = load_plugin_libraries(MNIGS_TEST_PLUGIN_DIR, {}, schema_, log_);
    Json::Value values = defaults(schema_);
    values["gateway"]["enabled"] = true;
    values["gateway"]["maxConnections"] = 2;
    values["gateway"]["subscriberTimeout"] = 60;
    config_ = std::make_unique<ConfigHolder>(std::make_shared<const Config>("", values));
    store_ = Store::open(dir_.file("state.db"), log_);
    hooks_ = std::make_unique<Hooks>(*config_, log_);
    plugins_ = std::make_unique<PluginHost>(io_, *config_, store_.get(), events_,
                                            [](const std::string&, Access, MethodHandler) {});
    thread_ = std::thread([this] { io_.run(); });
    plugins_->start(libs);
    wait([&](auto done) { plugins_->when_started(done); });
    manager_ = make_manager();
  }
  // As the daemon does: the manager is destroyed once the io thread has
  // stopped, since a store or plugin callback may still be queued.
  void TearDown() override {
    std::promise<void> stopped;
    plugins_->stop([&] { stopped.set_value(); });
    stopped.get_future().wait();
    work_.reset();
    io_.stop();
    thread_.join();
    manager_.reset();
    stopped_.clear();
    plugins_.reset();
  }

  std::unique_ptr<SessionManager> make_manager(
      const std::function<void(SessionManager&)>& before_start = {}) {
    auto m = std::make_unique<SessionManager>(io_, *config_, *store_, *plugins_, *hooks_,
                                              [this] { return now_.load(); });
    if (before_start) before_start(*m);
    wait([&](auto done) { m->start(done); });
    return m;
  }

  template <class F>
  void wait(F start) {
    std::promise<void> p;
    start([&] { p.set_value(); });
    ASSERT_EQ(p.get_future().wait_for(std::chrono::seconds(5)), std::future_status::ready);
  }

  template <class F>
  Answer ask(F call) {
    auto p = std::make_shared<std::promise<Answer>>();
    call(Responder([p](bool ok, Json::Value v) { p->set_value(Answer{ok, std::move(v)}); }));
    return p->get_future().get();
  }

  static CallInfo from(const std::string& address) { return CallInfo{address, "10.77.1.1", false}; }

  Answer request(const std::string& address, Json::Value params = Json::Value()) {
    if (params.isNull()) {
      params = Json::Value(Json::objectValue);
      params["suite"] = "testnet-fake-fakepay";
      params["name"] = "sub";
    }
    return ask([&](Responder r) { manager_->request(params, from(address), r); });
  }
  Answer renew(const std::string& address, const std::string& id, const std::string& secret) {
    Json::Value p(Json::objectValue);
    p["sessionId"] = id;
    p["secret"] = secret;
    return ask([&](Responder r) { manager_->renew(p, from(address), r); });
  }
  Answer release(const std::string& address, const std::string& id, const std::string& secret) {
    Json::Value p(Json::objectValue);
    p["sessionId"] = id;
    p["secret"] = secret;
    return ask([&](Responder r) { manager_->release(p, from(address), r); });
  }
  Json::Value list() {
    std::promise<Json::Value> p;
    manager_->list([&](Json::Value v) { p.set_value(v); });
    return p.get_future().get();
  }
  Json::Value tunnel_status() {
    std::promise<Json::Value> p;
    plugins_->describe([&](Json::Value v) { p.set_value(v); });
    for (const auto& plugin : p.get_future().get())
      if (plugin["name"] == "fake") return plugin["status"];
    return Json::Value();
  }

  test::TempDir dir_;
  test::RecordingLogger log_;
  Schema schema_;
  std::unique_ptr<ConfigHolder> config_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<Hooks> hooks_;
  boost::asio::io_context io_;
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_{
      io_.get_executor()};
  CoreEventBus events_{io_.get_executor()};
  std::unique_ptr<PluginHost> plugins_;
  std::unique_ptr<SessionManager> manager_;
  std::vector<std::unique_ptr<SessionManager>> stopped_;  // destroyed after the io thread
  std::atomic<std::int64_t> now_{1'800'000'000};
  std::thread thread_;
};

TEST_F(SessionsTest, RequestGivesUnguessableIdSecretAndTunnelParams) {
  auto a = request("10.77.2.2");
  auto b = request("10.77.3.2");
  ASSERT_TRUE(a.ok) << a.payload.toStyledString();
  ASSERT_TRUE(b.ok);
  EXPECT_EQ(a.payload["sessionId"].asString().size(), 32u);
  EXPECT_EQ(a.payload["secret"].asString().size(), 64u);
  EXPECT_NE(a.payload["sessionId"], b.payload["sessionId"]);
  EXPECT_NE(a.payload["secret"], b.payload["secret"]);
  EXPECT_EQ(a.payload["tunnel"]["mode"], "fake");
  EXPECT_EQ(a.payload["expires"].asInt64(), now_ + 60);
  EXPECT_EQ(a.payload["subscriberAddress"], "10.77.2.2");
  EXPECT_EQ(a.payload["gatewayAddress"], "10.77.1.1");
  Json::Value sessions = list();
  ASSERT_EQ(sessions.size(), 2u);
  EXPECT_FALSE(sessions[0].isMember("secret"));
}

TEST_F(SessionsTest, UnknownSuiteAndBadParamsAreRefused) {
  Json::Value p(Json::objectValue);
  p["suite"] = "babel-websocket-free";
  auto r = request("10.77.2.2", p);
  EXPECT_EQ(r.code(), rpc_error::invalid_params);
  EXPECT_NE(r.payload["message"].asString().find("testnet-fake-fakepay"), std::string::npos);
  p = Json::Value(Json::objectValue);
  p["port"] = 70000;
  EXPECT_EQ(request("10.77.2.2", p).code(), rpc_error::invalid_params);
  EXPECT_EQ(list().size(), 0u);
}

TEST_F(SessionsTest, WronglyTypedParamsFromTheMeshAreRefusedNotFatal) {
  // Each of these made jsoncpp throw inside the handler before types were checked.
  for (const char* text : {R"({"suite": {}})", R"({"method": [1]})", R"({"name": 5})",
                           R"({"port": 3000000000})", R"({"port": "65533"})"}) {
    Json::Value p;
    std::istringstream(text) >> p;
    EXPECT_EQ(request("10.77.2.2", p).code(), rpc_error::invalid_params) << text;
  }
  Json::Value bad(Json::objectValue);
  bad["sessionId"] = Json::Value(Json::arrayValue);
  bad["secret"] = 7;
  EXPECT_EQ(ask([&](Responder r) { manager_->renew(bad, from("10.77.2.2"), r); }).code(),
            rpc_error::invalid_params);
  EXPECT_TRUE(request("10.77.2.2").ok);  // and the manager still serves
}

TEST_F(SessionsTest, ConcurrentRequestsFromOneAddressHoldOneSlot) {
  std::vector<std::shared_ptr<std::promise<Answer>>> answers;
  Json::Value p(Json::objectValue);
  p["suite"] = "testnet-fake-fakepay";
  for (int i = 0; i < 4; ++i) {
    auto promise = std::make_shared<std::promise<Answer>>();
    answers.push_back(promise);
    manager_->request(p, from("10.77.2.2"), Responder([promise](bool ok, Json::Value v) {
                        promise->set_value(Answer{ok, std::move(v)});
                      }));
  }
  int granted = 0;
  for (auto& a : answers) granted += a->get_future().get().ok;
  EXPECT_GE(granted, 1);
  EXPECT_EQ(list().size(), 1u);
  EXPECT_TRUE(request("10.77.3.2").ok);  // the second slot is still free
}

TEST_F(SessionsTest, NoSuiteGivenTakesTheFirstOffered) {
  auto r = request("10.77.2.2", Json::Value(Json::objectValue));
  ASSERT_TRUE(r.ok);
  ASSERT_FALSE(plugins_->suites().empty());
  EXPECT_EQ(r.payload["suite"].asString(), plugins_->suites().front());
}

TEST_F(SessionsTest, MaxConnectionsIsEnforced) {
  ASSERT_TRUE(request("10.77.2.2").ok);
  ASSERT_TRUE(request("10.77.3.2").ok);
  auto third = request("10.77.4.2");
  EXPECT_EQ(third.code(), rpc_error::capacity);
  EXPECT_NE(third.payload["message"].asString().find("gateway.maxConnections"), std::string::npos);
  EXPECT_EQ(list().size(), 2u);
}

TEST_F(SessionsTest, RenewNeedsTheSecretAndTheSubscribersAddress) {
  auto s = request("10.77.2.2");
  const std::string id = s.payload["sessionId"].asString(), secret = s.payload["secret"].asString();
  now_ += 30;
  EXPECT_EQ(renew("10.77.2.2", id, std::string(64, '0')).code(), rpc_error::unauthorized);
  EXPECT_EQ(renew("10.77.9.9", id, secret).code(), rpc_error::unauthorized);
  EXPECT_EQ(list()[0]["expires"].asInt64(), now_ - 30 + 60);  // unchanged by refusals
  auto ok = renew("10.77.2.2", id, secret);
  ASSERT_TRUE(ok.ok);
  EXPECT_EQ(ok.payload["expires"].asInt64(), now_ + 60);
  EXPECT_EQ(renew("10.77.2.2", "0123", secret).code(), rpc_error::not_found);
}

TEST_F(SessionsTest, UnrenewedSessionExpiresAndItsTunnelEndCloses) {
  auto s = request("10.77.2.2");
  const std::string id = s.payload["sessionId"].asString(), secret = s.payload["secret"].asString();
  now_ += 61;
  EXPECT_EQ(renew("10.77.2.2", id, secret).code(), rpc_error::not_found);
  EXPECT_EQ(list().size(), 0u);
  for (int i = 0; i < 100 && tunnel_status()["closed"].size() == 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_EQ(tunnel_status()["closed"][0], id);
}

TEST_F(SessionsTest, ReleaseEndsTheSessionOnce) {
  auto s = request("10.77.2.2");
  const std::string id = s.payload["sessionId"].asString(), secret = s.payload["secret"].asString();
  EXPECT_EQ(release("10.77.2.2", id, "bad").code(), rpc_error::unauthorized);
  EXPECT_EQ(list().size(), 1u);
  auto r = release("10.77.2.2", id, secret);
  ASSERT_TRUE(r.ok);
  EXPECT_TRUE(r.payload["released"].asBool());
  EXPECT_EQ(release("10.77.2.2", id, secret).code(), rpc_error::not_found);
  EXPECT_EQ(list().size(), 0u);
}

TEST_F(SessionsTest, TheProbeEchoHearsWhoHoldsASessionAndWhenItEnds) {
  std::mutex m;
  std::vector<std::string> told;
  stopped_.push_back(std::move(manager_));
  manager_ = make_manager([&](SessionManager& sm) {
    sm.set_holders_sink([&](const std::string& id, std::vector<boost::asio::ip::address> a) {
      std::lock_guard lock(m);
      std::string line = id.substr(0, 4);
      for (const auto& x : a) line += " " + x.to_string();
      told.push_back(line);
    });
  });
  auto s = request("10.77.2.2");
  const std::string id = s.payload["sessionId"].asString(), secret = s.payload["secret"].asString();
  ASSERT_TRUE(release("10.77.2.2", id, secret).ok);
  std::lock_guard lock(m);
  ASSERT_EQ(told.size(), 2u);
  EXPECT_EQ(told[0], id.substr(0, 4) + " 10.77.2.2");
  EXPECT_EQ(told[1], id.substr(0, 4)) << "ended: holds nothing";
}

TEST_F(SessionsTest, WithTheUplinkDownNoSessionIsGrantedAndRenewalsSaySo) {
  std::atomic<bool> up{true};
  stopped_.push_back(std::move(manager_));
  manager_ = make_manager([&](SessionManager& sm) { sm.set_uplink([&] { return up.load(); }); });
  auto s = request("10.77.2.2");
  ASSERT_TRUE(s.ok);
  const std::string id = s.payload["sessionId"].asString(), secret = s.payload["secret"].asString();
  EXPECT_EQ(renew("10.77.2.2", id, secret).payload["uplink"], true);
  up = false;
  auto refused = request("10.77.3.2");
  EXPECT_EQ(refused.code(), rpc_error::unavailable);
  EXPECT_NE(refused.payload["message"].asString().find("uplink is down"), std::string::npos);
  auto r = renew("10.77.2.2", id, secret);
  ASSERT_TRUE(r.ok) << "the session goes on: its subscriber decides";
  EXPECT_EQ(r.payload["uplink"], false);
  EXPECT_EQ(list().size(), 1u);
}

TEST_F(SessionsTest, FailedTunnelSetupLeavesNoSessionAndNoSlot) {
  auto r = request("10.9.9.9");
  EXPECT_EQ(r.code(), rpc_error::failed);
  EXPECT_NE(r.payload["message"].asString().find("no route"), std::string::npos);
  ASSERT_TRUE(request("10.77.2.2").ok);
  ASSERT_TRUE(request("10.77.3.2").ok);  // both slots still free before
}

TEST_F(SessionsTest, SessionsSurviveARestartExpiredOnesDoNot) {
  auto live = request("10.77.2.2");
  now_ += 50;
  auto later = request("10.77.3.2");
  ASSERT_TRUE(live.ok && later.ok);
  wait([&](auto done) { manager_->stop(done); });
  stopped_.push_back(std::move(manager_));
  store_->flush();
  now_ += 20;  // the first has expired meanwhile, the second has not
  manager_ = make_manager();
  Json::Value sessions = list();
  ASSERT_EQ(sessions.size(), 1u);
  EXPECT_EQ(sessions[0]["sessionId"], later.payload["sessionId"]);
  auto renewed = renew("10.77.3.2", later.payload["sessionId"].asString(),
                       later.payload["secret"].asString());
  EXPECT_TRUE(renewed.ok);
}

// Subscribers renew every third of the timeout, and a hostile one as often
// as it likes: the record is written only once what it holds has less than
// half the timeout left, so flash is not worn by renewals and a restart still
// finds the session alive until the next scheduled renewal.
TEST_F(SessionsTest, RenewalsLongBeforeTheyAreDueWriteNothing) {
  const std::int64_t t0 = now_;
  auto s = request("10.77.2.2");
  ASSERT_TRUE(s.ok);
  const std::string id = s.payload["sessionId"].asString(), secret = s.payload["secret"].asString();
  auto stored_expiry = [&] {
    store_->flush();
    return store_->call<std::int64_t>([&](sqlite3* db) {
      Statement st(db, "SELECT expires FROM gateway_sessions WHERE id = ?");
      st.bind_text(1, id);
      return st.step() ? st.column_int64(0) : std::int64_t{-1};
    });
  };
  ASSERT_EQ(stored_expiry(), t0 + 60);
  now_ = t0 + 1;
  for (int i = 0; i < 1000; ++i) {
    auto r = renew("10.77.2.2", id, secret);
    ASSERT_TRUE(r.ok);
    EXPECT_EQ(r.payload["expires"].asInt64(), t0 + 61);  // the answer is the new expiry
  }
  EXPECT_EQ(stored_expiry(), t0 + 60) << "renewals long before they were due were written";
  now_ = t0 + 31;  // what is stored has 29 s left, less than half of 60
  ASSERT_TRUE(renew("10.77.2.2", id, secret).ok);
  EXPECT_EQ(stored_expiry(), t0 + 91);
}

}  // namespace
}  // namespace mnigs
