// The web UI in a real headless Chromium on a LAN host, against real
// daemons: the login (a password set with mnigs-cli --set-password, the
// admin token), scanning, testing and connecting through the page, the
// gateway's sessions and vouchers, the settings form, the CSRF header and
// other origins, a daemon that goes away, and a thousand gateways.
//
//   lan ---- sub ---- gw ---- inet
//     \______________/
//
// sub is a subscriber and gw a gateway, each serving the web UI from the
// source tree; the browser runs in lan, outside both daemons'
// authorizedNetworks (loopback), so every admin call needs the login.
// Screenshots of each screen go to $MNIGS_TEST_ARTIFACTS (default
// <build>/test-artifacts/webui) at desktop and phone widths.
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <memory>
#include <string>

#include "harness/browser.hpp"
#include "harness/http_echo.hpp"
#include "harness/netns.hpp"
#include "harness/node.hpp"
#include "harness/rpc_client.hpp"
#include "harness/system_test.hpp"
#include "harness/tcp.hpp"
#include "harness/topology.hpp"
#include "harness/wait.hpp"

namespace mnigs::test {
namespace {

constexpr int kWebPort = 80;
constexpr const char* kPassword = "correct horse battery";
constexpr const char* kSuite = "static-forwarding-free";

std::string artifacts_dir() {
  const char* env = std::getenv("MNIGS_TEST_ARTIFACTS");
  return std::string(env && *env ? env : MNIGS_TEST_ARTIFACTS_DIR) + "/webui";
}

std::string js(const std::string& text) {  // a JS string literal
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

class WebUi : public SystemTest {
 protected:
  void SetUp() override {
    SystemTest::SetUp();
    if (HasFatalFailure()) return;
    topology_.node("lan").node("sub").node("gw").node("inet");
    topology_.link("lan", "sub").link("lan", "gw").link("sub", "gw").link("gw", "inet");
    topology_.up();
    run_checked({"ip", "route", "add", "10.77.0.0/16", "via", topology_.address("gw", "inet")},
                topology_.ns("inet"));
    web_ =
        std::make_unique<HttpEcho>(topology_.ns("inet"), topology_.address("inet", "gw"), kWebPort);
    const std::string webui = yaml_quote(std::string(MNIGS_SOURCE_DIR) + "/webui");
    gw_ = std::make_unique<Node>(
        topology_, "gw",
        NodeOptions()
            .only_discovery("static")
            .set("daemon", "webuiDir", webui)
            .set("gateway", "enabled", "true")
            .set("gateway", "meterInterval", "1")
            .set("forwarding", "uplink", yaml_quote(topology_.interface("gw", "inet"))));
    sub_ = std::make_unique<Node>(
        topology_, "sub",
        NodeOptions()
            .only_discovery("static")
            .set("daemon", "webuiDir", webui)
            .set("static", "peers", "[" + yaml_quote(topology_.address("gw", "sub")) + "]"));
    gw_->start();
    sub_->start();
    gw_->wait_ready();
    sub_->wait_ready();
    set_password(*sub_, kPassword);
    // Chromium aborts the loads in flight (ERR_NETWORK_CHANGED) when an
    // address of its host changes: the link-local ones finish their
    // duplicate detection a second or two after the links came up.
    ASSERT_TRUE(wait_until(
        [&] {
          return run_command({"ip", "-6", "addr", "show", "tentative"}, topology_.ns("lan"))
              .out.empty();
        },
        100, 100ms))
        << run_command({"ip", "-6", "addr"}, topology_.ns("lan")).out;
    browser_ = std::make_unique<Browser>(topology_.ns("lan"), sub_->dir());
  }

  // No exception, console error or refused resource in the page, but those
  // a test provoked on purpose.
  void TearDown() override {
    if (browser_) {
      for (const auto& e : browser_->page_errors()) {
        bool expected = false;
        for (const auto& part : expected_errors_) expected |= e.find(part) != std::string::npos;
        if (!expected) ADD_FAILURE() << "in the page: " << e;
      }
    }
    browser_.reset();
  }

  // mnigs-cli --set-password with the password on stdin, as a script does.
  static void set_password(const Node& node, const std::string& password) {
    CommandResult r =
        run_command({"sh", "-c", "printf '%s\\n' \"$1\" | \"$2\" -f \"$3\" --set-password", "sh",
                     password, MNIGS_CLI_PATH, node.config_path()},
                    node.ns());
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
    ASSERT_NE(r.out.find("web UI password set"), std::string::npos) << r.out;
  }

  std::string url(const Node& node) const {
    return "http://" + topology_.address(node.name(), "lan") + ":" +
           std::to_string(node.rpc_port()) + "/";
  }

  // Screenshots of the page as it is, scrolled to `scroll_to` if given: on
  // a desktop in the light scheme, on a phone in the dark one.
  void shoot(const std::string& name, const std::string& scroll_to = "") {
    const std::string dir = artifacts_dir();
    browser_->screenshot(dir + "/" + name + "-phone-dark.png", 390, 844, true, true, scroll_to);
    browser_->screenshot(dir + "/" + name + "-desktop.png", 1280, 800, false, false, scroll_to);
  }

  bool shows(const std::string& text, std::chrono::milliseconds timeout = 10s) {
    return browser_->wait_for("document.body.innerText.includes(" + js(text) + ")", timeout);
  }

  std::string page_text() { return browser_->eval("document.body.innerText").asString(); }

  // Opens the UI of `node` and logs in with `secret` (the password or, with
  // `token`, the admin token); waits for the first view.
  void log_in(const Node& node, const std::string& secret, bool token = false) {
    browser_->open(url(node));
    ASSERT_TRUE(browser_->wait_for("document.querySelector('form.login')")) << page_text();
    if (token) browser_->click("#use-token");
    browser_->type("#secret", secret);
    browser_->key("Enter");
    ASSERT_TRUE(browser_->wait_for("!document.getElementById('nav').hidden", 15s)) << page_text();
    ASSERT_TRUE(browser_->wait_for("document.getElementById('view-title')")) << page_text();
  }

  void go(const std::string& view) {
    browser_->eval("location.hash = " + js("#" + view));
    ASSERT_TRUE(
        browser_->wait_for("document.title.startsWith('mnigs · ') && "
                           "document.getElementById('view-title')"))
        << page_text();
  }

  Json::Value result_of(const Node& node, const std::string& method,
                        const Json::Value& params = Json::Value(Json::objectValue)) {
    Json::Value r = node.rpc(method, params);
    EXPECT_TRUE(r.isMember("result")) << method << ": " << to_json(r);
    return r["result"];
  }

  Topology topology_;
  std::unique_ptr<HttpEcho> web_;
  std::unique_ptr<Node> gw_, sub_;
  std::unique_ptr<Browser> browser_;
  std::vector<std::string> expected_errors_;
};

TEST_F(WebUi, LogInScanTestConnectFetchAndDisconnect) {
  browser_->open(url(*sub_));
  ASSERT_TRUE(browser_->wait_for("document.querySelector('form.login')")) << page_text();
  EXPECT_TRUE(browser_->eval("document.getElementById('nav').hidden").asBool());
  shoot("login");

  // A wrong password: refused, said on the page, no way in.
  expected_errors_.push_back("status of 401 (Unauthorized) " + url(*sub_) + "login");
  browser_->type("#secret", "not the password");
  browser_->key("Enter");
  ASSERT_TRUE(shows("wrong password")) << page_text();
  EXPECT_TRUE(browser_->eval("document.getElementById('nav').hidden").asBool());
  EXPECT_TRUE(browser_->cookies().empty()) << to_json(browser_->cookies());

  browser_->type("#secret", kPassword);
  browser_->key("Enter");
  ASSERT_TRUE(browser_->wait_for("!document.getElementById('nav').hidden", 15s)) << page_text();
  const Json::Value cookies = browser_->cookies();
  ASSERT_EQ(cookies.size(), 1u) << to_json(cookies);
  EXPECT_EQ(cookies[0]["name"], "mnigs_session");
  EXPECT_EQ(cookies[0]["httpOnly"], true);
  EXPECT_EQ(cookies[0]["sameSite"], "Strict");
  EXPECT_FALSE(browser_->eval("document.cookie.includes('mnigs_session')").asBool());
  EXPECT_TRUE(shows("logged in from " + topology_.address("lan", "sub")));

  // Scan, from the keyboard: Tab reaches the skip link first, Enter on it
  // moves to the view, the next Tab to "Scan now". The gateway appears in
  // the table, with the scan's own words.
  // (Loaded afresh, as a keyboard user arrives; the login holds.)
  browser_->eval_and_wait_load("location.reload()");
  ASSERT_TRUE(browser_->wait_for("document.getElementById('scan-now')")) << page_text();
  browser_->key("Tab");
  EXPECT_EQ(browser_->eval("document.activeElement.className"), "skip");
  browser_->key("Enter");
  EXPECT_EQ(browser_->eval("document.activeElement.id"), "main");
  browser_->key("Tab");
  ASSERT_EQ(browser_->eval("document.activeElement.id"), "scan-now");
  browser_->key("Enter");
  const std::string gw_address = topology_.address("gw", "sub");
  ASSERT_TRUE(shows(gw_address, 20s)) << page_text();
  ASSERT_TRUE(shows("last scan")) << page_text();
  shoot("gateways");
  // The scan as events, as they came, and the mesh it found.
  go("events");
  ASSERT_TRUE(shows("scan.finished")) << page_text();
  EXPECT_TRUE(shows("scan.started")) << page_text();
  shoot("events");
  go("mesh");
  ASSERT_TRUE(shows("gw", 10s) && shows("static")) << page_text();
  EXPECT_TRUE(shows("No links reported")) << page_text();
  shoot("mesh");
  go("gateways");
  ASSERT_TRUE(browser_->wait_for("document.querySelector('button.test')")) << page_text();

  // Test it through the page: the result is stored and shown.
  browser_->click("button.test");
  ASSERT_TRUE(
      browser_->wait_for("document.querySelector('.result') && "
                         "document.querySelector('.result').textContent.includes('score')",
                         40s))
      << page_text();
  Json::Value gateways = result_of(*sub_, "listGateways");
  ASSERT_EQ(gateways["gateways"].size(), 1u);
  EXPECT_TRUE(gateways["gateways"][0].isMember("lastTest")) << to_json(gateways);

  // Connect: the page moves to My connection, and sub reaches inet.
  browser_->click("button.connect");
  ASSERT_TRUE(browser_->wait_for("location.hash === '#connection'", 30s)) << page_text();
  ASSERT_TRUE(shows("State: connected", 20s)) << page_text();
  EXPECT_EQ(result_of(*sub_, "listSessions")["subscriber"]["connection"]["suite"], kSuite);
  FetchResult through = fetch(topology_.ns("sub"), web_->address(), kWebPort, "/", 5s);
  ASSERT_TRUE(through.ok) << through.error;
  EXPECT_EQ(through.body, "client=" + topology_.address("gw", "inet") + "\n");
  ASSERT_TRUE(shows("Round trip and loss"));
  // The node keeps the samples: a page opened now draws what came before.
  ASSERT_TRUE(wait_until(
      [&] {
        const Json::Value h = result_of(*sub_, "connectionHistory");
        for (const auto& x : h["samples"])
          if (x["gateway"] == gw_address && x.isMember("rttMs")) return true;
        return false;
      },
      150, 100ms));
  browser_->eval_and_wait_load("location.reload()");
  ASSERT_TRUE(
      browser_->wait_for("[...document.querySelectorAll('figcaption')].some((f) => "
                         "/^round trip [0-9.]+ ms/.test(f.textContent))"))
      << page_text();
  shoot("connection");

  browser_->click("#disconnect");
  ASSERT_TRUE(shows("State: idle", 20s)) << page_text();
  EXPECT_TRUE(result_of(*sub_, "listSessions")["subscriber"]["connection"].isNull());
  EXPECT_FALSE(fetch(topology_.ns("sub"), web_->address(), kWebPort, "/", 2s).ok);
}

TEST_F(WebUi, GatewayModeReleasesASessionAndMakesVouchers) {
  // The gateway has no password: the admin token logs in.
  log_in(*gw_, gw_->admin_token(), true);
  go("gateway");
  ASSERT_TRUE(browser_->wait_for("document.getElementById('gateway-enabled').checked"))
      << page_text();
  ASSERT_TRUE(shows(kSuite)) << page_text();

  // Off: the offer goes; on again: it comes back.
  browser_->click("#gateway-enabled");
  // Saved (the box is usable again) and unchecked.
  ASSERT_TRUE(
      browser_->wait_for("(() => { const b = document.getElementById('gateway-enabled');"
                         " return !b.checked && !b.disabled; })()"));
  ASSERT_TRUE(
      wait_until([&] { return !result_of(*gw_, "nodeInfo")["gateway"].asBool(); }, 100, 100ms));
  browser_->click("#gateway-enabled");
  ASSERT_TRUE(
      wait_until([&] { return result_of(*gw_, "nodeInfo")["gateway"].asBool(); }, 100, 100ms));

  // A subscriber's session appears, and Release ends it.
  Json::Value connect(Json::objectValue);
  connect["address"] = topology_.address("gw", "sub");
  connect["suite"] = kSuite;
  Json::Value connected = sub_->rpc("connect", connect);
  ASSERT_TRUE(connected.isMember("result")) << to_json(connected);
  const std::string subscriber = topology_.address("sub", "gw");
  ASSERT_TRUE(shows(subscriber, 15s)) << page_text();
  shoot("gateway-mode");
  browser_->click("button.release");
  ASSERT_TRUE(shows("No subscriber holds a session.", 15s)) << page_text();
  EXPECT_EQ(result_of(*gw_, "listSessions")["gateway"].size(), 0u);

  // Vouchers: three made in one batch, listed, one revoked.
  browser_->type("#create-vouchers input[name=count]", "3");
  browser_->type("#create-vouchers input[name=note]", "for the café");
  browser_->click("#create-vouchers button[type=submit]");
  ASSERT_TRUE(shows("3 new voucher(s)", 15s)) << page_text();
  Json::Value listed = result_of(*gw_, "listVouchers");
  ASSERT_EQ(listed["vouchers"].size(), 3u) << to_json(listed);
  for (const auto& v : listed["vouchers"]) {
    EXPECT_TRUE(shows(v["code"].asString())) << v["code"];
    EXPECT_EQ(v["note"], "for the café");
  }
  shoot("vouchers");
  browser_->click("button.revoke");
  ASSERT_TRUE(wait_until(
      [&] {
        int revoked = 0;
        const Json::Value now = result_of(*gw_, "listVouchers");
        for (const auto& v : now["vouchers"]) revoked += v["state"] == "spent";
        return revoked == 1;
      },
      100, 100ms))
      << page_text();
}

TEST_F(WebUi, SettingsApplyALiveKeyAndShowTheDaemonsErrorBesideTheField) {
  log_in(*sub_, kPassword);
  go("settings");
  ASSERT_TRUE(browser_->wait_for("document.getElementById('key-daemon.logLevel')")) << page_text();
  shoot("settings");
  // The first section (main) is open; the others open with a click on their
  // title.
  EXPECT_TRUE(browser_->eval("document.getElementById('section-main').open").asBool());
  EXPECT_FALSE(browser_->eval("document.getElementById('section-daemon').open").asBool());
  browser_->click("#section-daemon summary");
  ASSERT_TRUE(browser_->eval("document.getElementById('section-daemon').open").asBool());
  // A live key, through the form.
  browser_->eval(
      "(() => { const s = document.getElementById('key-daemon.logLevel'); "
      "s.value = 'debug'; s.dispatchEvent(new Event('change')); })()");
  browser_->click("form[aria-label=daemon] button[type=submit]");
  ASSERT_TRUE(shows("Saved (applied: daemon.logLevel).")) << page_text();
  EXPECT_EQ(result_of(*sub_, "getConfig",
                      [] {
                        Json::Value p(Json::objectValue);
                        p["key"] = "daemon.logLevel";
                        return p;
                      }())["value"],
            "debug");

  // A value the daemon refuses: its words next to the field, nothing changed.
  const std::string before = sub_->config_text();
  browser_->type("[id='key-daemon.rpcCorsOrigins']", "not a prefix");
  browser_->click("form[aria-label=daemon] button[type=submit]");
  ASSERT_TRUE(
      browser_->wait_for("!document.getElementById('key-daemon.rpcCorsOrigins-error').hidden"))
      << page_text();
  const std::string error =
      browser_->eval("document.getElementById('key-daemon.rpcCorsOrigins-error').textContent")
          .asString();
  EXPECT_NE(error.find("daemon.rpcCorsOrigins"), std::string::npos) << error;
  EXPECT_EQ(sub_->config_text(), before);
  shoot("settings-error", "[id='key-daemon.rpcCorsOrigins']");
}

TEST_F(WebUi, TheCookieWithoutItsCsrfHeaderAndOtherOriginsGetNoAdmin) {
  log_in(*sub_, kPassword);
  // The page's own origin, the cookie sent, but no X-Mnigs-CSRF header.
  const std::string call = R"({"jsonrpc":"2.0","id":1,"method":"status"})";
  Json::Value bare = browser_->eval(
      "fetch('/jsonrpc', {method: 'POST', headers: {'Content-Type': 'application/json'}, "
      "body: " +
      js(call) + "}).then((r) => r.json())");
  EXPECT_EQ(bare["error"]["code"], -32001) << to_json(bare);
  EXPECT_EQ(bare["error"]["data"]["login"], "csrf") << to_json(bare);

  // A page of another origin (a web server on the LAN host, in the same
  // browser, which holds the login's cookie) tries to rename the node.
  // With credentials the browser stops it; without, the daemon refuses the
  // admin method. Either way the name stays.
  const std::string sub_rpc = url(*sub_) + "jsonrpc";
  const std::string rename =
      R"({"jsonrpc":"2.0","id":1,"method":"setConfig","params":{"main.name":"evil"}})";
  auto name = [&] {
    Json::Value p(Json::objectValue);
    p["key"] = "main.name";
    return result_of(*sub_, "getConfig", p)["value"];
  };
  const Json::Value name_before = name();
  HttpEcho other(topology_.ns("lan"), topology_.address("lan", "sub"), 8080);
  browser_->open("http://" + topology_.address("lan", "sub") + ":8080/");
  Json::Value with_credentials =
      browser_->eval("fetch(" + js(sub_rpc) +
                     ", {method: 'POST', credentials: 'include', headers: "
                     "{'Content-Type': 'application/json'}, body: " +
                     js(rename) +
                     "}).then((r) => r.json())"
                     ".then((j) => j, (e) => 'refused: ' + e.message)");
  EXPECT_TRUE(with_credentials.isString() && with_credentials.asString().starts_with("refused"))
      << to_json(with_credentials);
  Json::Value anonymous = browser_->eval("fetch(" + js(sub_rpc) +
                                         ", {method: 'POST', headers: {'Content-Type': "
                                         "'application/json'}, body: " +
                                         js(rename) + "}).then((r) => r.json())");
  EXPECT_EQ(anonymous["error"]["code"], -32001) << to_json(anonymous);
  EXPECT_NE(anonymous["error"]["message"].asString().find("another origin"), std::string::npos);
  EXPECT_EQ(name(), name_before);
  // A login posted blind (no-cors, a text body: no preflight, so the daemon
  // sees it) with the right password opens no session.
  auto logins = [&] {
    const std::string log = sub_->log();
    std::size_t n = 0;
    for (auto p = log.find("web UI: login from"); p != std::string::npos;
         p = log.find("web UI: login from", p + 1))
      ++n;
    return n;
  };
  const std::size_t logins_before = logins();
  const Json::Value blind =
      browser_->eval("fetch(" + js(url(*sub_) + "login") +
                     ", {method: 'POST', mode: 'no-cors', credentials: 'include', headers: "
                     "{'Content-Type': 'text/plain'}, body: " +
                     js(std::string("{\"password\":\"") + kPassword + "\"}") +
                     "}).then(() => 'answered', (e) => e.message)");
  EXPECT_EQ(blind, "answered");
  // The fetch ended with the daemon's answer: a login would be logged by then.
  EXPECT_EQ(logins(), logins_before) << sub_->log_tail();
  // What the browser says about the refusals above.
  expected_errors_ = {"has been blocked by CORS policy", "net::ERR_FAILED " + sub_rpc,
                      "status of 403 (Forbidden) " + url(*sub_) + "login"};
}

TEST_F(WebUi, ADaemonThatGoesAwayIsSaidAndItsNewLoginAsked) {
  log_in(*sub_, kPassword);
  // The page's calls while mnigsd is away, as the browser reports them.
  expected_errors_.push_back("net::ERR_CONNECTION_REFUSED " + url(*sub_));
  ASSERT_EQ(sub_->stop(), 0);
  ASSERT_TRUE(shows("mnigsd does not answer", 20s)) << page_text();
  shoot("daemon-away");
  sub_->start();
  sub_->wait_ready();
  // Logins end with the daemon: the page asks again, and says why.
  ASSERT_TRUE(shows("Your login has ended", 30s)) << page_text();
  EXPECT_FALSE(browser_
                   ->eval("document.getElementById('banner').hidden === false && "
                          "document.getElementById('banner').textContent.length > 0")
                   .asBool());
  browser_->type("#secret", kPassword);
  browser_->key("Enter");
  ASSERT_TRUE(browser_->wait_for("!document.getElementById('nav').hidden", 15s)) << page_text();
}

TEST_F(WebUi, AThousandGatewaysStayUsable) {
  // Seeded as a scan would have stored them.
  const std::string seed =
      "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000) "
      "INSERT INTO nodes SELECT printf('%032x', i), printf('gateway-%04d', i), "
      "printf('10.99.%d.%d', i / 250, i % 250 + 1), 65533, "
      "json_array(printf('10.99.%d.%d', i / 250, i % 250 + 1)), '[\"static\"]', '{}', 1, "
      "json_object('id', printf('%032x', i), 'name', printf('gateway-%04d', i), 'gateway', "
      "json('true'), 'version', '0.1.0', 'suites', json_array('static-forwarding-free'), "
      "'ipv6support', json('false'), 'rpcport', 65533, 'payments', json_object('free', "
      "json_object('method', 'free', 'price', 0, 'currency', '', 'note', '')), 'capacity', "
      "json_object('maxConnections', 10, 'sessions', i % 10)), i % 90, 1700000000, "
      "1700000000 + i, 0 FROM n;";
  run_checked({"sqlite3", sub_->dir() + "/mnigs.db", seed}, sub_->ns());
  EXPECT_EQ(result_of(*sub_, "listGateways")["gateways"].size(), 1000u);

  log_in(*sub_, kPassword);
  ASSERT_TRUE(shows("1000 rows", 20s)) << page_text();
  // Drawn in pages: the rest a button away.
  EXPECT_EQ(browser_
                ->eval("document.querySelectorAll('table[aria-label=gateways] tbody tr')"
                       ".length")
                .asInt(),
            200);
  browser_->type("input[aria-label='Filter gateways']", "gateway-09");
  ASSERT_TRUE(shows("100 of 1000 rows")) << page_text();
  browser_->type("input[aria-label='Filter gateways']", "");
  browser_->eval(
      "(() => { const i = document.querySelector(\"input[aria-label='Filter "
      "gateways']\"); i.value = ''; i.dispatchEvent(new Event('input')); })()");
  ASSERT_TRUE(shows("1000 rows")) << page_text();
  // Sorted by name, descending: gateway-1000 first. The time each step took
  // is printed, not judged.
  const double sort_ms = browser_
                             ->eval(
                                 "(() => { const t = performance.now(); "
                                 "const b = [...document.querySelectorAll('th button.sort')]"
                                 ".find((x) => x.textContent === 'Name'); b.click(); b.click(); "
                                 "return performance.now() - t; })()")
                             .asDouble();
  EXPECT_EQ(browser_
                ->eval("document.querySelector('table[aria-label=gateways] tbody tr td')"
                       ".textContent")
                .asString(),
            "gateway-1000");
  std::cout << "sorting 1000 gateways twice took " << sort_ms << " ms in the page\n";
  browser_->click(".table:has(table[aria-label=gateways]) button.more");
  ASSERT_TRUE(browser_->wait_for(
      "document.querySelectorAll('table[aria-label=gateways] tbody tr').length === 400"));
  shoot("gateways-1000");
}

}  // namespace
}  // namespace mnigs::test
