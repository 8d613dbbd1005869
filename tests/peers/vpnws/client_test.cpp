// The stand-in says and reads what vpn-ws-client says and reads. Expected
// requests follow the format string of vpn_ws_connect() in vpn-ws's
// src/client.c (commit f57aaf7); frame handling follows
// vpn_ws_websocket_parse() in src/websocket.c.
#include "client.hpp"

#include <gtest/gtest.h>

namespace mnigs::test::vpnws {
namespace {

const std::array<std::uint8_t, 10> kKey = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
const std::array<std::uint8_t, 6> kMac = {0x02, 0xab, 0x00, 0x00, 0x00, 0x0a};

Url url_of(const std::string& text) {
  std::string why;
  auto u = parse_url(text, &why);
  EXPECT_TRUE(u) << why;
  return u.value_or(Url{});
}

TEST(VpnWsClient, Base64Rfc4648Vectors) {
  auto b = [](const std::string& s) {
    return base64(reinterpret_cast<const std::uint8_t*>(s.data()), s.size());
  };
  EXPECT_EQ(b(""), "");
  EXPECT_EQ(b("f"), "Zg==");
  EXPECT_EQ(b("fo"), "Zm8=");
  EXPECT_EQ(b("foo"), "Zm9v");
  EXPECT_EQ(b("foobar"), "Zm9vYmFy");
  EXPECT_EQ(b("alice:secret"), "YWxpY2U6c2VjcmV0");
}

TEST(VpnWsClient, RequestWithoutPortOrCredentials) {
  EXPECT_EQ(upgrade_request(url_of("ws://10.77.1.1/vpn"), kKey, kMac, false),
            "GET /vpn HTTP/1.1\r\nHost: 10.77.1.1\r\nUpgrade: websocket\r\nConnection: "
            "Upgrade\r\nSec-WebSocket-Key: AQIDBAUGBwgJCg==\r\nX-vpn-ws-MAC: "
            "02:ab:00:00:00:0a\r\n\r\n");
}

TEST(VpnWsClient, RequestWithPortCredentialsAndBridge) {
  Url u = url_of("ws://alice:secret@10.77.1.1:8080/vpn");
  EXPECT_EQ(u.port, 8080);
  EXPECT_EQ(u.credentials, "alice:secret");
  EXPECT_EQ(upgrade_request(u, kKey, kMac, true),
            "GET /vpn HTTP/1.1\r\nHost: 10.77.1.1:8080\r\nAuthorization: Basic "
            "YWxpY2U6c2VjcmV0\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: "
            "AQIDBAUGBwgJCg==\r\nX-vpn-ws-MAC: 02:ab:00:00:00:0a\r\nX-vpn-ws-bridge: on\r\n\r\n");
}

TEST(VpnWsClient, BadUrlsSayWhy) {
  std::string why;
  EXPECT_FALSE(parse_url("wss://10.0.0.1/vpn", &why));
  EXPECT_NE(why.find("ws://"), std::string::npos) << why;
  EXPECT_FALSE(parse_url("ws://gateway/vpn", &why));
  EXPECT_NE(why.find("IPv4"), std::string::npos) << why;
  EXPECT_FALSE(parse_url("ws://10.0.0.1:99999/vpn", &why));
  EXPECT_NE(why.find("99999"), std::string::npos) << why;
}

TEST(VpnWsClient, StatusOnlyOnceTheHeadIsComplete) {
  EXPECT_EQ(response_status("HTTP/1.1 101 Switching Protocols\r\n"), 0);
  EXPECT_EQ(response_status("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n"), 101);
  EXPECT_EQ(response_status("HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n"), 401);
}

TEST(VpnWsClient, FramesItSendsAreMaskedWithTheConnectionsMask) {
  const std::array<std::uint8_t, 4> mask = {0x11, 0x22, 0x33, 0x44};
  const std::uint8_t payload[3] = {0x01, 0x02, 0x03};
  EXPECT_EQ(binary_frame(payload, 3, mask), std::string("\x82\x83\x11\x22\x33\x44\x10\x20\x30", 9));
  std::string big(1500, 'x');
  std::string f = binary_frame(reinterpret_cast<const std::uint8_t*>(big.data()), big.size(), mask);
  ASSERT_EQ(f.size(), 2u + 2u + 4u + 1500u);
  EXPECT_EQ(f.substr(0, 4), std::string("\x82\xfe\x05\xdc", 4));
}

TEST(VpnWsClient, ReadsDataSkipsPingsAndPongsAndEndsOnClose) {
  Parsed d =
      parse_frame(std::string("\x82\x03"
                              "abc",
                              5));
  EXPECT_EQ(d.kind, Parsed::Kind::data);
  EXPECT_EQ(d.payload, "abc");
  EXPECT_EQ(d.consumed, 5u);
  Parsed masked =
      parse_frame(std::string("\x82\x83\x01\x01\x01\x01"
                              "`cb",
                              9));
  EXPECT_EQ(masked.kind, Parsed::Kind::data);
  EXPECT_EQ(masked.payload, "abc");
  Parsed ping = parse_frame(std::string("\x89\x02hi", 4));
  EXPECT_EQ(ping.kind, Parsed::Kind::ignore);
  EXPECT_EQ(ping.consumed, 4u);
  EXPECT_EQ(parse_frame(std::string("\x8a\x00", 2)).kind, Parsed::Kind::ignore);
  EXPECT_EQ(parse_frame(std::string("\x88\x02\x03\xe8", 4)).kind, Parsed::Kind::close);
  EXPECT_EQ(parse_frame(std::string("\x83\x00", 2)).kind, Parsed::Kind::error);
  EXPECT_EQ(parse_frame(std::string("\x82\x7e\x01", 3)).kind, Parsed::Kind::need_more);
  EXPECT_EQ(parse_frame(std::string("\x82\x05"
                                    "ab",
                                    4))
                .kind,
            Parsed::Kind::need_more);
  std::string sixteen = std::string("\x82\x7e\x01\x00", 4) + std::string(256, 'y');
  Parsed s = parse_frame(sixteen);
  EXPECT_EQ(s.kind, Parsed::Kind::data);
  EXPECT_EQ(s.payload.size(), 256u);
}

}  // namespace
}  // namespace mnigs::test::vpnws
