// Unit tests of the opening handshake (server and client side) and MAC
// addresses.
#include "handshake.hpp"

#include <gtest/gtest.h>

#include <unordered_set>

namespace mnigs::websocket {
namespace {

// RFC 6455 section 1.2 (plus the version and protocol lines of 1.3).
const std::string kRfcRequest =
    "GET /chat HTTP/1.1\r\n"
    "Host: server.example.com\r\n"
    "Upgrade: websocket\r\n"
    "Connection: Upgrade\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    "Origin: http://example.com\r\n"
    "Sec-WebSocket-Protocol: chat, superchat\r\n"
    "Sec-WebSocket-Version: 13\r\n"
    "\r\n";

// What the vpn-ws C client sends: a 10-byte key, no version, its tap's MAC,
// and the bridge flag.
const std::string kVpnWsRequest =
    "GET /vpn HTTP/1.1\r\n"
    "Host: gw.example.net:8080\r\n"
    "Upgrade: websocket\r\n"
    "Connection: Upgrade\r\n"
    "Sec-WebSocket-Key: MDEyMzQ1Njc4OQ==\r\n"
    "X-vpn-ws-MAC: 02:ab:cd:ef:01:23\r\n"
    "X-vpn-ws-bridge: on\r\n"
    "\r\n";

RequestHead request(const std::string& text) {
  RequestHead r = parse_request(text);
  EXPECT_TRUE(r.ok) << r.error;
  return r;
}

// A valid upgrade with one field replaced (or removed, when value is empty).
Headers valid_with(const std::string& name, const std::string& value) {
  Headers h = {{"Host", "gw"},
               {"Upgrade", "websocket"},
               {"Connection", "Upgrade"},
               {"Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="}};
  bool replaced = false;
  for (auto it = h.begin(); it != h.end(); ++it) {
    if (it->first == name) {
      if (value.empty()) {
        h.erase(it);
      } else {
        it->second = value;
      }
      replaced = true;
      break;
    }
  }
  if (!replaced) h.emplace_back(name, value);
  return h;
}

// ---- keys ----

TEST(Handshake, RfcAcceptKeyExample) {
  EXPECT_EQ(accept_key("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

TEST(Handshake, RandomKeyIs16FreshBytes) {
  const std::string a = random_key();
  const std::string b = random_key();
  EXPECT_EQ(a.size(), 24u);
  const auto decoded = base64_decode(a);
  ASSERT_TRUE(decoded);
  EXPECT_EQ(decoded->size(), 16u);
  EXPECT_NE(a, b);
}

// ---- server side ----

TEST(Handshake, RfcRequestIsAcceptedWithTheClientsFirstCommonProtocol) {
  const RequestHead req = request(kRfcRequest);
  EXPECT_EQ(req.method, "GET");
  EXPECT_EQ(req.target, "/chat");
  EXPECT_EQ(req.consumed, kRfcRequest.size());
  const ServerUpgrade u = check_upgrade(req.method, req.headers, {"superchat", "chat"});
  ASSERT_TRUE(u.ok) << u.error;
  EXPECT_EQ(u.status, 101);
  EXPECT_EQ(u.accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
  EXPECT_EQ(u.protocol, "chat");
  EXPECT_FALSE(u.mac);
  EXPECT_FALSE(u.bridge);
  EXPECT_EQ(response_101(u),
            "HTTP/1.1 101 Switching Protocols\r\n"
            "Upgrade: websocket\r\n"
            "Connection: Upgrade\r\n"
            "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
            "Sec-WebSocket-Protocol: chat\r\n"
            "\r\n");
}

TEST(Handshake, VpnWsRequestIsAccepted) {
  const RequestHead req = request(kVpnWsRequest);
  const ServerUpgrade u = check_upgrade(req.method, req.headers, {});
  ASSERT_TRUE(u.ok) << u.error;
  EXPECT_EQ(u.accept, accept_key("MDEyMzQ1Njc4OQ=="));
  ASSERT_TRUE(u.mac);
  EXPECT_EQ(to_string(*u.mac), "02:ab:cd:ef:01:23");
  EXPECT_TRUE(u.bridge);
  EXPECT_EQ(u.protocol, "");
  // No Sec-WebSocket-Protocol line when none was chosen; extras at the end.
  EXPECT_EQ(response_101(u, {{"Server", "mnigs"}}),
            "HTTP/1.1 101 Switching Protocols\r\n"
            "Upgrade: websocket\r\n"
            "Connection: Upgrade\r\n"
            "Sec-WebSocket-Accept: " +
                accept_key("MDEyMzQ1Njc4OQ==") +
                "\r\n"
                "Server: mnigs\r\n"
                "\r\n");
}

TEST(Handshake, NamesAndTokensAreCaseInsensitiveAndListsAreSplit) {
  const Headers h = {{"upgrade", "WebSocket"},
                     {"CONNECTION", "keep-alive, Upgrade"},
                     {"sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="},
                     {"sec-websocket-version", "13"},
                     {"x-VPN-ws-mac", "02:AB:CD:EF:01:23"},
                     {"x-vpn-ws-bridge", "ON"}};
  const ServerUpgrade u = check_upgrade("GET", h, {});
  ASSERT_TRUE(u.ok) << u.error;
  EXPECT_EQ(to_string(*u.mac), "02:ab:cd:ef:01:23");
  EXPECT_TRUE(u.bridge);
}

TEST(Handshake, BridgeIsOnlyOn) {
  for (const char* v : {"off", "yes", "1"}) {
    const ServerUpgrade u = check_upgrade("GET", valid_with("X-vpn-ws-bridge", v), {});
    ASSERT_TRUE(u.ok);
    EXPECT_FALSE(u.bridge) << v;
  }
}

TEST(Handshake, ProtocolListsAcrossSeveralFields) {
  Headers h = valid_with("Sec-WebSocket-Protocol", "a, b");
  h.emplace_back("Sec-WebSocket-Protocol", "c");
  EXPECT_EQ(check_upgrade("GET", h, {"c", "x"}).protocol, "c");
  EXPECT_EQ(check_upgrade("GET", h, {"b", "c"}).protocol, "b");
  const ServerUpgrade none = check_upgrade("GET", h, {"x"});
  EXPECT_TRUE(none.ok);  // nothing in common is not an error
  EXPECT_EQ(none.protocol, "");
}

TEST(Handshake, KeysOfAnySensibleSizeAreAccepted) {
  // 10 bytes (vpn-ws), 16 (RFC), 1 and 64 (the bounds).
  for (const std::size_t n : {1, 10, 16, 64}) {
    const std::string key = base64_encode(std::vector<std::uint8_t>(n, 0x5a));
    const ServerUpgrade u = check_upgrade("GET", valid_with("Sec-WebSocket-Key", key), {});
    EXPECT_TRUE(u.ok) << n << ": " << u.error;
    EXPECT_EQ(u.accept, accept_key(key));
  }
}

void expect_refused(const ServerUpgrade& u, int status, const std::string& says) {
  EXPECT_FALSE(u.ok);
  EXPECT_EQ(u.status, status);
  EXPECT_NE(u.error.find(says), std::string::npos) << u.error;
}

TEST(Handshake, RefusedKeys) {
  expect_refused(check_upgrade("GET", valid_with("Sec-WebSocket-Key", ""), {}), 400,
                 "no Sec-WebSocket-Key");
  expect_refused(check_upgrade("GET", valid_with("Sec-WebSocket-Key", "===="), {}), 400,
                 "not base64");
  expect_refused(check_upgrade("GET", valid_with("Sec-WebSocket-Key", "not base64!"), {}), 400,
                 "\"not base64!\" is not base64");
  const std::string long_key = base64_encode(std::vector<std::uint8_t>(65, 1));
  expect_refused(check_upgrade("GET", valid_with("Sec-WebSocket-Key", long_key), {}), 400,
                 "65 bytes");
  Headers twice = valid_with("Host", "gw");
  twice.emplace_back("Sec-WebSocket-Key", "MDEyMzQ1Njc4OQ==");
  expect_refused(check_upgrade("GET", twice, {}), 400, "more than one Sec-WebSocket-Key");
  // A present but empty field.
  Headers empty = valid_with("Sec-WebSocket-Key", "");
  empty.emplace_back("Sec-WebSocket-Key", "");
  expect_refused(check_upgrade("GET", empty, {}), 400, "empty");
}

TEST(Handshake, RefusedRequests) {
  expect_refused(check_upgrade("POST", valid_with("Host", "gw"), {}), 400, "\"POST\"");
  expect_refused(check_upgrade("GET", valid_with("Upgrade", ""), {}), 400,
                 "no \"Upgrade: websocket\"");
  expect_refused(check_upgrade("GET", valid_with("Upgrade", "h2c"), {}), 400, "\"h2c\"");
  expect_refused(check_upgrade("GET", valid_with("Connection", "keep-alive"), {}), 400,
                 "\"keep-alive\"");
  expect_refused(check_upgrade("GET", valid_with("Connection", ""), {}), 400, "Connection");
}

TEST(Handshake, OtherVersionIs426AndTheResponseNames13) {
  const ServerUpgrade u = check_upgrade("GET", valid_with("Sec-WebSocket-Version", "8"), {});
  expect_refused(u, 426, "Sec-WebSocket-Version \"8\"");
  EXPECT_NE(u.error.find("13"), std::string::npos);
  const std::string r = response(u);
  EXPECT_EQ(r.rfind("HTTP/1.1 426 Upgrade Required\r\n", 0), 0u) << r;
  EXPECT_NE(r.find("\r\nSec-WebSocket-Version: 13\r\n"), std::string::npos) << r;
  EXPECT_NE(r.find("\r\nUpgrade: websocket\r\n"), std::string::npos) << r;
}

TEST(Handshake, MalformedOrGroupMacIs400) {
  for (const char* bad : {"02:ab:cd:ef:01", "02:ab:cd:ef:01:2g", "02ab:cd:ef:01:23:", "x"}) {
    expect_refused(check_upgrade("GET", valid_with("X-vpn-ws-MAC", bad), {}), 400, "X-vpn-ws-MAC");
  }
  for (const char* group : {"ff:ff:ff:ff:ff:ff", "01:00:5e:00:00:01", "00:00:00:00:00:00"}) {
    expect_refused(check_upgrade("GET", valid_with("X-vpn-ws-MAC", group), {}), 400,
                   "not a station's own");
  }
}

TEST(Handshake, ErrorResponseIsACompleteSmallTextResponse) {
  const std::string r = response_error(400, "no Sec-WebSocket-Key header", {{"Server", "mnigs"}});
  EXPECT_EQ(r,
            "HTTP/1.1 400 Bad Request\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n"
            "Content-Length: 28\r\n"
            "Connection: close\r\n"
            "Server: mnigs\r\n"
            "\r\n"
            "no Sec-WebSocket-Key header\n");
}

TEST(Handshake, ErrorMessagesQuoteClientValuesSafely) {
  const ServerUpgrade u = check_upgrade("GET",
                                        valid_with("Upgrade",
                                                   "a\x01"
                                                   "b"),
                                        {});
  EXPECT_NE(u.error.find("\"a?b\""), std::string::npos) << u.error;
}

TEST(Handshake, ExtraFieldsCannotInjectLines) {
  ServerUpgrade ok = check_upgrade("GET", valid_with("Host", "gw"), {});
  ASSERT_TRUE(ok.ok);
  EXPECT_THROW(response_101(ok, {{"X", "a\r\nSet-Cookie: b"}}), std::invalid_argument);
  EXPECT_THROW(response_101(ok, {{"Bad Name", "v"}}), std::invalid_argument);
  EXPECT_THROW(response_error(400, "m", {{"X:", "v"}}), std::invalid_argument);
  EXPECT_THROW(client_request("h\r\nX: y", "/", "k"), std::invalid_argument);
  EXPECT_THROW(client_request("h", "/a b", "k"), std::invalid_argument);
  ServerUpgrade refused = check_upgrade("POST", valid_with("Host", "gw"), {});
  EXPECT_THROW(response_101(refused), std::invalid_argument);
}

// ---- parse_request ----

TEST(Request, NeedsMoreUntilTheBlankLine) {
  for (std::size_t n = 0; n < kRfcRequest.size(); ++n) {
    const RequestHead r = parse_request(std::string_view(kRfcRequest).substr(0, n));
    ASSERT_FALSE(r.ok) << n;
    ASSERT_EQ(r.status, 0) << n;
    ASSERT_EQ(r.error, "") << n;
  }
  // Frames right behind the head are not part of it.
  const RequestHead r = parse_request(kRfcRequest + "\x82\x00");
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.consumed, kRfcRequest.size());
  EXPECT_EQ(r.headers.size(), 7u);
  EXPECT_EQ(*find_header(r.headers, "origin"), "http://example.com");
}

TEST(Request, TooLargeIs431) {
  const std::string big = "GET / HTTP/1.1\r\nX: " + std::string(9000, 'a');
  const RequestHead r = parse_request(big);
  EXPECT_EQ(r.status, 431);
  EXPECT_FALSE(r.error.empty());
}

TEST(Request, MalformedHeadsAre400) {
  for (const char* bad :
       {"GET /\r\n\r\n", "GET / HTTP/2\r\n\r\n", "GET / HTTP/1.1\r\nNoColon\r\n\r\n",
        "GET / HTTP/1.1\r\nA: b\r\n folded\r\n\r\n", "GET / HTTP/1.1\r\nA: b\nC: d\r\n\r\n",
        "\r\n\r\n"}) {
    const RequestHead r = parse_request(bad);
    EXPECT_FALSE(r.ok) << bad;
    EXPECT_EQ(r.status, 400) << bad;
  }
}

// ---- client side ----

TEST(Client, RequestText) {
  EXPECT_EQ(client_request("gw.example.net:8080", "/vpn",
                           "dGhlIHNhbXBsZSBub25jZQ==", {{"X-vpn-ws-MAC", "02:ab:cd:ef:01:23"}}),
            "GET /vpn HTTP/1.1\r\n"
            "Host: gw.example.net:8080\r\n"
            "Upgrade: websocket\r\n"
            "Connection: Upgrade\r\n"
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            "Sec-WebSocket-Version: 13\r\n"
            "X-vpn-ws-MAC: 02:ab:cd:ef:01:23\r\n"
            "\r\n");
  EXPECT_EQ(client_request("h", "", "k").rfind("GET / HTTP/1.1\r\n", 0), 0u);
}

// A gateway's reply names the path and the token: what a request line or
// header cannot carry is refused before client_request would throw.
TEST(Client, ValuesARequestCannotCarryAreRefusedBeforeTheRequestIsMade) {
  EXPECT_EQ(request_refusal("/ws/websocket", {{"Authorization", "Bearer abc"}}), "");
  for (const std::string target : {"/a b", "/a\tb", "/a\r\nHost: x"}) {
    EXPECT_NE(request_refusal(target), "") << target;
    EXPECT_THROW(client_request("h:1", target, "k"), std::invalid_argument) << target;
  }
  const Headers injected = {{"Authorization", "Bearer abc\r\nX-Evil: 1"}};
  EXPECT_NE(request_refusal("/ws", injected), "");
  EXPECT_THROW(client_request("h:1", "/ws", "k", injected), std::invalid_argument);
}

TEST(Client, OwnRequestPassesOwnServerCheck) {
  const std::string key = random_key();
  const RequestHead req = request(client_request("gw", "/", key));
  const ServerUpgrade u = check_upgrade(req.method, req.headers, {});
  ASSERT_TRUE(u.ok) << u.error;
  const ClientUpgradeResult r = parse_response(response_101(u), key);
  EXPECT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.status, 101);
}

const std::string kRfcResponse =
    "HTTP/1.1 101 Switching Protocols\r\n"
    "Upgrade: websocket\r\n"
    "Connection: Upgrade\r\n"
    "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
    "Sec-WebSocket-Protocol: chat\r\n"
    "\r\n";
const char* kRfcKey = "dGhlIHNhbXBsZSBub25jZQ==";

TEST(Client, NeedsMoreUntilTheBlankLineThenAccepts) {
  for (std::size_t n = 0; n < kRfcResponse.size(); ++n) {
    const ClientUpgradeResult r =
        parse_response(std::string_view(kRfcResponse).substr(0, n), kRfcKey, {"chat"});
    ASSERT_FALSE(r.ok) << n;
    ASSERT_EQ(r.status, 0) << n;
    ASSERT_EQ(r.error, "") << n;
  }
  // vpn-ws servers answer and then send frames at once.
  const ClientUpgradeResult r = parse_response(kRfcResponse + "\x82\x00", kRfcKey, {"chat"});
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.status, 101);
  EXPECT_EQ(r.protocol, "chat");
  EXPECT_EQ(r.consumed, kRfcResponse.size());
}

void expect_failed(const ClientUpgradeResult& r, const std::string& says) {
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.error.find(says), std::string::npos) << r.error;
}

TEST(Client, WrongAcceptIsRefused) {
  expect_failed(parse_response(kRfcResponse, "MDEyMzQ1Njc4OQ==", {"chat"}),
                "does not match the key sent");
}

TEST(Client, UnofferedProtocolOrExtensionIsRefused) {
  expect_failed(parse_response(kRfcResponse, kRfcKey), "\"chat\", which was not offered");
  std::string ext = kRfcResponse;
  ext.insert(ext.size() - 2, "Sec-WebSocket-Extensions: permessage-deflate\r\n");
  expect_failed(parse_response(ext, kRfcKey, {"chat"}), "permessage-deflate");
}

TEST(Client, NonUpgradeAnswersAreRefusedWithTheirStatus) {
  const ClientUpgradeResult r =
      parse_response("HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n", kRfcKey);
  EXPECT_EQ(r.status, 403);
  expect_failed(r, "403 \"Forbidden\" instead of 101");
  expect_failed(parse_response("SSH-2.0-OpenSSH_9.2\r\n\r\n", kRfcKey), "not an HTTP status line");
  expect_failed(parse_response("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n"
                               "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n",
                               kRfcKey),
                "Upgrade: websocket");
  expect_failed(parse_response("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                               "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n",
                               kRfcKey),
                "Connection: upgrade");
  expect_failed(parse_response("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                               "Connection: upgrade\r\n\r\n",
                               kRfcKey),
                "no Sec-WebSocket-Accept");
}

TEST(Client, ResponseWithoutEndWithin8KiBIsAnError) {
  const std::string endless = "HTTP/1.1 101 Switching Protocols\r\nX: " + std::string(8200, 'a');
  const ClientUpgradeResult r = parse_response(endless, kRfcKey);
  EXPECT_FALSE(r.ok);
  EXPECT_FALSE(r.error.empty());
  // Just under the limit it still waits.
  EXPECT_EQ(parse_response(endless.substr(0, 8000), kRfcKey).error, "");
}

// ---- MAC addresses ----

TEST(Mac, ParseAndPrint) {
  const auto m = parse_mac("02:AB:cd:Ef:01:23");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->bytes, (std::array<std::uint8_t, 6>{0x02, 0xab, 0xcd, 0xef, 0x01, 0x23}));
  EXPECT_EQ(to_string(*m), "02:ab:cd:ef:01:23");
  EXPECT_EQ(parse_mac("02-ab-cd-ef-01-23"), m);
  EXPECT_EQ(Mac::from_u64(m->to_u64()), *m);
  EXPECT_EQ(m->to_u64(), 0x02abcdef0123u);
  for (const char* bad :
       {"", "02:ab:cd:ef:01", "02:ab:cd:ef:01:23:45", "02:ab-cd:ef:01:23", "02.ab.cd.ef.01.23",
        " 02:ab:cd:ef:01:23", "0g:ab:cd:ef:01:23", "2:ab:cd:ef:01:234"}) {
    EXPECT_FALSE(parse_mac(bad)) << bad;
  }
}

TEST(Mac, Kinds) {
  const Mac bc = *parse_mac("ff:ff:ff:ff:ff:ff");
  const Mac v4 = *parse_mac("01:00:5e:00:00:fb");
  const Mac v6 = *parse_mac("33:33:00:00:00:01");
  const Mac uni = *parse_mac("02:00:00:00:00:01");
  const Mac zero{};
  EXPECT_TRUE(is_broadcast(bc));
  EXPECT_TRUE(is_multicast(bc));
  EXPECT_TRUE(is_multicast(v4));
  EXPECT_TRUE(is_multicast(v6));
  EXPECT_FALSE(is_broadcast(v4));
  EXPECT_FALSE(is_multicast(uni));
  EXPECT_TRUE(is_unicast(uni));
  EXPECT_TRUE(is_zero(zero));
  EXPECT_FALSE(is_unicast(zero));
  EXPECT_FALSE(is_zero(uni));
}

TEST(Mac, ComparesAndHashes) {
  const Mac a = *parse_mac("02:00:00:00:00:01");
  const Mac b = *parse_mac("02:00:00:00:00:02");
  EXPECT_LT(a, b);
  EXPECT_NE(a, b);
  EXPECT_EQ(a, Mac::from(a.bytes.data()));
  std::unordered_set<Mac> set{a, b, a};
  EXPECT_EQ(set.size(), 2u);
  EXPECT_TRUE(set.count(b));
}

}  // namespace
}  // namespace mnigs::websocket
