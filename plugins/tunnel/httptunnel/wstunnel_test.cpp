// WStunnel's wire format: ids, tokens, routing of HTTP clients' requests,
// hop-by-hop headers, the request head a tunnel client reads, and the
// client's X-Host rule. The expected texts are WStunnel's (wstunsrv.go,
// ws.go, wstuncli.go of rightscale/wstunnel at 9e1cfcf).
#include "wstunnel.hpp"

#include <gtest/gtest.h>

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

namespace mnigs::httptunnel::wstunnel {
namespace {

std::span<const std::uint8_t> bytes(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

const std::string kToken = "my_b!g_$secret-0123";  // 19 characters

TEST(WsTunnelId, FourLowercaseHexDigits) {
  EXPECT_EQ(format_id(1), "0001");
  EXPECT_EQ(format_id(0x7cff), "7cff");
  EXPECT_EQ(format_id(0xabcd), "abcd");
}

TEST(WsTunnelId, ParsedInEitherCaseAndOnlyWhenFourHexDigitsLead) {
  EXPECT_EQ(parse_id(bytes("7cffHTTP/1.1 200 OK")), 0x7cff);
  EXPECT_EQ(parse_id(bytes("7CFF")), 0x7cff);
  EXPECT_EQ(parse_id(bytes("0000")), 0);
  EXPECT_EQ(parse_id(bytes("7cf")), std::nullopt);
  EXPECT_EQ(parse_id(bytes("7cfgHTTP")), std::nullopt);
  EXPECT_EQ(parse_id(bytes(" 7cf")), std::nullopt);
  EXPECT_EQ(parse_id(bytes("")), std::nullopt);
  for (std::uint16_t id : {0, 1, 255, 4096, 31999})
    EXPECT_EQ(parse_id(bytes(format_id(id))), id) << id;
}

TEST(WsTunnelToken, SixteenToTwoHundredFiftySixPrintableCharacters) {
  EXPECT_FALSE(check_token(std::string(16, 'a')));
  EXPECT_FALSE(check_token(std::string(256, 'a')));
  const Refusal short_one = check_token(std::string(15, 'a'));
  EXPECT_EQ(short_one.status, 400u);
  EXPECT_EQ(short_one.body, "Rendez-vous token is too short (must be 16 chars)\n");
  EXPECT_EQ(check_token(std::string(257, 'a')).status, 400u);
  EXPECT_EQ(check_token("0123456789 abcdef").status, 400u);
  EXPECT_EQ(check_token(std::string("0123456789abcdef\x7f", 17)).status, 400u);
}

TEST(WsTunnelToken, AnnouncedInTheWholeOriginHeader) {
  http::fields h;
  Announced a = announced_token(h);
  EXPECT_EQ(a.refusal.status, 400u);
  EXPECT_EQ(a.refusal.body, "Origin header with rendez-vous token required\n");
  h.set(http::field::origin, "short");
  a = announced_token(h);
  EXPECT_EQ(a.refusal.status, 400u);
  EXPECT_EQ(a.token, "");
  h.set(http::field::origin, kToken);
  a = announced_token(h);
  EXPECT_FALSE(a.refusal);
  EXPECT_EQ(a.token, kToken);
}

TEST(WsTunnelRoute, TokenInThePathKeepsPathAndQuery) {
  const Routed r = route("/_token/" + kToken + "/some/web/page?a=1&b=2", {});
  EXPECT_FALSE(r.refusal);
  EXPECT_EQ(r.token, kToken);
  EXPECT_EQ(r.target, "/some/web/page?a=1&b=2");
  const Routed root = route("/_token/" + kToken + "/", {});
  EXPECT_FALSE(root.refusal);
  EXPECT_EQ(root.target, "/");
}

TEST(WsTunnelRoute, NoPathAfterTheTokenIsMissingTokenInUri) {
  for (const std::string& t : {"/_token/" + kToken, std::string("/_token/"),
                              std::string("/_token//x")}) {
    const Routed r = route(t, {});
    EXPECT_EQ(r.refusal.status, 400u) << t;
    EXPECT_EQ(r.refusal.body, "Missing token in URI\n") << t;
    EXPECT_EQ(r.token, "") << t;
  }
}

TEST(WsTunnelRoute, TokenInXTokenHeader) {
  http::fields h;
  Routed r = route("/x?y", h);
  EXPECT_EQ(r.refusal.status, 400u);
  EXPECT_EQ(r.refusal.body, "Missing X-Token header\n");
  h.set("X-Token", kToken);
  r = route("/x?y", h);
  EXPECT_FALSE(r.refusal);
  EXPECT_EQ(r.token, kToken);
  EXPECT_EQ(r.target, "/x?y");
}

TEST(WsTunnelRoute, ShortTokenInEitherFormIsRefusedWith400) {
  http::fields h;
  h.set("X-Token", "abc");
  EXPECT_EQ(route("/x", h).refusal.status, 400u);
  EXPECT_EQ(route("/_token/abc/x", {}).refusal.status, 400u);
}

TEST(WsTunnelHeaders, HopByHopHeadersAndThoseConnectionNamesAreRemoved) {
  http::fields h;
  h.insert(http::field::connection, "keep-alive, X-Private");
  h.insert("X-Private", "1");
  h.insert(http::field::connection, "X-Other");
  h.insert("X-Other", "2");
  h.insert(http::field::keep_alive, "timeout=5");
  h.insert(http::field::transfer_encoding, "chunked");
  h.insert(http::field::upgrade, "websocket");
  h.insert(http::field::te, "trailers");
  h.insert(http::field::trailer, "X-Sum");
  h.insert(http::field::proxy_authorization, "Basic x");
  h.insert("Proxy-Connection", "close");
  h.insert(http::field::content_type, "text/plain");
  h.insert("X-Token", kToken);
  strip_hop_by_hop(h);
  std::vector<std::string> left;
  for (const auto& f : h) left.emplace_back(f.name_string());
  EXPECT_EQ(left, (std::vector<std::string>{"Content-Type", "X-Token"}));
}

// What a tunnel client reads must parse as one HTTP/1.1 request whose body
// framing is the one given, whatever the front's request used.
TEST(WsTunnelHeaders, RequestHeadParsesWithTheGivenFraming) {
  http::request_header<> in;
  in.method(http::verb::post);
  in.target("/_token/" + kToken + "/upload");
  in.version(10);
  in.set(http::field::host, "wstun.example.com:8080");
  in.set(http::field::transfer_encoding, "chunked");
  in.set(http::field::connection, "close");
  in.set("X-Token", kToken);
  const std::string head = request_head(in, "/upload", true, 5);
  boost::beast::error_code ec;
  http::request_parser<http::string_body> p;
  p.eager(true);
  p.put(boost::asio::buffer(head + "hello"), ec);
  ASSERT_FALSE(ec) << ec.message();
  ASSERT_TRUE(p.is_done());
  const auto& req = p.get();
  EXPECT_EQ(req.method(), http::verb::post);
  EXPECT_EQ(req.target(), "/upload");
  EXPECT_EQ(req.version(), 11);
  EXPECT_EQ(req[http::field::host], "wstun.example.com:8080");
  EXPECT_EQ(req[http::field::content_length], "5");
  EXPECT_EQ(req.count(http::field::transfer_encoding), 0u);
  EXPECT_EQ(req.count(http::field::connection), 0u);
  EXPECT_EQ(req.body(), "hello");

  const std::string chunked = request_head(in, "/upload", true, std::nullopt);
  EXPECT_NE(chunked.find("Transfer-Encoding: chunked\r\n"), std::string::npos);
  EXPECT_EQ(chunked.find("Content-Length"), std::string::npos);
  const std::string bodiless = request_head(in, "/upload", false, std::nullopt);
  EXPECT_EQ(bodiless.find("Transfer-Encoding"), std::string::npos);
  EXPECT_TRUE(bodiless.ends_with("\r\n\r\n"));
}

TEST(WsTunnelClient, XHostOnlyWhenTheRegexpMatchesTheWholeValue) {
  const std::optional<std::regex> none;
  const std::optional<std::regex> re(std::regex(R"(http://[a-z]+\.lan(:[0-9]+)?)"));
  Backend b = choose_backend("http://localhost:80/", std::nullopt, none);
  EXPECT_FALSE(b.refusal);
  EXPECT_EQ(b.base, "http://localhost:80");
  b = choose_backend("http://localhost", "http://printer.lan:631", none);
  EXPECT_EQ(b.refusal.status, 403u);
  EXPECT_EQ(b.refusal.body, "X-Host header disallowed by wstunnel cli (no -regexp option)\n");
  b = choose_backend("", "http://printer.lan:631", re);
  EXPECT_FALSE(b.refusal);
  EXPECT_EQ(b.base, "http://printer.lan:631");
  b = choose_backend("", "http://printer.lan:631/x", re);
  EXPECT_EQ(b.refusal.status, 403u);
  EXPECT_EQ(b.refusal.body,
            "X-Host header 'http://printer.lan:631/x' does not match regexp in wstunnel cli\n");
  // A path (or userinfo) after the authority would let a matching value
  // send the request elsewhere.
  const std::optional<std::regex> loose(std::regex(R"(http://.*\.lan)"));
  EXPECT_EQ(choose_backend("", "http://127.0.0.1:22/.lan", loose).refusal.status, 403u);
  EXPECT_EQ(choose_backend("", "http://x@127.0.0.1:22#.lan", loose).refusal.status, 403u);
  EXPECT_FALSE(choose_backend("", "http://printer.lan", loose).refusal);
  b = choose_backend("", std::string(5000, 'a'), re);
  EXPECT_EQ(b.refusal.status, 403u);
  b = choose_backend("", std::nullopt, re);
  EXPECT_EQ(b.refusal.status, 403u);
  EXPECT_EQ(b.refusal.body, "X-Host header required by wstunnel cli (no -server option)\n");
}

}  // namespace
}  // namespace mnigs::httptunnel::wstunnel
