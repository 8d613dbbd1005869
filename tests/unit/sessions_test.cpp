// The gateway's session protocol on a fake tunnel and a fake clock: ids and
// secrets, suites, limits, renewal rules, expiry, release, and sessions
// surviving a restart of the manager.
#include "gateway/sessions.hpp"
#include "store/sqlite.hpp"
#include "test_util.hpp"

#include <gtest/gtest.h>
#include <json/reader.h>

#include <boost/asio/executor_work_guard.hpp>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <set>
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
    values["gateway"]["payments"] = Json::Value(Json::arrayValue);
    values["gateway"]["payments"].append("fakepay");
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
    // Before io_ goes: the store's worker may still hold a completion that
    // carries a strand of io_.
    store_.reset();
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

  // fakepay.charges on: sessions must be paid with a voucher.
  void charge() {
    Json::Value values = config_->get()->values();
    values["fakepay"]["charges"] = true;
    config_->set(std::make_shared<const Config>("", values));
  }
  Answer vouchers(const char* method, Json::Value params) {
    return ask([&](Responder r) {
      if (std::string(method) == "create") manager_->create_vouchers(params, r);
      else if (std::string(method) == "list") manager_->list_vouchers(params, r);
      else manager_->revoke_voucher(params, r);
    });
  }
  // One voucher of `terms`; its code.
  std::string voucher(Json::Value terms = Json::Value(Json::objectValue)) {
    auto a = vouchers("create", terms);
    EXPECT_TRUE(a.ok) << a.payload.toStyledString();
    return a.payload["vouchers"][0]["code"].asString();
  }
  PaymentState state_at(const std::string& address) {
    std::promise<PaymentState> p;
    manager_->session_at(address, [&](PaymentState s) { p.set_value(s); });
    return p.get_future().get();
  }
  PaymentState redeem(const std::string& address, const std::string& code) {
    std::promise<PaymentState> p;
    manager_->redeem(address, "", code, [&](PaymentState s) { p.set_value(s); });
    return p.get_future().get();
  }
  // What the meter would read: `bytes` charged to voucher `id`.
  void charge_account(std::int64_t id, std::int64_t bytes) {
    MeterReading r;
    r.accounts[id] = bytes;
    std::promise<void> p;
    boost::asio::post(io_, [&] {
      manager_->account(r);
      p.set_value();
    });
    p.get_future().get();
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

// A subscriber that lost its state asks again and gets a new session in
// place of its old one; a web page from another origin, which any site a
// visitor opens could be, may not do that to the visitor's address.
TEST_F(SessionsTest, AnotherOriginsPageCannotReplaceTheAddressSession) {
  auto first = request("10.77.2.2");
  ASSERT_TRUE(first.ok);
  const std::string id = first.payload["sessionId"].asString();
  CallInfo page = from("10.77.2.2");
  page.cross_origin = true;
  Json::Value p(Json::objectValue);
  p["suite"] = "testnet-fake-fakepay";
  auto refused = ask([&](Responder r) { manager_->request(p, page, r); });
  EXPECT_EQ(refused.code(), rpc_error::conflict);
  EXPECT_NE(refused.payload["message"].asString().find("another origin"), std::string::npos);
  ASSERT_EQ(list().size(), 1u);
  EXPECT_EQ(list()[0]["sessionId"], id);
  // Where the address holds none, the page gets one.
  CallInfo other = from("10.77.3.2");
  other.cross_origin = true;
  EXPECT_TRUE(ask([&](Responder r) { manager_->request(p, other, r); }).ok);
  // Without a page in between, the subscriber's new request replaces its own.
  auto again = request("10.77.2.2");
  ASSERT_TRUE(again.ok);
  EXPECT_NE(again.payload["sessionId"].asString(), id);
  EXPECT_EQ(list().size(), 2u);
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

TEST_F(SessionsTest, TheOperatorEndsASessionAndItsRenewalsFail) {
  auto s = request("10.77.2.2");
  const std::string id = s.payload["sessionId"].asString(), secret = s.payload["secret"].asString();
  auto end = [&](const Json::Value& params) {
    return ask([&](Responder r) { manager_->end_by_operator(params, r); });
  };
  Json::Value wrong_type(Json::objectValue), extra(Json::objectValue), none(Json::objectValue);
  wrong_type["sessionId"] = 5;
  extra["sessionId"] = id;
  extra["more"] = 1;
  for (const Json::Value& bad : {Json::Value(), Json::Value(Json::arrayValue), none, wrong_type,
                                 extra})
    EXPECT_EQ(end(bad).code(), rpc_error::invalid_params) << bad.toStyledString();
  Json::Value unknown(Json::objectValue);
  unknown["sessionId"] = "nope";
  EXPECT_EQ(end(unknown).code(), rpc_error::not_found);
  EXPECT_EQ(list().size(), 1u);
  Json::Value params(Json::objectValue);
  params["sessionId"] = id;
  auto r = end(params);
  ASSERT_TRUE(r.ok);
  EXPECT_TRUE(r.payload["released"].asBool());
  EXPECT_EQ(list().size(), 0u);
  EXPECT_EQ(renew("10.77.2.2", id, secret).code(), rpc_error::not_found);
  EXPECT_EQ(end(params).code(), rpc_error::not_found);
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

TEST_F(SessionsTest, VouchersAreCreatedListedAndRevokedAndBadTermsCreateNone) {
  Json::Value terms(Json::objectValue);
  terms["count"] = 3;
  terms["minutes"] = 60;
  terms["bytes"] = "1G";
  terms["rateDown"] = "4mbit";
  terms["rateUp"] = "1mbit";
  terms["devices"] = 2;
  auto made = vouchers("create", terms);
  ASSERT_TRUE(made.ok) << made.payload.toStyledString();
  ASSERT_EQ(made.payload["vouchers"].size(), 3u);
  std::set<std::string> codes;
  for (const auto& v : made.payload["vouchers"]) {
    const std::string code = v["code"].asString();
    ASSERT_EQ(code.size(), 14u) << code;  // XXXX-XXXX-XXXX
    EXPECT_EQ(code[4], '-');
    EXPECT_EQ(code.find_first_not_of("0123456789ABCDEFGHJKMNPQRSTVWXYZ-"), std::string::npos);
    codes.insert(code);
    EXPECT_EQ(v["bytes"].asInt64(), 1'000'000'000);
    EXPECT_EQ(v["rateDown"].asInt64(), 4'000'000);
    EXPECT_EQ(v["rateUp"].asInt64(), 1'000'000);
    EXPECT_EQ(v["state"].asString(), "new");
  }
  EXPECT_EQ(codes.size(), 3u);

  for (const char* bad : {R"({"count": 0})", R"({"count": 1001})", R"({"bytes": "1X"})",
                          R"({"rateDown": "1kbit"})", R"({"minutes": -1})", R"({"devices": 0})",
                          R"({"colour": "red"})", R"({"validUntil": 5})", R"([1])"}) {
    Json::Value params;
    Json::Reader().parse(bad, params);
    auto a = vouchers("create", params);
    EXPECT_FALSE(a.ok) << bad;
    EXPECT_EQ(a.code(), rpc_error::invalid_params) << bad;
  }
  auto listed = vouchers("list", Json::Value());
  EXPECT_EQ(listed.payload["count"].asInt(), 3);

  Json::Value revoke(Json::objectValue);
  revoke["code"] = *codes.begin();
  auto r = vouchers("revoke", revoke);
  ASSERT_TRUE(r.ok) << r.payload.toStyledString();
  EXPECT_EQ(r.payload["voucher"]["state"].asString(), "spent");
  Json::Value spent(Json::objectValue);
  spent["state"] = "spent";
  EXPECT_EQ(vouchers("list", spent).payload["count"].asInt(), 1);
  revoke["code"] = "0000-0000-0000";
  EXPECT_EQ(vouchers("revoke", revoke).code(), rpc_error::not_found);
  revoke["code"] = "not a code!";
  EXPECT_EQ(vouchers("revoke", revoke).code(), rpc_error::invalid_params);
}

TEST_F(SessionsTest, AChargedSessionIsUnpaidUntilAVoucherIsRedeemed) {
  charge();
  auto a = request("10.77.2.2");
  ASSERT_TRUE(a.ok) << a.payload.toStyledString();
  EXPECT_TRUE(a.payload["payment"]["required"].asBool()) << a.payload.toStyledString();
  EXPECT_EQ(a.payload["payment"]["url"].asString(), "http://10.77.1.1:8/");
  EXPECT_FALSE(state_at("10.77.2.2").paid);
  EXPECT_EQ(state_at("10.77.9.9").session_id, "");

  Json::Value terms(Json::objectValue);
  terms["minutes"] = 60;
  terms["bytes"] = 10'000'000;
  const std::string code = voucher(terms);
  // Wrong, malformed and foreign codes change nothing.
  EXPECT_NE(redeem("10.77.2.2", "0000-0000-0000").error, "");
  EXPECT_NE(redeem("10.77.2.2", "short").error, "");
  EXPECT_NE(redeem("10.77.9.9", code).error, "");
  EXPECT_FALSE(state_at("10.77.2.2").paid);
  EXPECT_EQ(vouchers("list", Json::Value()).payload["vouchers"][0]["state"].asString(), "new");

  // Typed the way people type: lower case, no dashes, O for 0.
  std::string typed = code;
  typed.erase(std::remove(typed.begin(), typed.end(), '-'), typed.end());
  for (char& c : typed) c = (c == '0') ? 'o' : static_cast<char>(std::tolower(c));
  PaymentState st = redeem("10.77.2.2", typed);
  EXPECT_EQ(st.error, "");
  EXPECT_TRUE(st.paid);
  EXPECT_EQ(st.seconds_remaining, 3600);
  EXPECT_EQ(st.bytes_remaining, 10'000'000);
  auto renewed = renew("10.77.2.2", a.payload["sessionId"].asString(),
                       a.payload["secret"].asString());
  EXPECT_FALSE(renewed.payload["payment"]["required"].asBool());
  EXPECT_EQ(renewed.payload["payment"]["bytesRemaining"].asInt64(), 10'000'000);

  // Its time runs from its first use; once out, the session waits again.
  now_ += 3599;
  EXPECT_TRUE(state_at("10.77.2.2").paid);
  now_ += 1;
  EXPECT_FALSE(state_at("10.77.2.2").paid);
}

// Bad vouchers: a quota smaller than one packet is spent from the start,
// and a damaged row is never honoured, nor lost.
TEST_F(SessionsTest, ATinyQuotaIsSpentAtOnceAndADamagedRowIsLeftAlone) {
  charge();
  ASSERT_TRUE(request("10.77.2.2").ok);
  Json::Value tiny(Json::objectValue);
  tiny["bytes"] = 1000;
  EXPECT_EQ(redeem("10.77.2.2", voucher(tiny)).error, "the voucher's data is used up");
  EXPECT_FALSE(state_at("10.77.2.2").paid);

  const std::string code = voucher(Json::Value(Json::objectValue));
  std::string plain = code;
  plain.erase(std::remove(plain.begin(), plain.end(), '-'), plain.end());
  store_->flush();
  store_->call<bool>([&](sqlite3* db) {
    Statement st(db, "UPDATE vouchers SET used_bytes = -5 WHERE code = ?");
    st.bind_text(1, plain);
    st.step();
    return true;
  });
  stopped_.push_back(std::move(manager_));
  manager_ = make_manager();
  EXPECT_EQ(redeem("10.77.2.2", code).error, "no such voucher on this gateway");
  store_->flush();
  const std::int64_t rows = store_->call<std::int64_t>([](sqlite3* db) {
    Statement st(db, "SELECT COUNT(*) FROM vouchers");
    st.step();
    return st.column_int64(0);
  });
  EXPECT_EQ(rows, 2);
}

// A second hour bought while the first runs adds an hour; bytes add up.
TEST_F(SessionsTest, TopUpsAddTimeAfterTimeAndBytesToBytes) {
  charge();
  ASSERT_TRUE(request("10.77.2.2").ok);
  Json::Value hour(Json::objectValue);
  hour["minutes"] = 60;
  ASSERT_EQ(redeem("10.77.2.2", voucher(hour)).error, "");
  now_ += 600;
  EXPECT_EQ(state_at("10.77.2.2").seconds_remaining, 3000);
  PaymentState st = redeem("10.77.2.2", voucher(hour));
  EXPECT_EQ(st.error, "");
  EXPECT_EQ(st.seconds_remaining, 3000 + 3600);
  now_ += 3000 + 1;  // the first hour is over, the second runs
  EXPECT_TRUE(state_at("10.77.2.2").paid);
  EXPECT_EQ(state_at("10.77.2.2").seconds_remaining, 3599);

  // (Its time vouchers have no byte limit: no limit is left.)
  EXPECT_EQ(state_at("10.77.2.2").bytes_remaining, -1);
  ASSERT_TRUE(request("10.77.3.2").ok);
  Json::Value bytes(Json::objectValue);
  bytes["bytes"] = 5'000'000;
  ASSERT_EQ(redeem("10.77.3.2", voucher(bytes)).error, "");
  EXPECT_EQ(redeem("10.77.3.2", voucher(bytes)).bytes_remaining, 10'000'000);
}

TEST_F(SessionsTest, AVoucherServesAsManyDevicesAsItAllowsAndItsUsageIsNeverRefilled) {
  charge();
  auto first = request("10.77.2.2");
  ASSERT_TRUE(first.ok);
  auto second = request("10.77.3.2");
  ASSERT_TRUE(second.ok);
  Json::Value terms(Json::objectValue);
  terms["bytes"] = 10'000'000;
  const std::string code = voucher(terms);
  ASSERT_EQ(redeem("10.77.2.2", code).error, "");
  EXPECT_NE(redeem("10.77.3.2", code).error.find("in use on 1 device"), std::string::npos);
  EXPECT_FALSE(state_at("10.77.3.2").paid);

  const std::int64_t id = vouchers("list", Json::Value()).payload["vouchers"][0]["id"].asInt64();
  charge_account(id, 6'000'000);
  EXPECT_EQ(state_at("10.77.2.2").bytes_remaining, 4'000'000);
  // The second device takes it once the first lets go, with what is left.
  ASSERT_TRUE(release("10.77.2.2", first.payload["sessionId"].asString(),
                      first.payload["secret"].asString())
                  .ok);
  PaymentState st = redeem("10.77.3.2", code);
  EXPECT_EQ(st.error, "");
  EXPECT_EQ(st.bytes_remaining, 4'000'000);
  // A restart reads it back from the store.
  stopped_.push_back(std::move(manager_));
  manager_ = make_manager();
  EXPECT_EQ(state_at("10.77.3.2").bytes_remaining, 4'000'000);
  // Spent: the session waits for payment again, the voucher says why.
  charge_account(id, 4'000'000);
  EXPECT_FALSE(state_at("10.77.3.2").paid);
  EXPECT_EQ(vouchers("list", Json::Value()).payload["vouchers"][0]["why"].asString(),
            "the voucher's data is used up");
}

// The key a subscriber's tunnel end is admitted by reaches the tunnel, is
// listed, and is the same after a restart; one the syntax refuses makes no
// session and opens nothing.
TEST_F(SessionsTest, TheSubscribersKeyReachesTheTunnelAndSurvivesARestart) {
  Json::Value p(Json::objectValue);
  p["suite"] = "testnet-fake-fakepay";
  const std::string key = "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE+abc/def=";
  for (Json::Value bad : {Json::Value("two words"), Json::Value(std::string(129, 'k')),
                          Json::Value(""), Json::Value("k\n"), Json::Value(7)}) {
    p["subscriberKey"] = bad;
    auto refused = request("10.77.2.2", p);
    EXPECT_FALSE(refused.ok) << bad.toStyledString();
    EXPECT_NE(refused.payload["message"].asString().find("subscriberKey"), std::string::npos)
        << refused.payload.toStyledString();
  }
  EXPECT_EQ(tunnel_status()["opened"].size(), 0u);
  EXPECT_EQ(list().size(), 0u);

  p["subscriberKey"] = key;
  ASSERT_TRUE(request("10.77.2.2", p).ok);
  EXPECT_EQ(tunnel_status()["openedKeys"][0].asString(), key);
  ASSERT_TRUE(request("10.77.3.2").ok);  // without one
  EXPECT_EQ(tunnel_status()["openedKeys"][1].asString(), "");
  const Json::Value sessions = list();
  for (const auto& s : sessions)
    EXPECT_EQ(s.get("subscriberKey", "none").asString(),
              s["subscriber"] == "10.77.2.2" ? key : std::string("none"));

  wait([&](auto done) { manager_->stop(done); });
  stopped_.push_back(std::move(manager_));
  store_->flush();
  manager_ = make_manager();
  const Json::Value opened = tunnel_status()["openedKeys"];
  std::set<std::string> resumed;
  for (const auto& k : opened) resumed.insert(k.asString());
  EXPECT_EQ(opened.size(), 4u);
  EXPECT_EQ(resumed, (std::set<std::string>{key, ""}));
}

}  // namespace
}  // namespace mnigs
