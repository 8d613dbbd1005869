// Unit tests of who may open the tunnel endpoints: browsers never, and a
// switch token only for the session it was issued to.
#include "admission.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace mnigs::websocket {
namespace {

// What a vpn-ws client sends (src/client.c): no Origin.
const Headers kVpnWs = {{"Host", "10.77.1.1"},
                        {"Upgrade", "websocket"},
                        {"Connection", "Upgrade"},
                        {"Sec-WebSocket-Key", "AQIDBAUGBwgJCg=="},
                        {"X-vpn-ws-MAC", "02:00:00:00:00:0a"}};

TEST(Admission, AnUpgradeFromABrowserIsRefused) {
  EXPECT_EQ(browser_refusal(kVpnWs), "");
  for (const char* name : {"Origin", "origin", "ORIGIN"}) {
    Headers h = kVpnWs;
    h.emplace_back(name, "http://evil.example");
    EXPECT_NE(browser_refusal(h), "") << name;
  }
  // "null" is what a sandboxed page or a file: URL sends: still a browser.
  Headers null_origin = kVpnWs;
  null_origin.emplace_back("Origin", "null");
  EXPECT_NE(browser_refusal(null_origin).find("Origin"), std::string::npos);
  // Sec-WebSocket-Origin (the draft's name) alone is no browser of today.
  Headers draft = kVpnWs;
  draft.emplace_back("Sec-WebSocket-Origin", "http://a");
  EXPECT_EQ(browser_refusal(draft), "");
}

const std::vector<SessionKey> kSessions = {
    {"s1", "aaaa1111", "10.77.1.2"},
    {"s2", "bbbb2222", "10.77.1.3"},
};

TEST(Admission, ATokenJoinsAsTheSessionItWasIssuedTo) {
  EXPECT_EQ(l2_session(kSessions, nullptr, "aaaa1111", "10.9.9.9"), "s1");
  EXPECT_EQ(l2_session(kSessions, nullptr, "bbbb2222", "10.9.9.9"), "s2");
  const std::string s1 = "s1", s2 = "s2", other = "s3";
  EXPECT_EQ(l2_session(kSessions, &s1, "aaaa1111", "10.9.9.9"), "s1");
  // s2's token does not open s1, nor a session that does not exist.
  EXPECT_EQ(l2_session(kSessions, &s1, "bbbb2222", "10.9.9.9"), std::nullopt);
  EXPECT_EQ(l2_session(kSessions, &other, "aaaa1111", "10.9.9.9"), std::nullopt);
  EXPECT_EQ(l2_session(kSessions, &s2, "bbbb2222", "10.77.1.2"), "s2");
}

TEST(Admission, AWrongTokenIsRefusedEvenFromASubscribersAddress) {
  EXPECT_EQ(l2_session(kSessions, nullptr, "aaaa111", "10.77.1.2"), std::nullopt);
  EXPECT_EQ(l2_session(kSessions, nullptr, "aaaa1112", "10.77.1.2"), std::nullopt);
  EXPECT_EQ(l2_session({}, nullptr, "aaaa1111", "10.77.1.2"), std::nullopt);
}

TEST(Admission, WithoutATokenTheSubscribersAddressDecides) {
  EXPECT_EQ(l2_session(kSessions, nullptr, "", "10.77.1.3"), "s2");
  EXPECT_EQ(l2_session(kSessions, nullptr, "", "10.77.1.9"), std::nullopt);
  EXPECT_EQ(l2_session(kSessions, nullptr, "", ""), std::nullopt);
  // A session without a token (none issued yet) is never opened by an
  // empty one.
  std::vector<SessionKey> untokened = {{"s9", "", "10.77.1.4"}};
  EXPECT_EQ(l2_session(untokened, nullptr, "", "10.77.1.5"), std::nullopt);
}

// What Chromium sends for new WebSocket(url, ["mnigs-l3",
// "mnigs-session.<id>", "mnigs-token.<token>"]): one header, in that order.
TEST(Admission, APageNamesItsSessionAsSubprotocols) {
  Headers h = kVpnWs;
  h.emplace_back("Origin", "http://192.168.7.1:8090");
  h.emplace_back("Sec-WebSocket-Protocol", "mnigs-l3, mnigs-session.s1, mnigs-token.aaaa1111");
  auto r = page_credentials(h);
  EXPECT_EQ(r.error, "");
  ASSERT_TRUE(r.credentials);
  EXPECT_EQ(r.credentials->session, "s1");
  EXPECT_EQ(r.credentials->token, "aaaa1111");
  // Split over two fields, in another order: the same.
  Headers split = kVpnWs;
  split.emplace_back("Sec-WebSocket-Protocol", "mnigs-token.aaaa1111");
  split.emplace_back("sec-websocket-protocol", "mnigs-session.s1 ,mnigs-l3");
  EXPECT_EQ(page_credentials(split).credentials->token, "aaaa1111");
}

TEST(Admission, NoSubprotocolCredentialsMeansTheHeaderWay) {
  auto none = page_credentials(kVpnWs);
  EXPECT_FALSE(none.credentials);
  EXPECT_EQ(none.error, "");
  Headers other = kVpnWs;
  other.emplace_back("Sec-WebSocket-Protocol", "mnigs-l3, chat");
  EXPECT_FALSE(page_credentials(other).credentials);
  EXPECT_EQ(page_credentials(other).error, "");
}

TEST(Admission, HalfOrRepeatedSubprotocolCredentialsAreRefused) {
  for (const char* value :
       {"mnigs-l3, mnigs-session.s1", "mnigs-l3, mnigs-token.aaaa1111",
        "mnigs-l3, mnigs-session., mnigs-token.aaaa1111",
        "mnigs-l3, mnigs-session.s1, mnigs-session.s2, mnigs-token.aaaa1111",
        "mnigs-session.s1, mnigs-token.aaaa1111",  // without mnigs-l3
        "a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p,mnigs-l3"}) {
    Headers h = kVpnWs;
    h.emplace_back("Sec-WebSocket-Protocol", value);
    auto r = page_credentials(h);
    EXPECT_FALSE(r.credentials) << value;
    EXPECT_NE(r.error, "") << value;
  }
}

TEST(Admission, TokensCompareWhole) {
  EXPECT_TRUE(constant_time_equal("abc", "abc"));
  EXPECT_FALSE(constant_time_equal("abc", "abd"));
  EXPECT_FALSE(constant_time_equal("abc", "abcd"));
  EXPECT_TRUE(constant_time_equal("", ""));
}

}  // namespace
}  // namespace mnigs::websocket
