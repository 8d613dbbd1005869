// Unit tests of what the laptop does with a paired page: the calls it asks
// the page to make, the session it keeps across reloads, and what it does
// with what the page (or the gateway through it) sends back, bad input
// included. The page is played by the test; Effects are recorded.
#include "controller.hpp"

#include <gtest/gtest.h>
#include <json/reader.h>
#include <json/writer.h>

#include <boost/asio/io_context.hpp>
#include <deque>
#include <functional>
#include <string>
#include <vector>

namespace mnigs::tether {
namespace {

Json::Value parse(const std::string& text) {
  Json::Value v;
  Json::CharReaderBuilder b;
  std::unique_ptr<Json::CharReader> r(b.newCharReader());
  EXPECT_TRUE(r->parse(text.data(), text.data() + text.size(), &v, nullptr)) << text;
  return v;
}

std::string compact(const Json::Value& v) {
  Json::StreamWriterBuilder w;
  w["indentation"] = "";
  return Json::writeString(w, v);
}

// What the websocket gateway answers to requestConnection (core/gateway,
// plugins/tunnel/websocket): the fields the tether uses.
Json::Value granted_result() {
  Json::Value r = parse(R"({"sessionId":"5b4f0c2a9d8e7f6a5b4f0c2a9d8e7f6a",
    "suite":"static-websocket-free","timeout":300,"expires":1000300,
    "tunnel":{"path":"/ws/websocket",
      "address4":"10.98.0.2","prefix4":24,"gateway4":"10.98.0.1","address6":"fd98::2","prefix6":64,
      "gateway6":"fd98::1","mtu":1400}})");
  r["secret"] = std::string(64, 'e');
  r["tunnel"]["token"] = std::string(64, 'a');
  return r;
}

class Recorder : public Effects {
 public:
  void send_to_page(const std::string& text) override { sent.push_back(parse(text)); }
  void bring_up(const Session& session, const std::string& via,
                std::function<void(std::string)> done) override {
    ++brought_up;
    last_via = via;
    last_session = session;
    pending_up = std::move(done);
  }
  void tear_down(std::function<void()> done) override {
    ++torn_down;
    if (hold_tear_down)
      pending_down = std::move(done);
    else
      done();
  }
  bool hold_tear_down = false;  // the device takes its time going
  std::function<void()> pending_down;
  void save_session(const Json::Value& s) override { saved = s; }
  void save_gateway(const std::string& g) override { remembered = g; }
  std::int64_t unix_now() const override { return 1000000; }

  std::deque<Json::Value> sent;
  int brought_up = 0, torn_down = 0;
  std::string last_via, remembered;
  Session last_session;
  Json::Value saved;
  std::function<void(std::string)> pending_up;
};

class ControllerTest : public ::testing::Test {
 protected:
  // The next message the laptop sent the page, of `type` (others before it
  // are skipped: state messages come and go).
  Json::Value next(const std::string& type) {
    io_.poll();
    while (!fx_.sent.empty()) {
      Json::Value m = fx_.sent.front();
      fx_.sent.pop_front();
      if (m["type"] == type) return m;
    }
    ADD_FAILURE() << "no \"" << type << "\" message";
    return Json::Value();
  }
  void answer(const Json::Value& call, const Json::Value& result) {
    Json::Value a(Json::objectValue);
    a["type"] = "answer";
    a["id"] = call["id"];
    Json::Value r(Json::objectValue);
    r["jsonrpc"] = "2.0";
    r["id"] = call["body"]["id"];
    r["result"] = result;
    a["response"] = r;
    c_.page_text(compact(a));
  }
  void answer_error(const Json::Value& call, int code, const std::string& message) {
    Json::Value a(Json::objectValue);
    a["type"] = "answer";
    a["id"] = call["id"];
    a["response"]["jsonrpc"] = "2.0";
    a["response"]["id"] = call["body"]["id"];
    a["response"]["error"]["code"] = code;
    a["response"]["error"]["message"] = message;
    c_.page_text(compact(a));
  }
  // From a fresh page to an open link: hello, nodeInfo, requestConnection,
  // the device up, "open".
  Json::Value connect() {
    c_.page_attached("192.168.7.2");
    EXPECT_EQ(next("hello")["gateway"], "10.77.1.1:65533");
    Json::Value info = next("call");
    EXPECT_EQ(info["url"], "http://10.77.1.1:65533/jsonrpc");
    EXPECT_EQ(info["body"]["method"], "nodeInfo");
    answer(info, parse(R"({"suites":["static-forwarding-free","static-websocket-webpage",
                                      "static-websocket-free"]})"));
    Json::Value req = next("call");
    EXPECT_EQ(req["body"]["method"], "requestConnection");
    EXPECT_EQ(req["body"]["params"]["suite"], "static-websocket-free");
    answer(req, granted_result());
    io_.poll();
    EXPECT_EQ(fx_.last_via, "192.168.7.2");
    if (fx_.pending_up) std::exchange(fx_.pending_up, nullptr)("");
    return next("open");
  }

  boost::asio::io_context io_;
  Recorder fx_;
  Controller c_{io_.get_executor(), fx_};
  void SetUp() override { c_.set_configured_gateway("10.77.1.1:65533"); }
};

TEST_F(ControllerTest, APageGetsASessionAndOpensTheTunnel) {
  Json::Value open = connect();
  EXPECT_EQ(open["url"], "ws://10.77.1.1:65533/ws/websocket");
  ASSERT_EQ(open["protocols"].size(), 3u);
  EXPECT_EQ(open["protocols"][0], "mnigs-l3");
  EXPECT_EQ(open["protocols"][1], "mnigs-session.5b4f0c2a9d8e7f6a5b4f0c2a9d8e7f6a");
  EXPECT_EQ(open["protocols"][2].asString().substr(0, 12), "mnigs-token.");
  EXPECT_EQ(fx_.last_session.tunnel["address6"], "fd98::2");
  EXPECT_EQ(fx_.saved["sessionId"], "5b4f0c2a9d8e7f6a5b4f0c2a9d8e7f6a");
  c_.page_text(R"({"type":"link","open":true})");
  EXPECT_EQ(c_.status()["state"], "connected");
  EXPECT_TRUE(c_.status()["tunnelUp"].asBool());
}

// Reloading the page: the laptop's tunnel goes down with the old page and
// comes back with the new one on the same session, renewed, not a new one.
TEST_F(ControllerTest, AReloadedPageResumesTheSameSession) {
  connect();
  c_.page_text(R"({"type":"link","open":true})");
  c_.page_detached("the peer closed the connection");
  EXPECT_EQ(fx_.torn_down, 1);
  EXPECT_EQ(c_.status()["state"], "waiting for the page");
  EXPECT_NE(c_.status()["detail"].asString().find("the peer closed"), std::string::npos);
  EXPECT_FALSE(c_.status()["tunnelUp"].asBool());

  c_.page_attached("192.168.7.2");
  next("hello");
  Json::Value renew = next("call");
  EXPECT_EQ(renew["body"]["method"], "renewConnection");
  EXPECT_EQ(renew["body"]["params"]["sessionId"], "5b4f0c2a9d8e7f6a5b4f0c2a9d8e7f6a");
  answer(renew, parse(R"({"sessionId":"5b4f0c2a9d8e7f6a5b4f0c2a9d8e7f6a","timeout":300,
                           "expires":1000600})"));
  io_.poll();
  ASSERT_EQ(fx_.brought_up, 2);
  std::exchange(fx_.pending_up, nullptr)("");
  EXPECT_EQ(next("open")["protocols"][1], "mnigs-session.5b4f0c2a9d8e7f6a5b4f0c2a9d8e7f6a");
  EXPECT_EQ(c_.status()["session"]["expires"], 1000600);
  EXPECT_EQ(c_.status()["sessionsRequested"], 1u);
}

TEST_F(ControllerTest, ASessionGoneAtTheGatewayIsAskedForAgain) {
  connect();
  c_.page_detached("reload");
  c_.page_attached("192.168.7.2");
  Json::Value renew = next("call");
  answer_error(renew, -32004, "no such session");
  EXPECT_TRUE(fx_.saved.isNull());  // forgotten
  EXPECT_EQ(next("call")["body"]["method"], "nodeInfo");
}

TEST_F(ControllerTest, WithoutAGatewayThePageIsAskedAndItsAnswerRemembered) {
  c_.set_configured_gateway("");
  c_.page_attached("192.168.7.2");
  EXPECT_EQ(next("hello")["gateway"], "");
  EXPECT_EQ(c_.status()["state"], "waiting for the gateway's address");
  c_.page_text(R"({"type":"gateway","address":"not an address"})");
  EXPECT_EQ(c_.status()["state"], "waiting for the gateway's address");
  EXPECT_NE(c_.status()["detail"].asString().find("not an address"), std::string::npos);
  EXPECT_EQ(fx_.remembered, "");
  c_.page_text(R"({"type":"gateway","address":"fd00::1"})");
  EXPECT_EQ(fx_.remembered, "[fd00::1]:65533");
  EXPECT_EQ(next("call")["url"], "http://[fd00::1]:65533/jsonrpc");
}

TEST_F(ControllerTest, AConfiguredGatewayIsNotReplacedByThePage) {
  c_.page_attached("192.168.7.2");
  next("call");
  c_.page_text(R"({"type":"gateway","address":"10.66.6.6"})");
  EXPECT_EQ(fx_.remembered, "");
  EXPECT_EQ(c_.status()["pageMessagesDropped"], 1u);
}

// What a hostile page (or gateway, through it) may send: nothing of it is
// used, and nothing is brought up.
TEST_F(ControllerTest, BadMessagesAndAnswersChangeNothing) {
  c_.page_attached("192.168.7.2");
  Json::Value info = next("call");
  for (const char* bad : {"", "not json", "[]", R"({"type":7})", R"({"type":"answer","id":"1"})",
                          R"({"type":"answer","id":999})", R"({"type":"link","open":"yes"})",
                          R"({"type":"whatever"})", "deep"})
    c_.page_text(std::string(bad) == "deep"
                     ? std::string(20, '[') + std::string(20, ']')  // past the depth limit
                     : std::string(bad));
  c_.page_text(std::string(Controller::max_text + 1, ' '));
  EXPECT_EQ(c_.status()["pageMessagesDropped"], 10u);
  answer(info, parse(R"({"suites":["static-forwarding-free"]})"));
  EXPECT_NE(c_.status()["detail"].asString().find("no websocket tunnel"), std::string::npos);
  EXPECT_EQ(fx_.brought_up, 0);
}

TEST_F(ControllerTest, AGrantedSessionWithUnusableTunnelParametersIsRefused) {
  for (const char* tunnel :
       {R"("none")", R"({"path":"/ws websocket","token":"ab","address4":"10.98.0.2"})",
        R"({"path":"/ws","token":"a/b","address4":"10.98.0.2"})", R"({"path":"/ws","token":"ab"})",
        R"({"path":"/ws","token":"ab","address4":"fd98::2"})",
        R"({"path":"/ws","token":"ab","address4":"10.98.0.2","prefix4":33})",
        R"({"path":"/ws","token":"ab","address6":"fd98::2","mtu":1000})"}) {
    SCOPED_TRACE(tunnel);
    Json::Value t = parse(tunnel);
    EXPECT_NE(tunnel_refusal(t), "");
  }
  EXPECT_EQ(tunnel_refusal(granted_result()["tunnel"]), "");

  c_.page_attached("192.168.7.2");
  answer(next("call"), parse(R"({"suites":["static-websocket-free"]})"));
  Json::Value r = granted_result();
  r["tunnel"]["path"] = "/ws\r\nX-Evil: 1";
  answer(next("call"), r);
  EXPECT_EQ(fx_.brought_up, 0);
  EXPECT_EQ(c_.status()["state"], "failed");
  EXPECT_TRUE(fx_.saved.isNull());
}

// An answer that comes after its page left is no answer to anything.
TEST_F(ControllerTest, AnAnswerAfterThePageLeftIsIgnored) {
  c_.page_attached("192.168.7.2");
  Json::Value info = next("call");
  c_.page_detached("gone");
  answer(info, parse(R"({"suites":["static-websocket-free"]})"));
  io_.poll();
  EXPECT_TRUE(fx_.sent.empty());
  EXPECT_EQ(c_.status()["pageMessagesDropped"], 1u);
  EXPECT_EQ(fx_.brought_up, 0);
}

// Answers of any shape may come from a hostile gateway or page: nothing
// throws, the failure is told, and it is tried again later.
TEST_F(ControllerTest, AnswersOfTheWrongShapeAreFailuresNotExceptions) {
  c_.page_attached("192.168.7.2");
  Json::Value info = next("call");
  c_.page_text(R"({"type":"answer","id":1,"response":{"error":"no object"}})");
  EXPECT_EQ(c_.status()["state"], "failed");
  EXPECT_NE(c_.status()["detail"].asString().find("an error without a message"), std::string::npos);
  EXPECT_NE(c_.status()["detail"].asString().find("trying again"), std::string::npos);
  c_.page_detached("reload");
  c_.page_attached("192.168.7.2");
  answer(next("call"), Json::Value("a string, not an object"));
  EXPECT_NE(c_.status()["detail"].asString().find("not an object"), std::string::npos);
  EXPECT_EQ(fx_.brought_up, 0);
}

// --tether off while the page is away with the release in flight: the
// shutdown still ends, the session is forgotten.
TEST_F(ControllerTest, TurningOffFinishesEvenWhenThePageLeavesMidway) {
  connect();
  bool done = false;
  c_.shut_down([&] { done = true; });
  Json::Value release = next("call");
  EXPECT_EQ(release["body"]["method"], "releaseConnection");
  EXPECT_FALSE(done);
  c_.page_detached("frozen in the background");
  EXPECT_TRUE(done);
  EXPECT_TRUE(fx_.saved.isNull());
  EXPECT_EQ(c_.status()["state"], "off");
}

// --tether off says "off" only once the device and routes are gone, so
// that whoever reads it finds them gone.
TEST_F(ControllerTest, OffOnlyOnceTheDeviceIsGone) {
  connect();
  fx_.hold_tear_down = true;
  bool done = false;
  c_.shut_down([&] { done = true; });
  Json::Value release = next("call");
  answer(release, Json::Value(Json::objectValue));
  ASSERT_TRUE(fx_.pending_down) << "the tunnel was not taken down";
  EXPECT_FALSE(done);
  EXPECT_NE(c_.status()["state"], "off");
  fx_.pending_down();
  EXPECT_TRUE(done);
  EXPECT_EQ(c_.status()["state"], "off");
}

// A reload while the device is still coming up for the page before: once
// that finishes (and the device is taken down for it), the new page gets
// the tunnel, not a wait for the next renewal.
TEST_F(ControllerTest, AReloadWhileTheTunnelComesUpBringsItUpForTheNewPage) {
  c_.page_attached("192.168.7.2");
  answer(next("call"), parse(R"({"suites":["static-websocket-free"]})"));
  answer(next("call"), granted_result());
  io_.poll();
  ASSERT_EQ(fx_.brought_up, 1);
  auto first = std::exchange(fx_.pending_up, nullptr);
  c_.page_detached("reload");
  c_.page_attached("192.168.7.2");
  Json::Value renew = next("call");
  answer(renew, parse(R"({"timeout":300,"expires":1000600})"));
  first("");  // the first page's bring_up ends now
  io_.poll();
  EXPECT_EQ(fx_.brought_up, 2);
  ASSERT_TRUE(fx_.pending_up);
  std::exchange(fx_.pending_up, nullptr)("");
  EXPECT_TRUE(c_.status()["tunnelUp"].asBool());
}

TEST(ChooseSuite, FreeWebsocketSuitesOnly) {
  std::string why;
  Json::Value suites(Json::arrayValue);
  suites.append("batman-adv-websocket-free");
  EXPECT_EQ(choose_suite(suites, &why), "batman-adv-websocket-free");
  Json::Value paid(Json::arrayValue);
  paid.append("babel-websocket-webpage");
  EXPECT_EQ(choose_suite(paid, &why), "");
  EXPECT_NE(why.find("payment"), std::string::npos);
  EXPECT_EQ(choose_suite(Json::Value("x"), &why), "");
}

TEST(StoredSession, RoundTripsAndRefusesWhatIsNotOne) {
  auto s = Session::from_json(parse(R"({"gateway":"10.0.0.1:65533","sessionId":"abc","secret":"def",
                                          "expires":5,"tunnel":{"path":"/ws/websocket","token":"t",
                                          "address4":"10.98.0.2"}})"));
  ASSERT_TRUE(s);
  EXPECT_EQ(Session::from_json(s->to_json())->tunnel["address4"], "10.98.0.2");
  EXPECT_FALSE(Session::from_json(parse(R"({"gateway":"x","sessionId":"abc"})")));
}

}  // namespace
}  // namespace mnigs::tether
