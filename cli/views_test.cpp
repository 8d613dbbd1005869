// What mnigs-cli prints for real RPC results: the replies in testdata/ were
// captured from mnigsd (see testdata/README.md) with a gateway at a
// 39-character IPv6 address, a long UTF-8 name and four suites.
#include "views.hpp"

#include <gtest/gtest.h>
#include <json/reader.h>

#include <fstream>

namespace mnigs::cli {
namespace {

Json::Value load(const std::string& name) {
  std::ifstream in(std::string(MNIGS_CLI_TESTDATA) + "/" + name);
  Json::Value v;
  std::string errors;
  EXPECT_TRUE(Json::parseFromStream(Json::CharReaderBuilder(), in, &v, &errors))
      << name << ": " << errors;
  return v;
}

// lastSeen of the gateway in listGateways.json / listNodes.json.
constexpr std::int64_t kSeen = 1796407699;

TEST(CliViews, GatewayListWithFullLengthAddressAndFourSuites) {
  EXPECT_EQ(
      render_nodes(load("listGateways.json")["gateways"], true, kSeen + 75),
      // clang-format off
R"(NAME                               ADDRESS                                  PORT   SUITES                                                                             PRICE  SCORE  SOURCE  LAST SEEN
Dachgarten-Zürich-rooftop-gateway  fd77:a1b2:c3d4:e5f6:a7b8:c9da:ebfc:1d2e  65533  l2-forwarding-free,l2-websocket-free,static-forwarding-free,static-websocket-free  free   -      scan    1m 15s ago
)");
  // clang-format on
}

TEST(CliViews, NodeListWithFullLengthAddress) {
  Json::Value nodes = load("listNodes.json")["nodes"];
  nodes[0]["current"] = false;  // as after a scan that did not find it
  EXPECT_EQ(
      render_nodes(nodes, false, kSeen + 3700),
      // clang-format off
R"(NAME                               ADDRESS                                  PORT   GATEWAY  NETWORKS  LAST SEEN
Dachgarten-Zürich-rooftop-gateway  fd77:a1b2:c3d4:e5f6:a7b8:c9da:ebfc:1d2e  65533  yes      static    1h 1m 40s ago (not in last scan)
)");
  // clang-format on
}

TEST(CliViews, EmptyListsSayHowToScan) {
  EXPECT_EQ(render_nodes(Json::Value(Json::arrayValue), true, kSeen),
            "no gateways known; scan with: mnigs-cli -s\n");
  EXPECT_EQ(render_nodes(Json::Value(Json::arrayValue), false, kSeen),
            "no nodes known; scan with: mnigs-cli -s\n");
}

TEST(CliViews, HostileNameCannotReachTheTerminalOrAddALine) {
  Json::Value nodes = load("listNodes.json")["nodes"];
  // A peer's nodeInfo name: colour codes, a title change, and a newline
  // followed by a forged row.
  nodes[0]["name"] = "\x1b[31mevil\x1b]0;pwned\x07\nfake  10.0.0.1  1";
  const std::string out = render_nodes(nodes, false, kSeen);
  EXPECT_EQ(
      out,
      // clang-format off
R"(NAME                                   ADDRESS                                  PORT   GATEWAY  NETWORKS  LAST SEEN
?[31mevil?]0;pwned??fake  10.0.0.1  1  fd77:a1b2:c3d4:e5f6:a7b8:c9da:ebfc:1d2e  65533  yes      static    0s ago
)");
  // clang-format on
  EXPECT_EQ(out.find('\x1b'), std::string::npos);
}

TEST(CliViews, MistypedFieldsShowAsDashNotAsAnException) {
  Json::Value nodes = load("listGateways.json")["gateways"];
  nodes[0]["name"] = Json::Value(Json::objectValue);
  nodes[0]["suites"] = "static-forwarding-free";  // not an array
  nodes[0]["price"] = "0";
  nodes[0].removeMember("lastSeen");
  EXPECT_EQ(
      render_nodes(nodes, true, kSeen),
      "NAME  ADDRESS                                  PORT   SUITES  PRICE  SCORE  SOURCE  LAST SEEN\n"
      "-     fd77:a1b2:c3d4:e5f6:a7b8:c9da:ebfc:1d2e  65533  -       -      -      scan    -\n");
}

TEST(CliViews, PluginsShowStateAndTheWholeError) {
  // A plugin directory with a file that is no ELF, a plugin of another ABI
  // and one whose start throws (system test 02's BrokenPlugins case).
  EXPECT_EQ(render_plugins(load("listPlugins.json")),
            // clang-format off
R"(NAME                                          KIND       VERSION  STATE    DETAIL
static                                        discovery  1.0      running  Neighbours listed in the config
free                                          payment    1.0      running  Gateways that charge nothing
(/tmp/mnigs-a-5qnFkj/plugins/test_broken.so)  -          -        refused  cannot load: /tmp/mnigs-a-5qnFkj/plugins/test_broken.so: file too short
throwing                                      payment    0.1      failed   start threw: cannot start on purpose
wrongabi                                      -          -        refused  plugin ABI 2.0 does not match mnigsd's ABI 1.1; rebuild the plugin against this mnigs
)");
  // clang-format on
}

TEST(CliViews, SubscriberConnectedToAFullLengthAddress) {
  EXPECT_EQ(render_sessions(load("listSessions-subscriber.json"), kSeen),
            "subscriber: connected to [fd77:a1b2:c3d4:e5f6:a7b8:c9da:ebfc:1d2e]:65533 "
            "(Dachgarten-Zürich-rooftop-gateway) with static-forwarding-free, session "
            "237fc72700216054ae26badad512b935\n"
            "gateway sessions: 0\n");
}

TEST(CliViews, SubscriberWithAStandbyAndALan) {
  Json::Value r = load("listSessions-subscriber.json");
  Json::Value& standby = r["subscriber"]["standby"];
  standby["gatewayAddress"] = "10.77.2.1";
  standby["gatewayPort"] = 65533;
  standby["gatewayName"] = "gw2";
  standby["sessionId"] = "0123456789abcdef0123456789abcdef";
  standby["health"]["health"] = "up";
  standby["traffic"]["device"] = "mnws1";
  standby["traffic"]["counted"] = true;
  standby["traffic"]["bytesOut"] = 812;
  standby["traffic"]["packetsOut"] = 9;
  standby["traffic"]["bytesIn"] = Json::UInt64(1234567);
  standby["traffic"]["packetsIn"] = 1000;
  r["subscriber"]["connection"]["traffic"]["counted"] = false;
  r["subscriber"]["lan"]["prefixes"].append("192.168.1.0/24");
  r["subscriber"]["lan"]["prefixes"].append("fd12::/64");
  r["subscriber"]["lan"]["error"] = "";
  const std::string out = render_sessions(r, kSeen);
  EXPECT_NE(out.find("\n  standby: 10.77.2.1:65533 (gw2), session "
                     "0123456789abcdef0123456789abcdef, up\n"
                     "    traffic: 812 B out (9 packets), 1.2 MB in (1000 packets) through "
                     "mnws1\n"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("\n  traffic: not counted by its tunnel\n"), std::string::npos) << out;
  EXPECT_NE(out.find("\n  LAN sharing the gateway: 192.168.1.0/24 fd12::/64\n"), std::string::npos)
      << out;
}

TEST(CliViews, GatewaySessionsTable) {
  // The session expires at 1796408000.
  EXPECT_EQ(render_sessions(load("listSessions-gateway.json"), 1796408000 - 120),
            "subscriber: idle\n"
            "gateway sessions: 1\n"
            "  SESSION                           SUBSCRIBER              NAME  SUITE               "
            "    EXPIRES   OUT  IN\n"
            "  237fc72700216054ae26badad512b935  fd77:a1b2:c3d4:e5f6::1  s     "
            "static-forwarding-free  in 120 s  -    -\n");
  // A daemon that meters says what each session used.
  Json::Value metered = load("listSessions-gateway.json");
  metered["gateway"][0]["used"]["bytesOut"] = 81234;
  metered["gateway"][0]["used"]["bytesIn"] = 3150000;
  const std::string out = render_sessions(metered, 1796408000 - 120);
  EXPECT_NE(out.find("in 120 s  81.2 kB  3.1 MB\n"), std::string::npos) << out;
}

TEST(CliViews, PaymentAndVouchers) {
  Json::Value p(Json::objectValue);
  p["required"] = true;
  p["url"] = "http://10.77.2.1:65534/";
  EXPECT_EQ(payment_text(p), "payment required: open http://10.77.2.1:65534/");
  p["required"] = false;
  p["secondsRemaining"] = 3000;
  p["bytesRemaining"] = 4000000;
  EXPECT_EQ(payment_text(p), "paid: 50 min and 4.0 MB left");
  EXPECT_EQ(payment_text(Json::Value()), "");

  Json::Value v(Json::objectValue);
  v["code"] = "ABCD-EFGH-JKMN";
  v["state"] = "in use";
  v["minutes"] = 60;
  v["bytes"] = 1000000000;
  v["rateDown"] = 4000000;
  v["rateUp"] = 1000000;
  v["devices"] = 1;
  v["secondsLeft"] = 1800;
  v["bytesLeft"] = 400000000;
  v["usedBytes"] = 600000000;
  v["note"] = "cafe\x1b[2J";
  Json::Value list(Json::arrayValue);
  list.append(v);
  const std::string created = render_vouchers(list, true, 0);
  EXPECT_EQ(created,
            "1 voucher: 60 min, 1.0 GB, 4.0 Mbit/s down / 1.0 Mbit/s up, 1 device\n"
            "ABCD-EFGH-JKMN\n");
  const std::string table = render_vouchers(list, false, 0);
  EXPECT_NE(table.find("ABCD-EFGH-JKMN  in use  60 min, 1.0 GB"), std::string::npos) << table;
  EXPECT_NE(table.find("30 min and 400.0 MB  600.0 MB"), std::string::npos) << table;
  EXPECT_EQ(table.find('\x1b'), std::string::npos) << "a note must not reach the terminal raw";
  EXPECT_EQ(render_vouchers(Json::Value(Json::arrayValue), false, 0), "no vouchers\n");
}

TEST(CliViews, Status) {
  EXPECT_EQ(render_status(load("status.json"), load("listSessions-subscriber.json"),
                          load("scanStatus.json"), load("dhtStatus.json"), kSeen + 4),
            "mnigsd 0.1.0 \"s\", up 3s, pid 9036\n"
            "config    /tmp/mnigs-s-iU0UwE/mnigs.yaml\n"
            "database  /tmp/mnigs-s-iU0UwE/mnigs.db (schema 4)\n"
            "rpc       0.0.0.0:65533, [::]:65533; 1 open, 7 calls, 0 errors, 0 refused\n"
            "gateway   disabled\n"
            "plugins   discovery/static, payment/free, tunnel/forwarding, tunnel/websocket\n"
            "suites    static-forwarding-free, static-websocket-free\n"
            "uplink    connected via fd77:a1b2:c3d4:e5f6:a7b8:c9da:ebfc:1d2e "
            "(static-forwarding-free)\n"
            "scan      #1 found 1 node(s), 1 gateway(s), 4s ago\n"
            "dht       off (dht.enabled is false)\n");
  // Lines whose call failed are left out.
  EXPECT_EQ(render_status(load("status.json"), Json::Value(), Json::Value(), Json::Value(), kSeen),
            "mnigsd 0.1.0 \"s\", up 3s, pid 9036\n"
            "config    /tmp/mnigs-s-iU0UwE/mnigs.yaml\n"
            "database  /tmp/mnigs-s-iU0UwE/mnigs.db (schema 4)\n"
            "rpc       0.0.0.0:65533, [::]:65533; 1 open, 7 calls, 0 errors, 0 refused\n"
            "gateway   disabled\n"
            "plugins   discovery/static, payment/free, tunnel/forwarding, tunnel/websocket\n"
            "suites    static-forwarding-free, static-websocket-free\n");
}

TEST(CliViews, Info) {
  EXPECT_EQ(
      render_info(load("nodeInfo.json")),
      "name     Dachgarten-Zürich-rooftop-gateway\n"
      "id       84418e5f69d4c8c430be5cbb2a6952ad\n"
      "version  0.1.0\n"
      "gateway  yes\n"
      "suites   l2-forwarding-free, l2-websocket-free, static-forwarding-free, "
      "static-websocket-free\n"
      "ipv6     yes\n"
      "plugins  discovery/babel, discovery/batman, discovery/cjdns, discovery/l2, "
      "discovery/olsr, discovery/static, payment/free, tunnel/forwarding, tunnel/websocket\n");
}

TEST(CliViews, ScanSummary) {
  EXPECT_EQ(render_scan_summary(load("scanStatus.json")),
            "scan #1: 1 node(s), 1 gateway(s) from 1 probe(s) in 0.00 s\n");
  Json::Value with_error = load("scanStatus.json");
  Json::Value e(Json::objectValue);
  e["plugin"] = "cjdns";
  e["error"] = "cjdroute admin at 127.0.0.1:11234 refused the password (Auth failed.)\x1b[2J";
  with_error["errors"].append(e);
  EXPECT_EQ(render_scan_summary(with_error),
            "scan #1: 1 node(s), 1 gateway(s) from 1 probe(s) in 0.00 s\n"
            "  cjdns: cjdroute admin at 127.0.0.1:11234 refused the password (Auth failed.)?[2J\n");
}

TEST(CliViews, Tether) {
  Json::Value p(Json::objectValue);
  p["serving"] = true;
  p["code"] = "12345678";
  p["urls"].append("http://192.168.7.10:6354/#12345678");
  p["state"] = "waiting for the page";
  EXPECT_EQ(render_tether(p),
            "open on the phone (same Wi-Fi):\n"
            "  http://192.168.7.10:6354/#12345678\n"
            "pairing code: 12345678\n"
            "state: waiting for the page\n");
  p["state"] = "connected";
  p["page"] = "192.168.7.2\x1b[2J";
  EXPECT_EQ(tether_state_line(p), "connected (page at 192.168.7.2?[2J)\n");
  Json::Value off(Json::objectValue);
  off["serving"] = false;
  off["error"] = "cannot listen on 10.9.9.9:6354: Cannot assign requested address";
  EXPECT_EQ(render_tether(off), "the tether page is not served: cannot listen on "
                                "10.9.9.9:6354: Cannot assign requested address\n");
}

#ifdef MNIGS_HAVE_QRENCODE
// 35 bytes at level M fit version 3 (29 modules): with the quiet zone of
// two, 33 rows of modules in 17 lines.
TEST(CliViews, QrCodeIsDrawnInHalfBlocks) {
  const std::string qr = render_qr("http://192.168.7.10:6354/#12345678");
  ASSERT_FALSE(qr.empty());
  std::size_t lines = 0;
  for (char c : qr) lines += c == '\n';
  EXPECT_EQ(lines, 17u);
  EXPECT_TRUE(qr.starts_with("\x1b[30;47m"));
  EXPECT_NE(qr.find("\u2588"), std::string::npos);
}
#endif

}  // namespace
}  // namespace mnigs::cli
