// The node's upgrade request as the gateway reads it, and every refusal.
#include "link.hpp"

#include <gtest/gtest.h>

#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>

namespace mnigs::httptunnel::link {
namespace {

namespace http = wstunnel::http;

http::request<http::empty_body> parse(const std::string& bytes) {
  http::request_parser<http::empty_body> p;
  boost::beast::error_code ec;
  p.put(boost::asio::buffer(bytes), ec);
  EXPECT_FALSE(ec) << ec.message();
  EXPECT_TRUE(p.is_done());
  return p.release();
}

const std::string kSecret = "0123456789abcdef0123";

TEST(HttpTunnelLink, TheRequestReadsBack) {
  const auto req = parse(request({"id:tim", kSecret, {"hello-world", "ws"}}, "10.0.0.1:65533"));
  EXPECT_EQ(req.target(), "/_tunnel");
  EXPECT_EQ(req[http::field::host], "10.0.0.1:65533");
  EXPECT_TRUE(wants(req));
  const Read r = read(req);
  EXPECT_FALSE(r.refusal) << r.refusal.body;
  EXPECT_EQ(r.hello.key, "id:tim");
  EXPECT_EQ(r.hello.secret, kSecret);
  EXPECT_EQ(r.hello.services, (std::vector<std::string>{"hello-world", "ws"}));
  const auto token = parse(request({"token:0123456789abcdef", kSecret, {}}, "gw"));
  EXPECT_FALSE(read(token).refusal);
  EXPECT_TRUE(read(token).hello.services.empty());
}

TEST(HttpTunnelLink, BadHellosAreRefused) {
  const std::vector<Hello> bad = {
      {"token:short", kSecret, {}},
      {"id:Tim", kSecret, {}},
      {"name:tim", kSecret, {}},
      {"id:tim", "short", {}},
      {"id:tim", std::string(129, 'a'), {}},
      {"id:tim", kSecret, {"Bad"}},
      {"token:0123456789abcdef", kSecret, {"svc"}},
  };
  for (const auto& h : bad) {
    const Read r = read(parse(request(h, "gw")));
    EXPECT_EQ(r.refusal.status, 400u) << h.key << " " << h.secret;
  }
  std::vector<std::string> many(65, "a");
  EXPECT_EQ(read(parse(request({"id:tim", kSecret, many}, "gw"))).refusal.status, 400u);
  EXPECT_EQ(read(parse("GET /_tunnel HTTP/1.1\r\nHost: gw\r\n\r\n")).refusal.status, 400u);
}

TEST(HttpTunnelLink, TheAnswerSwitchesToThisProtocolOnly) {
  EXPECT_EQ(accept(),
            "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n"
            "Upgrade: mnigs-httptunnel/1\r\n\r\n");
  EXPECT_FALSE(wants(parse("GET /_tunnel HTTP/1.1\r\nUpgrade: websocket\r\n\r\n")));
}

// What a gateway found from offers sees instead of the node's secret:
// HMAC-SHA256 (RFC 4231 test case 2), one per gateway address.
TEST(HttpTunnelLink, AFoundGatewaySeesASecretOfItsOwn) {
  EXPECT_EQ(gateway_secret("Jefe", "what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  const std::string secret(64, 'a');
  const std::string one = gateway_secret(secret, "10.0.0.1:65533");
  EXPECT_TRUE(valid_secret(one));
  EXPECT_NE(one, gateway_secret(secret, "10.0.0.2:65533"));
  EXPECT_NE(one, gateway_secret(secret, "10.0.0.1:65534"));
  EXPECT_NE(one, gateway_secret(std::string(64, 'b'), "10.0.0.1:65533"));
  EXPECT_EQ(one, gateway_secret(secret, "10.0.0.1:65533"));
}

}  // namespace
}  // namespace mnigs::httptunnel::link
