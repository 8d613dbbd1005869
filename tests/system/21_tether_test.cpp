// Tethering end to end: a laptop with no route beyond its Wi-Fi link gets to
// the Internet through the page a real headless Chromium opens on the phone,
// which carries its packets to the gateway's websocket tunnel.
//
//   laptop ---- phone ---- gw ---- inet     link 1: laptop-phone (the Wi-Fi)
//                                           link 2: phone-gw     (the phone's uplink)
//                                           link 3: gw-inet      (the gateway's uplink)
//
// mnigsd runs on the laptop (tether) and the gateway; the phone runs only
// Chromium. The laptop has no route to the gateway or beyond: every packet
// it gets through crossed the browser. inet answers with the address it saw
// (the gateway's, since the gateway masquerades).
#include <unistd.h>

#include <algorithm>
#include <memory>
#include <string>

#include "harness/browser.hpp"
#include "harness/http_echo.hpp"
#include "harness/netns.hpp"
#include "harness/packets.hpp"
#include "harness/system_test.hpp"
#include "harness/tcp.hpp"
#include "harness/wait.hpp"

namespace mnigs::test {
namespace {

constexpr int kWebPort = 80;
constexpr int kTetherPort = 6354;
constexpr const char* kDevice = "mntether0";

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

class Tether : public SystemTest {
 protected:
  void SetUp() override {
    SystemTest::SetUp();
    if (HasFatalFailure()) return;
    topology_.node("laptop").node("phone").node("gw").node("inet");
    topology_.link("laptop", "phone").link("phone", "gw").link("gw", "inet");
    topology_.up();
    web_ =
        std::make_unique<HttpEcho>(topology_.ns("inet"), topology_.address("inet", "gw"), kWebPort);
    web6_ = std::make_unique<HttpEcho>(topology_.ns("inet"), topology_.address6("inet", "gw"),
                                       kWebPort);
    gw_ = std::make_unique<Node>(topology_, "gw",
                                 NodeOptions()
                                     .only_discovery("static")
                                     .set("gateway", "enabled", "true")
                                     .set("websocket", "keepalive", "1")
                                     .set("websocket", "timeout", "5"));
    laptop_ = std::make_unique<Node>(
        topology_, "laptop",
        NodeOptions()
            .only_discovery("static")
            .set("tether", "enabled", "true")
            .set("tether", "listen",
                 yaml_quote(laptop_address() + ":" + std::to_string(kTetherPort)))
            .set("tether", "gateway",
                 yaml_quote(gateway_address() + ":" + std::to_string(gw_->rpc_port())))
            .set("tether", "keepalive", "1")
            .set("tether", "timeout", "4")
            .set("daemon", "webuiDir", yaml_quote(std::string(MNIGS_SOURCE_DIR) + "/webui")));
    gw_->start();
    laptop_->start();
    gw_->wait_ready();
    laptop_->wait_ready();
  }

  std::string laptop_address() const { return topology_.address("laptop", "phone"); }
  std::string gateway_address() const { return topology_.address("gw", "phone"); }
  std::string page_url() const {
    return "http://" + laptop_address() + ":" + std::to_string(kTetherPort) + "/";
  }

  Json::Value tether() const {
    Json::Value r = laptop_->rpc("listPlugins");
    for (const auto& p : r["result"]["plugins"])
      if (p["name"].asString() == "tether") return p["status"];
    return Json::Value();
  }
  std::string code() const { return laptop_->rpc("tether.pairing")["result"]["code"].asString(); }
  bool connected() const {
    Json::Value t = tether();
    return t["state"].asString() == "connected" && t["tunnelUp"].asBool();
  }
  FetchResult fetch_from_laptop(const HttpEcho& web, std::chrono::milliseconds timeout = 5s) {
    return fetch(topology_.ns("laptop"), web.address(), kWebPort, "/", timeout);
  }
  std::string ip(const std::string& node, const std::vector<std::string>& args) const {
    std::vector<std::string> argv = {"ip"};
    argv.insert(argv.end(), args.begin(), args.end());
    return topology_.exec(node, argv, 10s).out;
  }
  // The page in `browser`, paired with the code in its URL, until the
  // laptop's tunnel is up.
  void pair(Browser& browser) {
    browser.open(page_url() + "#" + code());
    ASSERT_TRUE(wait_until([&] { return connected(); }, 150, 100ms))
        << to_json(tether()) << "\npage: " << browser.eval("document.body.innerText").asString()
        << laptop_->log_tail() << gw_->log_tail();
  }

  Topology topology_;
  std::unique_ptr<HttpEcho> web_, web6_;
  std::unique_ptr<Node> gw_, laptop_;
};

TEST_F(Tether, ThePhonesBrowserCarriesTheLaptopsTrafficBothFamilies) {
  // Nothing beyond the Wi-Fi link before the page pairs.
  EXPECT_FALSE(fetch_from_laptop(*web_, 2s).ok);
  EXPECT_EQ(tether()["state"], "waiting for the page");

  // What mnigs-cli --tether prints: the URL and the code.
  auto cli = laptop_->cli({"--tether"});
  ASSERT_EQ(cli.exit_code, 0) << cli.out << cli.err;
  EXPECT_TRUE(contains(cli.out, page_url() + "#" + code())) << cli.out;
  EXPECT_TRUE(contains(cli.out, "pairing code: " + code())) << cli.out;

  // The laptop's web UI shows the same page address and code, and then the
  // state as the phone pairs.
  Browser ui(topology_.ns("laptop"), laptop_->dir() + "/ui");
  ui.open("http://127.0.0.1:" + std::to_string(laptop_->rpc_port()) + "/#connection");
  ASSERT_TRUE(ui.wait_for("document.body.innerText.includes('Tether through a phone')"))
      << ui.eval("document.body.innerText").asString();
  const std::string panel =
      ui.eval("document.querySelector('[aria-label=tether]').innerText").asString();
  EXPECT_TRUE(contains(panel, page_url() + "#" + code())) << panel;
  EXPECT_TRUE(contains(panel, "waiting for the page")) << panel;

  Browser phone(topology_.ns("phone"), laptop_->dir() + "/phone");
  ASSERT_NO_FATAL_FAILURE(pair(phone));
  EXPECT_TRUE(
      ui.wait_for("document.querySelector('[aria-label=tether]').innerText"
                  ".includes('connected')",
                  15s))
      << ui.eval("document.body.innerText").asString();
  FetchResult four = fetch_from_laptop(*web_);
  ASSERT_TRUE(four.ok) << four.error << "\n"
                       << to_json(tether()) << "\n"
                       << ip("laptop", {"route", "get", web_->address()});
  EXPECT_EQ(four.body, "client=" + topology_.address("gw", "inet") + "\n");
  FetchResult six = fetch_from_laptop(*web6_);
  ASSERT_TRUE(six.ok) << six.error << "\n"
                      << ip("laptop", {"-6", "route", "get", web6_->address()});
  EXPECT_EQ(six.body, "client=" + topology_.address6("gw", "inet") + "\n");

  // The page shows both links and the bytes it carried.
  ASSERT_TRUE(wait_until(
      [&] { return phone.eval("document.getElementById('up').textContent").asString() != "0 B"; },
      30, 100ms));
  EXPECT_EQ(phone.eval("document.getElementById('laptop-state').textContent"),
            "paired and connected");
  EXPECT_EQ(phone.eval("document.getElementById('gateway-state').textContent"), "connected");
  // The gateway sees one session, of the phone's address.
  Json::Value sessions = gw_->rpc("listSessions")["result"]["gateway"];
  ASSERT_EQ(sessions.size(), 1u) << to_json(sessions);
  EXPECT_EQ(sessions[0]["subscriber"], topology_.address("phone", "gw"));
  // Its tunnel came from the phone, the laptop's traffic inside it.
  EXPECT_TRUE(contains(gw_->log(), "tunnel connected from " + topology_.address("phone", "gw")))
      << gw_->log_tail();
  EXPECT_GT(tether()["packetsToPage"].asUInt64(), 0u);
  EXPECT_GT(tether()["packetsFromPage"].asUInt64(), 0u);
}

TEST_F(Tether, AReloadResumesTheSessionAndClosingThePageTakesTheRouteAway) {
  Browser phone(topology_.ns("phone"), laptop_->dir() + "/phone");
  ASSERT_NO_FATAL_FAILURE(pair(phone));
  const Json::Value before = tether()["session"];
  ASSERT_TRUE(fetch_from_laptop(*web_).ok);

  // A reload: the page comes back paired (the code is kept in the tab) on
  // the same session and addresses.
  phone.eval_and_wait_load("location.reload()");
  ASSERT_TRUE(wait_until([&] { return connected(); }, 150, 100ms)) << to_json(tether());
  EXPECT_EQ(tether()["session"]["sessionId"], before["sessionId"]);
  EXPECT_EQ(tether()["session"]["address4"], before["address4"]);
  EXPECT_EQ(tether()["session"]["address6"], before["address6"]);
  EXPECT_EQ(tether()["sessionsRequested"].asUInt64(), 1u);
  FetchResult again = fetch_from_laptop(*web_);
  EXPECT_TRUE(again.ok) << again.error;

  // The page goes away: the laptop's route and device go, and it says why.
  phone.open("about:blank");
  ASSERT_TRUE(wait_until([&] { return tether()["state"] == "waiting for the page"; }, 100, 100ms))
      << to_json(tether());
  EXPECT_TRUE(contains(tether()["detail"].asString(), "the page went away")) << to_json(tether());
  EXPECT_FALSE(tether()["tunnelUp"].asBool());
  EXPECT_FALSE(contains(ip("laptop", {"link"}), kDevice));
  EXPECT_EQ(ip("laptop", {"route", "show", "table", "65527"}), "");
  EXPECT_FALSE(fetch_from_laptop(*web_, 2s).ok);
}

TEST_F(Tether, AStrangerWithoutTheCodeAndAPageOfAnotherOriginAreRefused) {
  Browser phone(topology_.ns("phone"), laptop_->dir() + "/phone");
  ASSERT_NO_FATAL_FAILURE(pair(phone));

  // A second browser on the Wi-Fi opens the page without the code and
  // guesses one: refused, and the first page keeps the tether.
  Browser stranger(topology_.ns("phone"), laptop_->dir() + "/stranger");
  stranger.open(page_url());
  EXPECT_FALSE(stranger.eval("document.getElementById('pair').hidden").asBool());
  const std::string wrong = code() == "00000000" ? "11111111" : "00000000";
  stranger.eval("document.getElementById('code').value = '" + wrong +
                "';"
                "document.getElementById('pair').requestSubmit();");
  ASSERT_TRUE(wait_until(
      [&] {
        return contains(
            stranger.eval("document.getElementById('laptop-state').textContent").asString(),
            "could not pair");
      },
      100, 100ms));
  EXPECT_GE(tether()["upgradesRefused"].asUInt64(), 1u);
  EXPECT_TRUE(connected());
  EXPECT_TRUE(fetch_from_laptop(*web_).ok);

  // A page of another origin (the gateway's own web server here) that
  // knows the code still cannot open the laptop's WebSocket.
  stranger.open("http://" + gateway_address() + ":" + std::to_string(gw_->rpc_port()) + "/nothing");
  const std::uint64_t refused = tether()["upgradesRefused"].asUInt64();
  const std::string outcome = stranger
                                  .eval(
                                      "new Promise((done) => {"
                                      "  const ws = new WebSocket('ws://" +
                                      laptop_address() + ":" + std::to_string(kTetherPort) +
                                      "/tether', ['mnigs-tether', 'mnigs-pair." + code() +
                                      "']);"
                                      "  ws.onopen = () => done('open');"
                                      "  ws.onclose = () => done('refused');"
                                      "})")
                                  .asString();
  EXPECT_EQ(outcome, "refused");
  EXPECT_TRUE(connected()) << to_json(tether());
  EXPECT_EQ(tether()["upgradesRefused"].asUInt64(), refused + 1);
}

// mnigs-cli --tether off: the session is released through the page, the
// page is closed, the route goes, and the page is no longer served.
TEST_F(Tether, TurningItOffReleasesTheSessionAndStopsServing) {
  Browser phone(topology_.ns("phone"), laptop_->dir() + "/phone");
  ASSERT_NO_FATAL_FAILURE(pair(phone));
  const std::string old = code();
  ASSERT_EQ(gw_->rpc("listSessions")["result"]["gateway"].size(), 1u);
  auto off = laptop_->cli({"--tether", "off"});
  ASSERT_EQ(off.exit_code, 0) << off.out << off.err;
  ASSERT_TRUE(wait_until([&] { return tether()["state"] == "off"; }, 100, 100ms))
      << to_json(tether());
  EXPECT_FALSE(tether()["serving"].asBool());
  EXPECT_TRUE(wait_until([&] { return gw_->rpc("listSessions")["result"]["gateway"].size() == 0; },
                         50, 100ms))
      << to_json(gw_->rpc("listSessions"));
  EXPECT_FALSE(contains(ip("laptop", {"link"}), kDevice));
  EXPECT_FALSE(fetch_from_laptop(*web_, 2s).ok);
  EXPECT_NE(http_exchange(topology_.ns("phone"), laptop_address(), kTetherPort,
                          "GET / HTTP/1.1\r\nHost: x\r\n\r\n", 2s)
                .connect_error,
            0);
  // And on again, from the command line: served at once, with a new code.
  auto on = laptop_->cli({"--tether"});
  ASSERT_EQ(on.exit_code, 0) << on.out << on.err;
  EXPECT_TRUE(contains(on.out, "pairing code: ")) << on.out;
  EXPECT_TRUE(tether()["serving"].asBool());
  EXPECT_FALSE(contains(on.out, old)) << on.out;
  EXPECT_NE(code(), old);
}

// What a hostile page, or a gateway that says no, gets: frames before
// pairing go nowhere; text that is no message, garbage packets and an
// oversized message are dropped or end that page with a reason in the
// laptop's state; a gateway's refusal is shown on the page and in the
// state; the daemon keeps serving and a real page pairs afterwards.
TEST_F(Tether, BadInputIsDroppedOrRefusedWithAReason) {
  const std::string host = laptop_address() + ":" + std::to_string(kTetherPort);
  auto connect = [&] {
    int fd = -1;
    run_in_netns_thread(topology_.ns("phone"),
                        [&] { fd = tcp_connect(laptop_address(), kTetherPort, 5s); });
    return fd;
  };
  auto upgrade = [&](const std::string& code, const std::string& then) {
    return "GET /tether HTTP/1.1\r\nHost: " + host +
           "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
           "Origin: http://" +
           host + "\r\nSec-WebSocket-Protocol: mnigs-tether, mnigs-pair." + code + "\r\n\r\n" +
           then;
  };
  // Frames sent with an upgrade that fails pairing reach nothing.
  const std::string wrong = code() == "00000000" ? "11111111" : "00000000";
  int fd = connect();
  ASSERT_GE(fd, 0);
  send_all(fd, upgrade(wrong, client_frame(1, R"({"type":"gateway","address":"10.6.6.6"})")),
           std::chrono::steady_clock::now() + 5s);
  EXPECT_TRUE(
      read_until_closed(fd, std::chrono::steady_clock::now() + 5s).starts_with("HTTP/1.1 403"));
  ::close(fd);
  EXPECT_EQ(tether()["state"], "waiting for the page");

  // Paired, then text that is no message and packets that are garbage.
  fd = connect();
  ASSERT_GE(fd, 0);
  send_all(fd,
           upgrade(code(), client_frame(1, "not json") + client_frame(1, R"({"type":"nonsense"})") +
                               client_frame(2, std::string(60, '\xff')) + client_frame(2, "x")),
           std::chrono::steady_clock::now() + 5s);
  ASSERT_TRUE(
      wait_until([&] { return tether()["pageMessagesDropped"].asUInt64() >= 2; }, 50, 100ms))
      << to_json(tether());
  EXPECT_EQ(tether()["page"], topology_.address("phone", "laptop"));
  // An oversized message ends that page, and the state says so.
  send_all(fd, client_frame(2, std::string(70000, 'a')), std::chrono::steady_clock::now() + 5s);
  ASSERT_TRUE(wait_until([&] { return tether()["state"] == "waiting for the page"; }, 50, 100ms))
      << to_json(tether());
  EXPECT_TRUE(contains(tether()["detail"].asString(), "larger than the limit"))
      << to_json(tether());
  ::close(fd);
  EXPECT_TRUE(rpc_succeeded(laptop_->rpc("nodeInfo")));

  // A gateway that refuses: the phone's address holds a session of its own
  // there already, which a page may not replace.
  Json::Value params(Json::objectValue);
  params["suite"] = "static-websocket-free";
  Json::Value own =
      rpc(topology_.ns("phone"), gateway_address(), gw_->rpc_port(), "requestConnection", params);
  ASSERT_TRUE(rpc_succeeded(own)) << to_json(own);
  Browser phone(topology_.ns("phone"), laptop_->dir() + "/phone");
  phone.open(page_url() + "#" + code());
  ASSERT_TRUE(wait_until([&] { return tether()["state"] == "failed"; }, 100, 100ms))
      << to_json(tether());
  EXPECT_TRUE(contains(tether()["detail"].asString(), "cannot replace it")) << to_json(tether());
  ASSERT_TRUE(wait_until(
      [&] {
        return contains(
            phone.eval("document.getElementById('tether-state').textContent").asString(),
            "cannot replace it");
      },
      50, 100ms))
      << phone.eval("document.body.innerText").asString();

  // Released, the next page gets its session.
  Json::Value release(Json::objectValue);
  release["sessionId"] = own["result"]["sessionId"];
  release["secret"] = own["result"]["secret"];
  ASSERT_TRUE(rpc_succeeded(rpc(topology_.ns("phone"), gateway_address(), gw_->rpc_port(),
                                "releaseConnection", release)));
  phone.eval_and_wait_load("location.reload()");
  ASSERT_TRUE(wait_until([&] { return connected(); }, 150, 100ms)) << to_json(tether());
  EXPECT_TRUE(fetch_from_laptop(*web_).ok);
}

}  // namespace
}  // namespace mnigs::test
