// Paid gateways end to end (payment/webpage and the core's meter): an unpaid
// subscriber reaches only the gateway's page; the real Chromium pays with a
// voucher; quotas are held by the kernel and survive kill -9, nft flush
// ruleset and a second login; time, device and rate limits; a top-up during a
// download; RFC 8908; the wrong-code limit; signed payment confirmations.
//
//   inet ---- gw ---- sub          link 1: 10.77.1.0/24 (inet .1, gw .2)
//              \                   link 2: 10.77.2.0/24 (gw .1, sub .2)
//               `---- sub2         link 3: 10.77.3.0/24 (gw .1, sub2 .2), where needed
//
// inet runs no mnigsd: web servers on ports 80 (the "Internet"), 443 and 53
// (to see whether HTTPS and DNS get through) and 8080 (anything else), and
// iperf3 where a rate is measured.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <ctime>
#include <fstream>
#include <memory>
#include <thread>

#include "harness/browser.hpp"
#include "harness/http_echo.hpp"
#include "harness/system_test.hpp"
#include "harness/tcp.hpp"
#include "harness/wait.hpp"

namespace mnigs::test {
namespace {

const std::string kSuite = "static-forwarding-webpage";
constexpr int kPagePort = 65534;

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

std::string trimmed(std::string s) {
  s.erase(0, s.find_first_not_of(" \t\r\n"));
  s.erase(s.find_last_not_of(" \t\r\n") + 1);
  return s;
}

std::int64_t unix_now() { return static_cast<std::int64_t>(std::time(nullptr)); }

Json::Value from_json(const std::string& text) {
  Json::CharReaderBuilder b;
  std::unique_ptr<Json::CharReader> reader(b.newCharReader());
  Json::Value v;
  std::string errors;
  if (!reader->parse(text.data(), text.data() + text.size(), &v, &errors)) return Json::Value();
  return v;
}

class Payment : public SystemTest {
 protected:
  void build(NodeOptions gateway = gateway_options(), bool second_subscriber = false) {
    topology_.node("inet").node("gw").node("sub");
    if (second_subscriber) topology_.node("sub2");
    topology_.link("inet", "gw").link("gw", "sub");
    if (second_subscriber) topology_.link("gw", "sub2");
    topology_.up();
    run_checked({"ip", "route", "add", "10.77.0.0/16", "via", topology_.address("gw", "inet")},
                topology_.ns("inet"));
    const std::string inet = topology_.address("inet", "gw");
    for (int port : {80, 443, 53, 8080})
      servers_.push_back(std::make_unique<HttpEcho>(topology_.ns("inet"), inet, port));
    gateway.set("forwarding", "uplink", yaml_quote(topology_.interface("gw", "inet")));
    // What goes through this interface is Internet use; what goes between
    // subscribers through the gateway is not.
    gateway.set("gateway", "uplinks", "[" + yaml_quote(topology_.interface("gw", "inet")) + "]");
    gw_ = std::make_unique<Node>(topology_, "gw", std::move(gateway));
    sub_ = subscriber("sub");
    if (second_subscriber) sub2_ = subscriber("sub2");
  }

  static NodeOptions gateway_options() {
    return NodeOptions()
        .only_discovery("static")
        .set("gateway", "enabled", "true")
        .set("gateway", "subscriberTimeout", "9")
        .set("gateway", "payments", "[webpage]")
        .set("gateway", "meterInterval", "1")
        .set("forwarding", "restrict", "true")
        .set("webpage", "title", "\"Mesh cafe\"")
        .set("webpage", "terms", "\"Be nice.\"")
        .set("webpage", "currency", "EUR")
        .set("webpage", "pricePerHour", "\"1.50\"");
  }

  std::unique_ptr<Node> subscriber(const std::string& name) {
    auto node = std::make_unique<Node>(topology_, name, NodeOptions().only_discovery("static"));
    // onPaymentRequired writes the page's address where the test reads it.
    hook_files_[name] = node->dir() + "/payment-url";
    node->options().set("subscriber", "onPaymentRequired",
                        yaml_quote("echo \"$MNIGS_PAYMENT_URL\" > " + hook_files_[name]));
    // Its web UI shows the payment banner.
    node->options().set("daemon", "webuiDir", yaml_quote(std::string(MNIGS_SOURCE_DIR) + "/webui"));
    return node;
  }

  void launch_all() {
    std::vector<Node*> nodes = {gw_.get(), sub_.get()};
    if (sub2_) nodes.push_back(sub2_.get());
    for (Node* n : nodes) n->start();
    for (Node* n : nodes) n->wait_ready();
    Json::Value info = gw_->rpc("nodeInfo");
    ASSERT_TRUE(rpc_succeeded(info)) << to_json(info);
    // gateway.payments offers webpage alone: every suite ends in it.
    const Json::Value& suites = info["result"]["suites"];
    EXPECT_TRUE(std::find(suites.begin(), suites.end(), Json::Value(kSuite)) != suites.end())
        << to_json(info["result"]);
    for (const auto& s : suites) EXPECT_TRUE(s.asString().ends_with("-webpage")) << s;
    EXPECT_TRUE(info["result"]["payments"]["webpage"]["charges"].asBool()) << to_json(info);
    EXPECT_EQ(info["result"]["payments"]["webpage"]["price"].asDouble(), 1.5) << to_json(info);
  }

  std::string gw_address(const std::string& sub = "sub") const {
    return topology_.address("gw", sub);
  }
  std::string portal(const std::string& sub = "sub") const {
    return "http://" + gw_address(sub) + ":" + std::to_string(kPagePort) + "/";
  }
  std::string inet() const { return topology_.address("inet", "gw"); }

  // `mnigs-cli -c` to the gateway; its output.
  std::string connect(Node& node) {
    auto r = node.cli({"-c", gw_address(node.name())});
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    return r.out;
  }
  Json::Value connection(Node& node) const {
    Json::Value r = node.rpc("listSessions");
    return r["result"]["subscriber"]["connection"];
  }

  // `terms` as createVouchers takes them; the code of the one voucher made.
  std::string voucher(Json::Value terms) {
    Json::Value r = gw_->rpc("createVouchers", terms);
    EXPECT_TRUE(rpc_succeeded(r)) << to_json(r);
    return r["result"]["vouchers"][0]["code"].asString();
  }
  std::string voucher_with(const std::string& key, Json::Value value) {
    Json::Value terms(Json::objectValue);
    terms[key] = value;
    return voucher(terms);
  }

  // A request from `from` to the page.
  HttpExchange page(const std::string& from, const std::string& method, const std::string& path,
                    const std::string& extra = "", const std::string& body = "") {
    const std::string host = gw_address(from);
    std::string request = method + " " + path + " HTTP/1.1\r\nHost: " + host + ":" +
                          std::to_string(kPagePort) + "\r\nConnection: close\r\n" + extra;
    if (!body.empty() || method == "POST")
      request += "Content-Length: " + std::to_string(body.size()) + "\r\n";
    request += "\r\n" + body;
    return http_exchange(topology_.ns(from), host, kPagePort, request, 10s);
  }
  HttpExchange redeem(const std::string& from, const std::string& code, bool accept = true) {
    return page(from, "POST", "/redeem", "Content-Type: application/x-www-form-urlencoded\r\n",
                "code=" + code + (accept ? "&accept=yes" : ""));
  }
  // RFC 8908's answer for `from` (null when there is none: no session yet).
  Json::Value captive(const std::string& from) {
    HttpExchange x = page(from, "GET", "/", "Accept: application/captive+json\r\n");
    if (x.status != 200 || x.header("Content-Type") != "application/captive+json")
      return Json::Value();
    return from_json(x.body);
  }
  // -1 when not said.
  std::int64_t bytes_remaining(const std::string& from = "sub") {
    Json::Value c = captive(from);
    return c.isMember("bytes-remaining") ? c["bytes-remaining"].asInt64() : -1;
  }

  // GET /bytes/N from the "Internet": the body bytes that came.
  std::size_t download(const std::string& from, std::int64_t bytes,
                       std::chrono::milliseconds timeout = 20s) {
    const std::string request = "GET /bytes/" + std::to_string(bytes) +
                                " HTTP/1.1\r\nHost: " + inet() + "\r\nConnection: close\r\n\r\n";
    HttpExchange x = http_exchange(topology_.ns(from), inet(), 80, request, timeout,
                                   static_cast<std::size_t>(bytes) + 4096);
    return x.status == 200 ? x.body.size() : 0;
  }
  // What a plain GET of the "Internet" gets: 200 and the masqueraded
  // address when through, a 302 to the page when not paid.
  HttpExchange internet(const std::string& from, std::chrono::milliseconds timeout = 5s) {
    return http_exchange(topology_.ns(from), inet(), 80,
                         "GET / HTTP/1.1\r\nHost: " + inet() + "\r\nConnection: close\r\n\r\n",
                         timeout);
  }
  bool through(const std::string& from) {
    HttpExchange x = internet(from);
    return x.status == 200 && x.body == "client=" + topology_.address("gw", "inet") + "\n";
  }

  // One datagram from `from` to inet:port and its echo back.
  bool udp_round_trip(const std::string& from, int port) {
    std::atomic<bool> listening{false};
    std::thread echo([&] {
      run_in_netns_thread(topology_.ns("inet"), [&] {
        const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_port = htons(static_cast<std::uint16_t>(port));
        ::inet_pton(AF_INET, inet().c_str(), &addr.sin_addr);
        if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
          ::close(fd);
          listening = true;
          return;
        }
        listening = true;
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, 3000) == 1) {
          char buf[512];
          sockaddr_storage peer{};
          socklen_t len = sizeof peer;
          const ssize_t n = ::recvfrom(fd, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&peer),
                                       &len);
          if (n > 0)
            ::sendto(fd, buf, static_cast<std::size_t>(n), 0, reinterpret_cast<sockaddr*>(&peer),
                     len);
        }
        ::close(fd);
      });
    });
    while (!listening) std::this_thread::sleep_for(10ms);
    bool answered = false;
    run_in_netns_thread(topology_.ns(from), [&] {
      const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
      sockaddr_in addr{};
      addr.sin_family = AF_INET;
      addr.sin_port = htons(static_cast<std::uint16_t>(port));
      ::inet_pton(AF_INET, inet().c_str(), &addr.sin_addr);
      const char query[] = "a lookup";
      ::sendto(fd, query, sizeof query, 0, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
      pollfd p{fd, POLLIN, 0};
      char buf[512];
      answered = ::poll(&p, 1, 2000) == 1 && ::recv(fd, buf, sizeof buf, 0) == sizeof query;
      ::close(fd);
    });
    echo.join();
    return answered;
  }

  std::int64_t stored_voucher_bytes(const std::string& code) {
    std::string plain = code;
    plain.erase(std::remove(plain.begin(), plain.end(), '-'), plain.end());
    auto r = run_command({"sqlite3", "-cmd", ".timeout 2000", gw_->dir() + "/mnigs.db",
                          "SELECT used_bytes FROM vouchers WHERE code = '" + plain + "';"},
                         "", 10s);
    const std::string out = trimmed(r.out);
    return out.empty() ? -1 : std::stoll(out);
  }

  Topology topology_;
  std::vector<std::unique_ptr<HttpEcho>> servers_;
  std::map<std::string, std::string> hook_files_;
  std::unique_ptr<Node> gw_, sub_, sub2_;
};

// ------------------------------------------------------------------- tests

TEST_F(Payment, UnpaidTrafficReachesOnlyThePageAndChromiumPaysWithAVoucher) {
  build();
  ASSERT_NO_FATAL_FAILURE(launch_all());
  const std::string out = connect(*sub_);
  EXPECT_TRUE(contains(out, "payment required: open " + portal())) << out;
  const std::string id = connection(*sub_)["sessionId"].asString();
  ASSERT_FALSE(id.empty());
  EXPECT_TRUE(connection(*sub_)["payment"]["required"].asBool()) << to_json(connection(*sub_));
  EXPECT_TRUE(wait_until(
      [&] {
        std::ifstream in(hook_files_["sub"]);
        std::string url;
        std::getline(in, url);
        return url == portal();
      },
      50, 100ms))
      << "subscriber.onPaymentRequired did not run with the page's URL";
  EXPECT_TRUE(contains(sub_->cli({"--sessions"}).out, "payment required: open " + portal()));

  // HTTP anywhere: redirected to the page. HTTPS: a reset at once. DNS
  // lookups (UDP): through. Anything else, TCP to port 53 too: dropped.
  HttpExchange http = internet("sub");
  EXPECT_EQ(http.status, 302) << http.head << http.body;
  EXPECT_EQ(http.header("Location"), portal()) << http.head;
  int error = 0;
  run_in_netns_thread(topology_.ns("sub"), [&] {
    int fd = tcp_connect(inet(), 443, 3s, &error);
    if (fd >= 0) ::close(fd);
  });
  EXPECT_EQ(error, ECONNREFUSED) << std::strerror(error);
  EXPECT_TRUE(udp_round_trip("sub", 53)) << "a DNS lookup must get through";
  run_in_netns_thread(topology_.ns("sub"), [&] {
    int fd = tcp_connect(inet(), 53, 1500ms, &error);
    if (fd >= 0) ::close(fd);
  });
  EXPECT_EQ(error, ETIMEDOUT) << "TCP to port 53: " << std::strerror(error);
  run_in_netns_thread(topology_.ns("sub"), [&] {
    int fd = tcp_connect(inet(), 8080, 1500ms, &error);
    if (fd >= 0) ::close(fd);
  });
  EXPECT_EQ(error, ETIMEDOUT) << std::strerror(error);

  // The page, for subscribers only.
  HttpExchange p = page("sub", "GET", "/");
  EXPECT_EQ(p.status, 200) << p.head;
  EXPECT_TRUE(contains(p.body, "Mesh cafe")) << p.body;
  EXPECT_TRUE(contains(p.body, "Be nice.")) << p.body;
  EXPECT_TRUE(contains(p.body, "1.5 EUR per hour")) << p.body;
  HttpExchange stranger = http_exchange(
      topology_.ns("inet"), topology_.address("gw", "inet"), kPagePort,
      "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 5s);
  EXPECT_EQ(stranger.status, 403) << stranger.head;

  // An oversized form is refused before it is read.
  HttpExchange huge = page("sub", "POST", "/redeem",
                           "Content-Type: application/x-www-form-urlencoded\r\n",
                           "code=" + std::string(20000, 'A') + "&accept=yes");
  EXPECT_EQ(huge.status, 413) << huge.head;

  // A wrong code, or terms not accepted, change nothing.
  const std::string code = voucher_with("minutes", 60);
  HttpExchange wrong = redeem("sub", "0000-0000-0000");
  EXPECT_EQ(wrong.status, 400);
  EXPECT_TRUE(contains(wrong.body, "no such voucher")) << wrong.body;
  HttpExchange unaccepted = redeem("sub", code, false);
  EXPECT_EQ(unaccepted.status, 400);
  EXPECT_TRUE(contains(unaccepted.body, "Accept the terms")) << unaccepted.body;
  EXPECT_EQ(internet("sub").status, 302);

  // The subscriber's own web UI, from its loopback (no login there), says
  // so and links the gateway's page.
  Browser browser(topology_.ns("sub"), sub_->dir());
  browser.open("http://127.0.0.1:" + std::to_string(sub_->rpc_port()) + "/#connection");
  ASSERT_TRUE(browser.wait_for("document.querySelector('.banner-warn a')"))
      << browser.eval("document.body.innerText").asString();
  EXPECT_TRUE(contains(browser.eval("document.querySelector('.banner-warn').textContent")
                           .asString(),
                       "Payment required"));
  EXPECT_EQ(browser.eval("document.querySelector('.banner-warn a').href").asString(), portal());

  // Chromium in the subscriber's namespace: any HTTP address leads to the
  // page; the voucher typed and submitted there opens the way.
  EXPECT_EQ(browser.open("http://" + inet() + "/"), portal());
  EXPECT_TRUE(contains(browser.eval("document.getElementById('status').textContent").asString(),
                       "Not paid"));
  const std::string landed = browser.eval_and_wait_load(
      "document.getElementById('code').value = '" + code + "';"
      "document.getElementById('accept').checked = true;"
      "document.getElementById('redeem').click();");
  EXPECT_EQ(landed, portal());
  // An hour from the redemption, which may be a second ago.
  const std::string status =
      browser.eval("document.getElementById('status').textContent").asString();
  EXPECT_TRUE(contains(status, "Connected: 60 min") || contains(status, "Connected: 59 min"))
      << browser.eval("document.body.innerText").asString();
  EXPECT_TRUE(through("sub")) << "paid, but the Internet is not reached";
  // Without reconnecting: the same session.
  EXPECT_EQ(connection(*sub_)["sessionId"].asString(), id);
  EXPECT_TRUE(wait_until([&] { return !connection(*sub_)["payment"]["required"].asBool(); }, 50,
                         200ms))
      << "the subscriber did not learn at its renewal that it is paid";
}

TEST_F(Payment, AQuotaHeldByTheKernelOutlivesKill9FlushAndASecondLogin) {
  build();
  ASSERT_NO_FATAL_FAILURE(launch_all());
  connect(*sub_);
  const std::string code = voucher_with("bytes", "10M");
  ASSERT_EQ(redeem("sub", code).status, 303);
  ASSERT_EQ(download("sub", 6'000'000), 6'000'000u);

  // Stored within a reading or two.
  std::int64_t stored = 0;
  ASSERT_TRUE(wait_until([&] { return (stored = stored_voucher_bytes(code)) >= 6'000'000; }, 50,
                         200ms))
      << stored;
  EXPECT_EQ(gw_->kill9(), 128 + SIGKILL);
  EXPECT_EQ(topology_.exec("gw", {"nft", "flush", "ruleset"}).exit_code, 0);
  gw_->launch();
  std::int64_t left = -1;
  ASSERT_TRUE(wait_until([&] { return (left = bytes_remaining()) > 0; }, 50, 200ms));
  // 6 MB of body, plus headers: about 3.8 MB are left, never a refill.
  EXPECT_LE(left, 4'000'000);
  EXPECT_GE(left, 3'000'000);

  // Logging in again with the same code: still what was left.
  EXPECT_EQ(sub_->cli({"-d"}).exit_code, 0);
  connect(*sub_);
  EXPECT_EQ(internet("sub").status, 302);
  ASSERT_EQ(redeem("sub", code).status, 303);
  EXPECT_LE(bytes_remaining(), left);

  // 50 MB asked for: the kernel lets through what is left, then nothing.
  const std::size_t got = download("sub", 50'000'000, 8s);
  EXPECT_LE(static_cast<std::int64_t>(got), left) << "the quota let more through than was left";
  EXPECT_GE(static_cast<std::int64_t>(got), left - 500'000);
  EXPECT_TRUE(wait_until([&] { return captive("sub")["captive"].asBool(); }, 50, 200ms))
      << "a spent voucher must send the session back to the page";
  EXPECT_EQ(internet("sub").status, 302);

  // Throttle instead of cut: the session goes on, slowly.
  auto set = gw_->cli({"--set", "gateway.throttleKbit=8000"});
  ASSERT_EQ(set.exit_code, 0) << set.out << set.err;
  EXPECT_TRUE(wait_until([&] { return through("sub"); }, 50, 200ms));
  EXPECT_EQ(download("sub", 1'000'000, 10s), 1'000'000u);
}

TEST_F(Payment, DeadlinesDevicesAndRatesOfVouchersHold) {
  build(gateway_options(), true);
  ASSERT_NO_FATAL_FAILURE(launch_all());
  connect(*sub_);
  connect(*sub2_);

  // Unpaid, sub still reaches sub2 through the gateway: that is the mesh,
  // not the uplink (port 80 is not redirected, nothing is dropped).
  run_checked({"ip", "route", "add", topology_.address("sub2", "gw") + "/32", "via", gw_address()},
              topology_.ns("sub"));
  run_checked({"ip", "route", "add", topology_.address("sub", "gw") + "/32", "via",
               gw_address("sub2")},
              topology_.ns("sub2"));
  HttpEcho neighbour(topology_.ns("sub2"), topology_.address("sub2", "gw"), 80);
  HttpExchange mesh = http_exchange(
      topology_.ns("sub"), topology_.address("sub2", "gw"), 80,
      "GET / HTTP/1.1\r\nHost: sub2\r\nConnection: close\r\n\r\n", 5s);
  EXPECT_EQ(mesh.status, 200) << mesh.head;
  EXPECT_EQ(mesh.body, "client=" + topology_.address("sub", "gw") + "\n");

  // One device: the second is refused while the first holds it.
  Json::Value terms(Json::objectValue);
  terms["validUntil"] = static_cast<Json::Int64>(unix_now() + 6);
  const std::string timed = voucher(terms);
  ASSERT_EQ(redeem("sub", timed).status, 303);
  HttpExchange second = redeem("sub2", timed);
  EXPECT_EQ(second.status, 400);
  EXPECT_TRUE(contains(second.body, "in use on 1 device")) << second.body;
  EXPECT_EQ(internet("sub2").status, 302);

  // Its deadline: through until then, back to the page after.
  EXPECT_TRUE(through("sub"));
  ASSERT_TRUE(wait_until([&] { return unix_now() >= terms["validUntil"].asInt64() + 1; }, 100,
                         100ms));
  EXPECT_TRUE(wait_until([&] { return internet("sub").status == 302; }, 30, 100ms))
      << "past its deadline, the voucher still opens the way";

  // A rate: iperf3 measures the download within 10 % of 8 Mbit/s.
  Json::Value rated(Json::objectValue);
  rated["rateDown"] = "8mbit";
  ASSERT_EQ(redeem("sub2", voucher(rated)).status, 303);
  const std::string iperf_log = gw_->dir() + "/iperf3.log";
  pid_t server = spawn_in_ns(topology_.ns("inet"),
                             {"/usr/bin/iperf3", "-s", "-1", "-B", inet()}, iperf_log);
  std::this_thread::sleep_for(500ms);
  auto r = run_command({"iperf3", "-c", inet(), "-R", "-t", "4", "-O", "1", "-J"},
                       topology_.ns("sub2"), 20s);
  terminate_processes({server});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  const double bps = from_json(r.out)["end"]["sum_received"]["bits_per_second"].asDouble();
  EXPECT_GT(bps, 8e6 * 0.9);
  EXPECT_LT(bps, 8e6 * 1.1);
}

TEST_F(Payment, ATopUpDuringADownloadAddsBytesAndTheDownloadGoesOn) {
  build();
  ASSERT_NO_FATAL_FAILURE(launch_all());
  connect(*sub_);
  Json::Value slow(Json::objectValue);
  slow["bytes"] = "3M";
  slow["rateDown"] = "8mbit";  // 1 MB/s: the 3 MB last 3 s, the 8 MB would take 8
  ASSERT_EQ(redeem("sub", voucher(slow)).status, 303);
  std::size_t got = 0;
  std::thread downloading([&] { got = download("sub", 8'000'000, 20s); });
  // Under way: the meter (read every second here) has counted some of it.
  std::int64_t before = -1;
  EXPECT_TRUE(wait_until(
      [&] {
        before = bytes_remaining();
        return before >= 0 && before < 3'000'000;
      },
      30, 100ms))
      << before;
  ASSERT_EQ(redeem("sub", voucher_with("bytes", "20M")).status, 303);
  const std::int64_t after = bytes_remaining();
  EXPECT_GT(after, before + 15'000'000) << before << " -> " << after;
  downloading.join();
  EXPECT_EQ(got, 8'000'000u) << "the download broke at the top-up";
}

TEST_F(Payment, Rfc8908AWrongCodeBurstAndForgedOrReplayedConfirmations) {
  NodeOptions gateway = gateway_options();
  build(gateway);
  const std::string secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
  const std::string secret_file = gw_->dir() + "/webhook.secret";
  std::ofstream(secret_file) << secret << "\n";
  gw_->options().set("webpage", "webhookSecretFile", yaml_quote(secret_file));
  ASSERT_NO_FATAL_FAILURE(launch_all());
  connect(*sub_);

  Json::Value c = captive("sub");
  ASSERT_TRUE(c.isObject()) << "no RFC 8908 answer";
  EXPECT_TRUE(c["captive"].asBool());
  EXPECT_EQ(c["user-portal-url"].asString(), portal());
  EXPECT_TRUE(c["can-extend-session"].asBool());
  EXPECT_FALSE(c.isMember("bytes-remaining"));

  // Another site's page cannot post codes here (browsers say where a form
  // post comes from).
  HttpExchange cross = page("sub", "POST", "/redeem",
                            "Origin: http://evil.example\r\n"
                            "Content-Type: application/x-www-form-urlencoded\r\n",
                            "code=0000-0000-0000&accept=yes");
  EXPECT_EQ(cross.status, 403) << cross.head;

  // Five wrong codes are answered; the sixth is told to wait.
  for (int i = 0; i < 5; ++i)
    EXPECT_EQ(redeem("sub", "0000-0000-000" + std::to_string(i)).status, 400);
  HttpExchange held = redeem("sub", "0000-0000-0009");
  EXPECT_EQ(held.status, 429) << held.head;
  EXPECT_FALSE(held.header("Retry-After").empty()) << held.head;

  // Confirmations, signed by openssl(1) as the README shows.
  const std::string session = connection(*sub_)["sessionId"].asString();
  const std::string body =
      R"({"voucher": {"minutes": 30, "bytes": "1G"}, "session": ")" + session + R"("})";
  auto sign = [&](const std::string& id, const std::string& ts, const std::string& text) {
    const std::string hex_key = "printf %s '" + secret.substr(6) +
                                "' | base64 -d | od -An -tx1 | tr -d ' \\n'";
    const std::string key = trimmed(run_checked({"sh", "-c", hex_key}));
    const std::string file = gw_->dir() + "/signed";
    std::ofstream(file) << id << "." << ts << "." << text;
    const std::string mac = run_checked(
        {"sh", "-c", "openssl dgst -sha256 -mac HMAC -macopt hexkey:" + key + " -binary < " +
                         file + " | base64"});
    return "v1," + trimmed(mac);
  };
  auto confirm = [&](const std::string& id, const std::string& ts, const std::string& sig,
                     const std::string& text) {
    const std::string request =
        "POST /webhook HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n"
        "Content-Type: application/json\r\nwebhook-id: " + id + "\r\nwebhook-timestamp: " + ts +
        "\r\nwebhook-signature: " + sig + "\r\nContent-Length: " + std::to_string(text.size()) +
        "\r\n\r\n" + text;
    // The payment backend is on the Internet side.
    return http_exchange(topology_.ns("inet"), topology_.address("gw", "inet"), kPagePort,
                         request, 10s);
  };
  const std::string now = std::to_string(unix_now());
  HttpExchange forged =
      confirm("msg_1", now, "v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", body);
  EXPECT_EQ(forged.status, 401) << forged.body;
  const std::string stale = std::to_string(unix_now() - 600);
  HttpExchange old = confirm("msg_2", stale, sign("msg_2", stale, body), body);
  EXPECT_EQ(old.status, 401) << old.body;
  EXPECT_EQ(internet("sub").status, 302) << "a refused confirmation paid the session";

  HttpExchange good = confirm("msg_3", now, sign("msg_3", now, body), body);
  ASSERT_EQ(good.status, 200) << good.head << good.body;
  Json::Value answer = from_json(good.body);
  EXPECT_EQ(answer["code"].asString().size(), 14u) << good.body;
  EXPECT_TRUE(answer["session"]["paid"].asBool()) << good.body;
  EXPECT_TRUE(through("sub"));
  HttpExchange replay = confirm("msg_3", now, sign("msg_3", now, body), body);
  EXPECT_EQ(replay.status, 409) << replay.body;
  Json::Value list = gw_->rpc("listVouchers");
  EXPECT_EQ(list["result"]["count"].asInt(), 1) << to_json(list);
}

}  // namespace
}  // namespace mnigs::test
