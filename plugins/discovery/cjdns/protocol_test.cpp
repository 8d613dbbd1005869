// The admin protocol's messages, byte for byte. The expected requests were
// computed independently, with Python's hashlib and a plain bencoder, the way
// cjdns' own contrib/python/cjdnsadmin builds them.
#include <gtest/gtest.h>

#include "admin_protocol.hpp"
#include "keys.hpp"

namespace mnigs::cjdns {
namespace {

bencode::Value page(std::int64_t n) {
  return bencode::Value::dict({{"page", bencode::Value::integer(n)}});
}

TEST(CjdnsProtocol, CookieRequest) { EXPECT_EQ(cookie_request("abc"), "d1:q6:cookie4:txid3:abce"); }

TEST(CjdnsProtocol, PasswordHashIsSha256OfPasswordAndCookie) {
  EXPECT_EQ(password_hash("secret", "1700000000"),
            "a09abffb61e9ed1074de76ba1133a9900ffb7cccde778fb92b31afb76f5390ff");
}

TEST(CjdnsProtocol, AuthenticatedRequestMatchesReferenceClient) {
  EXPECT_EQ(
      auth_request("NodeStore_dumpTable", page(0), "secret", "1700000000", "0123456789abcdef"),
      "d2:aq19:NodeStore_dumpTable4:argsd4:pagei0ee6:cookie10:1700000000"
      "4:hash64:9c9524e60d31d7add4fb7c54391dce13843cf325c80153104003ade0b292d01a"
      "1:q4:auth4:txid16:0123456789abcdefe");
  // cjdroute's default password is "NONE".
  EXPECT_EQ(auth_request("InterfaceController_peerStats", page(3), "NONE", "1712345678", "t1"),
            "d2:aq29:InterfaceController_peerStats4:argsd4:pagei3ee6:cookie10:1712345678"
            "4:hash64:b6069487952a125e0d62e9fc63beb1e28a3c68c536f5cd48159d4faedf559181"
            "1:q4:auth4:txid2:t1e");
}

TEST(CjdnsProtocol, RequestVerifiesTheWayCjdrouteChecksIt) {
  const std::string password = "hunter2", cookie = "1700000123";
  std::string request = auth_request("NodeStore_dumpTable", page(1), password, cookie, "x");
  // cjdroute: find the submitted hash, put sha256(password + cookie) in its
  // place, hash the whole message and compare.
  auto decoded = bencode::decode(request, nullptr);
  ASSERT_TRUE(decoded);
  std::string submitted = *decoded->get_string("hash");
  auto at = request.find(submitted);
  ASSERT_NE(at, std::string::npos);
  std::string check = request;
  check.replace(at, 64, sha256_hex(password + cookie));
  EXPECT_EQ(sha256_hex(check), submitted);
  // The same request checked with another password fails.
  check = request;
  check.replace(at, 64, sha256_hex("hunter3" + cookie));
  EXPECT_NE(sha256_hex(check), submitted);
}

TEST(CjdnsProtocol, LongPasswordsAreCutLikeCjdrouteCutsThem) {
  // cjdroute prints password and cookie into a 64-byte buffer: 63 characters count.
  const std::string password(60, 'x');
  EXPECT_EQ(password_hash(password, "1700000000"),
            "33d4ae29e2408869806d68b0ecd3ddda6b5d78e62d448993f275cb3dc1a8fab3");
  EXPECT_EQ(password_hash(password, "1700000000"), password_hash(password, "1709999999"))
      << "only the first three cookie digits fit after a 60-character password";
  // Up to 53 characters nothing is cut.
  const std::string fits(53, 'y');
  EXPECT_EQ(password_hash(fits, "1700000000"), sha256_hex(fits + "1700000000"));
}

TEST(CjdnsProtocol, RequestsStayWithinCjdroutesLimit) {
  std::string request = auth_request("InterfaceController_peerStats", page(1000000),
                                     std::string(200, 'p'), "4294967295", "0123456789abcdef");
  EXPECT_LE(request.size(), kMaxRequestBytes);
}

}  // namespace
}  // namespace mnigs::cjdns
