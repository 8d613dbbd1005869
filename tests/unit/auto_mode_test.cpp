// Auto mode (connection_fixture.hpp): choosing and moving between two
// gateways, the warm standby, hold-downs, failback, pinning, and testGateway
// beside a connection.
#include "connection_fixture.hpp"

namespace mnigs::subscriber_test {
namespace {

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
}  // namespace mnigs::subscriber_test
