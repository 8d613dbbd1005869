// The subscriber's connection (connection_fixture.hpp): renewal at a third
// of the timeout, teardown when a renewal is refused or nothing answers
// until expiry, the connection kept across a restart (or reported expired),
// disconnect, and the checks on what a gateway grants.
#include "connection_fixture.hpp"
#include "dht/offer.hpp"
#include "subscriber/grant.hpp"
#include "util/json_text.hpp"

namespace mnigs::subscriber_test {
namespace {

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

// The key the tunnel pins the gateway by (gateway_key.hpp), as the tunnel's
// connect() receives it.
class GatewayKeyTest : public ConnectionTest {
 protected:
  static constexpr const char* kIdentity =
      "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
  const std::string key_ = "sha256:" + std::string(64, 'a');
  const std::string other_ = "sha256:" + std::string(64, 'b');

  static Json::Value keys(const std::string& fake) {
    Json::Value k(Json::objectValue);
    k["fake"] = fake;
    return k;
  }
  // What the gateway's nodeInfo says: its DHT identity and its tunnelKeys
  // (left out when null).
  void node_info(const std::string& identity, const Json::Value& tunnel_keys) {
    Json::Value extra(Json::objectValue);
    if (!identity.empty()) extra["dht"]["id"] = identity;
    if (!tunnel_keys.isNull()) extra["tunnelKeys"] = tunnel_keys;
    gateway_->send_node_info(extra);
  }
  // An offer heard in the DHT, as the DHT service keeps it.
  void heard_offer(const std::string& identity, const std::string& address,
                   const std::string& fake) {
    GatewayOffer o;
    o.node_id = identity;
    o.addresses = {address};
    o.keys["fake"] = fake;
    o.expires = clock_.unix_seconds() + 600;
    store_->call<bool>([&](sqlite3* db) {
      Statement st(db, "INSERT OR REPLACE INTO dht_offers (node_id, offer, received, expires) "
                       "VALUES (?, ?, ?, ?)");
      st.bind_text(1, o.node_id)
          .bind_text(2, to_json_text(offer_to_json(o)))
          .bind_int64(3, clock_.unix_seconds())
          .bind_int64(4, o.expires);
      st.step();
      return true;
    });
  }
  Json::Value connected_params() { return tunnel_status()["lastParams"]; }
};

TEST_F(GatewayKeyTest, TheKeyFromNodeInfoReachesTheTunnelAndSurvivesARestart) {
  node_info("", keys(key_));
  Reply r = connect();
  ASSERT_TRUE(r.ok) << r.payload;
  Json::Value params = connected_params();
  EXPECT_EQ(params["gatewayKey"], key_) << params;
  EXPECT_EQ(params["gatewayKeySource"], "nodeInfo") << params;
  EXPECT_EQ(params["routing"], "default") << params;  // beside the usual params
  EXPECT_EQ(r.payload["gatewayKey"], key_) << r.payload;
  EXPECT_EQ(describe()["connection"]["gatewayKeySource"], "nodeInfo");

  // The resumed tunnel pins the same key, without asking the gateway again.
  node_info("", keys(other_));
  restart();
  EXPECT_EQ(state(), "connected");
  EXPECT_EQ(tunnel_status()["connected"].size(), 2u);
  params = connected_params();
  EXPECT_EQ(params["gatewayKey"], key_) << params;
  EXPECT_EQ(params["gatewayKeySource"], "nodeInfo") << params;
  EXPECT_EQ(gateway_->calls("nodeInfo").size(), 1u);
}

// A record whose key the rules refuse (written by hand, or under older
// rules) is not resumed with it, nor without it.
TEST_F(GatewayKeyTest, AStoredKeyThatIsRefusedDropsTheStoredConnection) {
  node_info("", keys(key_));
  ASSERT_TRUE(connect().ok);
  for (const char* change : {"gateway_key = 'sha256 ab'", "gateway_key_source = 'hearsay'"}) {
    const auto connects = tunnel_status()["connected"].size();
    wait([&](auto done) { manager_->stop(done); });
    stopped_.push_back(std::move(manager_));
    store_->post([change](sqlite3* db) {
      exec(db, std::string("UPDATE subscriber_connection SET ") + change);
    });
    store_->flush();
    manager_ = make_manager();
    Json::Value d = describe();
    EXPECT_EQ(d["state"], "idle") << change;
    EXPECT_NE(d["lastError"].asString().find("cannot be resumed ("), std::string::npos) << d;
    EXPECT_EQ(tunnel_status()["connected"].size(), connects) << "resumed: " << change;
    ASSERT_TRUE(connect().ok);  // a new session, a key asked for anew
    EXPECT_EQ(connected_params()["gatewayKey"], key_);
  }
}

TEST_F(GatewayKeyTest, WithoutAKeyTheParamsNameNoneWhateverTheGatewaysTunnelObjectSays) {
  Json::Value forged(Json::objectValue);
  forged["gatewayKey"] = other_;
  forged["gatewayKeySource"] = "offer";
  gateway_->send_tunnel(forged);
  ASSERT_TRUE(connect().ok);
  Json::Value params = connected_params();
  EXPECT_FALSE(params.isMember("gatewayKey")) << params;
  EXPECT_FALSE(params.isMember("gatewayKeySource")) << params;
  EXPECT_FALSE(describe()["connection"].isMember("gatewayKey"));
}

TEST_F(GatewayKeyTest, TheSignedOfferOfTheIdentityTheGatewayNamesWins) {
  heard_offer(kIdentity, "127.0.0.1", key_);
  node_info(kIdentity, Json::Value());
  ASSERT_TRUE(connect().ok);
  Json::Value params = connected_params();
  EXPECT_EQ(params["gatewayKey"], key_) << params;
  EXPECT_EQ(params["gatewayKeySource"], "offer") << params;
  ASSERT_TRUE(ask([&](Responder r) { manager_->disconnect(r); }).ok);

  // The same key in both: the offer's.
  node_info(kIdentity, keys(key_));
  ASSERT_TRUE(connect().ok);
  EXPECT_EQ(connected_params()["gatewayKeySource"], "offer");
}

TEST_F(GatewayKeyTest, AKeyInNodeInfoThatDiffersFromTheSignedOfferRefusesTheConnection) {
  heard_offer(kIdentity, "127.0.0.1", key_);
  node_info(kIdentity, keys(other_));
  Reply r = connect();
  ASSERT_FALSE(r.ok);
  const std::string message = r.payload["message"].asString();
  EXPECT_NE(message.find("the gateway's key for fake in nodeInfo differs from its signed DHT "
                         "offer: nodeInfo says \"" + other_ + "\", the offer \"" + key_ + "\""),
            std::string::npos)
      << message;
  EXPECT_EQ(gateway_->calls("requestConnection").size(), 0u) << "a session was asked for";
  EXPECT_EQ(tunnel_status()["connected"].size(), 0u);
  EXPECT_EQ(state(), "idle");
  EXPECT_EQ(describe()["lastError"], message);
}

// Anyone may sign an offer listing any address: an offer of another
// identity, or one that does not list the address reached, says nothing.
TEST_F(GatewayKeyTest, OnlyTheGatewaysOwnOfferForTheAddressReachedCounts) {
  const std::string stranger(64, 'e');
  heard_offer(stranger, "127.0.0.1", other_);
  node_info(kIdentity, keys(key_));
  ASSERT_TRUE(connect().ok);
  EXPECT_EQ(connected_params()["gatewayKey"], key_);
  EXPECT_EQ(connected_params()["gatewayKeySource"], "nodeInfo");
  ASSERT_TRUE(ask([&](Responder r) { manager_->disconnect(r); }).ok);

  heard_offer(kIdentity, "10.77.1.1", other_);
  ASSERT_TRUE(connect().ok);
  EXPECT_EQ(connected_params()["gatewayKey"], key_);
  EXPECT_EQ(connected_params()["gatewayKeySource"], "nodeInfo");
  ASSERT_TRUE(ask([&](Responder r) { manager_->disconnect(r); }).ok);

  // An offer that expired is not believed either.
  heard_offer(kIdentity, "127.0.0.1", other_);
  clock_.advance(601s);
  ASSERT_TRUE(connect().ok);
  EXPECT_EQ(connected_params()["gatewayKeySource"], "nodeInfo");
}

TEST_F(GatewayKeyTest, MalformedTunnelKeysInNodeInfoAreLeftOutAndSaid) {
  Json::Value bad = keys("sha256 with a space");
  node_info("", bad);
  ::testing::internal::CaptureStderr();
  Reply r = connect();
  const std::string said = ::testing::internal::GetCapturedStderr();
  ASSERT_TRUE(r.ok) << r.payload;
  EXPECT_FALSE(connected_params().isMember("gatewayKey")) << connected_params();
  EXPECT_NE(said.find("127.0.0.1: the gateway's nodeInfo has unusable tunnel keys, left out "
                      "(\"tunnelKeys\": the key for \"fake\" is not"),
            std::string::npos)
      << said;
}

// The tunnel's own key goes to the gateway in requestConnection, and back to
// the tunnel with every connect, the resumed one too; a tunnel that cannot
// say its key stops the request before the gateway is asked.
TEST_F(GatewayKeyTest, TheTunnelsOwnKeyIsSentAndKeptAndItsErrorStopsTheRequest) {
  Json::Value v = config_->get()->values();
  v["fake"]["subscriberKey"] = other_;
  config_->set(std::make_shared<const Config>("", v));
  ASSERT_TRUE(connect().ok);
  ASSERT_EQ(gateway_->calls("requestConnection").size(), 1u);
  EXPECT_EQ(gateway_->calls("requestConnection")[0]["subscriberKey"], other_);
  EXPECT_EQ(tunnel_status()["lastKey"], other_);
  EXPECT_EQ(describe()["connection"]["subscriberKey"], other_);
  restart();
  EXPECT_EQ(state(), "connected");
  EXPECT_EQ(tunnel_status()["lastKey"], other_);

  ASSERT_TRUE(ask([&](Responder reply) { manager_->disconnect(reply); }).ok);
  v["fake"]["subscriberKey"] = "error: no certificate yet";
  config_->set(std::make_shared<const Config>("", v));
  Reply r = connect();
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.payload.toStyledString().find("no certificate yet"), std::string::npos) << r.payload;
  EXPECT_EQ(gateway_->calls("requestConnection").size(), 1u);

  v["fake"]["subscriberKey"] = "";
  config_->set(std::make_shared<const Config>("", v));
  ASSERT_TRUE(connect().ok);
  EXPECT_FALSE(gateway_->calls("requestConnection").back().isMember("subscriberKey"));
}

}  // namespace
}  // namespace mnigs::subscriber_test
