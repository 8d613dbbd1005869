// The cjdroute stand-in checks requests the way cjdroute does. Requests here
// were built by Python's hashlib and a plain bencoder, as cjdns'
// contrib/python/cjdnsadmin builds them, not by the plugin under test.
#include "admin_server.hpp"

#include <gtest/gtest.h>

namespace cjdroute_peer {
namespace {

// Python: cookie "1700000000", password "NONE", NodeStore_dumpTable page 1, txid "py1".
const std::string kPythonRequest =
    "d2:aq19:NodeStore_dumpTable4:argsd4:pagei1ee6:cookie10:1700000000"
    "4:hash64:08bf15f2180b4666f2c057915be06453b567c7367282cc08c91451c0ef4673c9"
    "1:q4:auth4:txid3:py1e";
constexpr std::uint64_t kCookieTime = 1700000000;

const char* kKeys[] = {
    "dyh3fhkhmmx25f02bblyx80ydc3s3xsxtcrh957c1jy94yvfxc01.k",
    "t3ddmq078szxu2crkmw5slsxzlbd88mq4qfgh794l7nkgvsfj220.k",
    "p2kvsthsc29rxzb89b4qnr94q1qv21nln1xg36vszcndntg4ry90.k",
};

AdminServer server(const std::string& password, std::size_t page_size = 2) {
  AdminServer s(password, page_size);
  Node self;
  self.key = "nrjgkkj95zb3thx1uctcurrtu6jl4c71bgl9pm4ydtvsfshltr50.k";
  self.ip = *key_to_ip(self.key);
  self.path = "0000.0000.0000.0001";
  s.set_self(self);
  for (const char* k : kKeys) {
    Node n;
    n.key = k;
    n.ip = *key_to_ip(k);
    n.path = "0000.0000.0000.0013";
    s.add_node(n);
  }
  return s;
}

Benc decode(const std::optional<std::string>& reply) {
  EXPECT_TRUE(reply);
  auto m = read_message(reply.value_or(""));
  EXPECT_TRUE(m) << reply.value_or("");
  return m.value_or(Benc{});
}

TEST(CjdroutePeer, DerivesAddressesFromKeys) {
  EXPECT_EQ(key_to_ip("u2jf87mgqlxfzdnywp60z3tx6tkulvgh2nyc2jk1zc69zzt2s8u0.k"),
            "fcff:a215:1e7b:a4e9:c00d:0813:93b3:7c87");
  EXPECT_FALSE(key_to_ip("u2jf87mgqlxfzdnywp60z3tx6tkulvgh2nyc2jk1zc69zzt2s8u0"));
}

TEST(CjdroutePeer, AcceptsAReferenceClientsRequest) {
  auto s = server("NONE");
  Benc r = decode(s.handle(kPythonRequest, kCookieTime + 5));
  EXPECT_EQ(r.get_str("error"), nullptr);
  ASSERT_TRUE(r.get_str("txid"));
  EXPECT_EQ(*r.get_str("txid"), "py1");
  // Page 1 of self + 3 nodes at 2 a page: the last page, no "more".
  EXPECT_EQ(r.entries.at("routingTable").items.size(), 2u);
  EXPECT_EQ(r.get_int("more"), nullptr);
  EXPECT_EQ(*r.get_int("count"), 4);
}

TEST(CjdroutePeer, RefusesWrongPasswordTamperingAndStaleCookies) {
  auto wrong = server("other");
  EXPECT_EQ(*decode(wrong.handle(kPythonRequest, kCookieTime)).get_str("error"), "Auth failed.");
  auto s = server("NONE");
  std::string tampered = kPythonRequest;
  tampered.replace(tampered.find("pagei1e"), 7, "pagei0e");
  EXPECT_EQ(*decode(s.handle(tampered, kCookieTime)).get_str("error"), "Auth failed.");
  EXPECT_EQ(*decode(s.handle(kPythonRequest, kCookieTime + 21)).get_str("error"), "Auth failed.")
      << "cookies live 20 s";
  EXPECT_EQ(*decode(s.handle(kPythonRequest, kCookieTime - 1)).get_str("error"), "Auth failed.")
      << "a cookie from the future";
}

TEST(CjdroutePeer, PadsTheFirstKeyLikeCjdroute) {
  auto s = server("NONE");
  auto reply = s.handle("d1:q6:cookie4:txid2:abe", kCookieTime);
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->size() % 8, 0u);
  EXPECT_EQ(reply->rfind("d0", 0), 0u) << *reply;
  EXPECT_EQ(*decode(reply).get_str("cookie"), "1700000000");
}

TEST(CjdroutePeer, PagesWithMore) {
  auto s = server("NONE");
  Benc first = decode(s.handle("d1:q19:NodeStore_dumpTable4:argsd4:pagei0eee", kCookieTime));
  EXPECT_EQ(first.entries.at("routingTable").items.size(), 2u);
  ASSERT_TRUE(first.get_int("more"));
  EXPECT_EQ(*first.entries.at("routingTable").items[0].get_str("path"), "0000.0000.0000.0001");
}

TEST(CjdroutePeer, AnswersErrorsAsCjdrouteDoes) {
  auto s = server("NONE");
  EXPECT_EQ(*decode(s.handle("d1:q8:Nonsense4:txid1:xe", kCookieTime)).get_str("error"),
            "No functions matched your request, try Admin_availableFunctions()");
  EXPECT_EQ(*decode(s.handle("d1:q19:NodeStore_dumpTablee", kCookieTime)).get_str("error"),
            "Entry [page] is required and must be of type [Int]");
  EXPECT_EQ(*decode(s.handle("d1:q4:pinge", kCookieTime)).get_str("q"), "pong");
  EXPECT_EQ(s.handle(std::string(600, 'x'), kCookieTime), "d5:error16:Request too big.e");
  EXPECT_FALSE(s.handle("d1:q4:pingegarbage", kCookieTime)) << "garbage after the dict: dropped";
  EXPECT_FALSE(s.handle("not bencode", kCookieTime));
}

}  // namespace
}  // namespace cjdroute_peer
