// The l2 wire format: what a node sends decodes to what it meant, and every
// kind of malformed, oversized or foreign datagram is rejected with a reason.
#include "announcement.hpp"

#include <gtest/gtest.h>

namespace mnigs::l2 {
namespace {

Announcement sample() {
  Announcement a;
  a.node_id = "0123456789abcdef";
  a.interval = 5;
  a.addresses = {"10.77.1.1", "fd77:0:0:1::1"};
  return a;
}

// The reason a datagram is rejected; "" if it is accepted.
std::string rejection(std::string_view datagram) {
  auto result = decode(datagram);
  if (auto* r = std::get_if<Rejection>(&result)) return r->reason;
  return "";
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// A valid announcement with `member` (text like "\"v\":2") in place of the
// member of the same name.
std::string with(const std::string& member) {
  std::string name = member.substr(0, member.find(':'));
  std::map<std::string, std::string> members = {{"\"mnigs\"", "\"mnigs\":\"l2\""},
                                                {"\"v\"", "\"v\":1"},
                                                {"\"id\"", "\"id\":\"0123456789abcdef\""},
                                                {"\"interval\"", "\"interval\":5"},
                                                {"\"addrs\"", "\"addrs\":[\"10.0.0.1\"]"}};
  members[name] = member;
  std::string out = "{";
  for (const auto& [key, text] : members) out += (out.size() > 1 ? "," : "") + text;
  return out + "}";
}

TEST(L2Announcement, RoundTrips) {
  const std::string bytes = encode(sample());
  auto decoded = decode(bytes);
  ASSERT_TRUE(std::holds_alternative<Announcement>(decoded)) << rejection(bytes);
  EXPECT_EQ(std::get<Announcement>(decoded), sample());
}

TEST(L2Announcement, IsCompactJsonWithMagicAndVersion) {
  const std::string bytes = encode(sample());
  EXPECT_EQ(bytes.find('\n'), std::string::npos) << bytes;
  EXPECT_EQ(bytes.find(' '), std::string::npos) << bytes;
  EXPECT_TRUE(contains(bytes, "\"mnigs\":\"l2\"")) << bytes;
  EXPECT_TRUE(contains(bytes, "\"v\":1")) << bytes;
}

TEST(L2Announcement, ManyAddressesStayWithinOneUnfragmentedDatagram) {
  Announcement a = sample();
  a.addresses.clear();
  for (int i = 0; i < 40; ++i)
    a.addresses.push_back("fd77:ffff:ffff:ffff:ffff:ffff:ffff:" + std::to_string(1000 + i));
  const std::string bytes = encode(a);
  EXPECT_LE(bytes.size(), kMaxDatagram);
  auto decoded = decode(bytes);
  ASSERT_TRUE(std::holds_alternative<Announcement>(decoded)) << rejection(bytes);
  const auto& got = std::get<Announcement>(decoded).addresses;
  ASSERT_EQ(got.size(), kMaxAddresses);
  EXPECT_EQ(got.front(), "fd77:ffff:ffff:ffff:ffff:ffff:ffff:1000");
}

TEST(L2Announcement, AcceptsUnknownMembersAndDropsRepeatedAddresses) {
  auto decoded =
      decode(R"({"mnigs":"l2","v":1,"id":"00000000000000ff","interval":2,)"
             R"("addrs":["10.0.0.1","FD00::1","10.0.0.1"],"name":"roof","future":{"x":[1]}})");
  ASSERT_TRUE(std::holds_alternative<Announcement>(decoded));
  const auto& a = std::get<Announcement>(decoded);
  EXPECT_EQ(a.node_id, "00000000000000ff");
  EXPECT_EQ(a.interval, 2);
  EXPECT_EQ(a.addresses, (std::vector<std::string>{"10.0.0.1", "fd00::1"}));
}

TEST(L2Announcement, AnEmptyAddressListIsValid) { EXPECT_EQ(rejection(with("\"addrs\":[]")), ""); }

TEST(L2Announcement, RejectsWhatIsNotAnAnnouncement) {
  EXPECT_TRUE(contains(rejection(""), "empty"));
  EXPECT_TRUE(contains(rejection("hello"), "not valid JSON"));
  EXPECT_TRUE(contains(rejection("[1,2]"), "not a JSON object"));
  EXPECT_NE(rejection("\"l2\""), "");
  EXPECT_TRUE(contains(rejection(encode(sample()) + "x"), "not valid JSON"));
  EXPECT_TRUE(contains(rejection(encode(sample()) + "{}"), "not valid JSON"));
  EXPECT_TRUE(contains(rejection(std::string("{\"mnigs\":\"l2\"\0}", 15)), "not valid JSON"));
  EXPECT_TRUE(contains(rejection("{\"v\":1}"), "magic"));
  EXPECT_TRUE(contains(rejection(with("\"mnigs\":\"l3\"")), "magic"));
  EXPECT_TRUE(contains(rejection(with("\"mnigs\":1")), "magic"));
  // Duplicate keys would make the meaning depend on the parser.
  EXPECT_TRUE(contains(rejection(R"({"mnigs":"l2","v":1,"v":1})"), "not valid JSON"));
}

TEST(L2Announcement, RejectsOversizedDatagrams) {
  // Valid JSON that is only too long: the size alone rejects it.
  std::string bytes = encode(sample());
  bytes.insert(1, kMaxDatagram + 1 - bytes.size(), ' ');
  ASSERT_EQ(bytes.size(), kMaxDatagram + 1);
  EXPECT_TRUE(contains(rejection(bytes), "oversized")) << rejection(bytes);
  bytes.erase(1, 1);
  EXPECT_EQ(rejection(bytes), "");
}

TEST(L2Announcement, RejectsOtherVersions) {
  EXPECT_TRUE(contains(rejection(with("\"v\":2")), "unsupported version 2"));
  EXPECT_TRUE(contains(rejection(with("\"v\":0")), "unsupported version 0"));
  EXPECT_TRUE(contains(rejection(with("\"v\":-1")), "unsupported version -1"));
  EXPECT_TRUE(contains(rejection(with("\"v\":18446744073709551615")), "unsupported version"));
  EXPECT_TRUE(contains(rejection(with("\"v\":\"1\"")), "\"v\" is not an integer"));
  EXPECT_TRUE(contains(rejection(with("\"v\":1.0")), "\"v\" is not an integer"));
  EXPECT_TRUE(contains(rejection(with("\"v\":true")), "\"v\" is not an integer"));
}

TEST(L2Announcement, RejectsBadNodeIds) {
  for (const char* id : {"\"0123456789ABCDEF\"", "\"0123456789abcde\"", "\"0123456789abcdef0\"",
                         "\"0123456789abcdeg\"", "\"\"", "12", "null"})
    EXPECT_TRUE(contains(rejection(with(std::string("\"id\":") + id)), "\"id\"")) << id;
}

TEST(L2Announcement, RejectsBadIntervals) {
  for (const char* value : {"0", "-5", "3601", "\"5\"", "5.5", "1e1", "null"})
    EXPECT_TRUE(contains(rejection(with(std::string("\"interval\":") + value)), "\"interval\""))
        << value;
  EXPECT_EQ(rejection(with("\"interval\":3600")), "");
  EXPECT_EQ(rejection(with("\"interval\":1")), "");
}

TEST(L2Announcement, RejectsBadAddressLists) {
  EXPECT_TRUE(contains(rejection(R"({"mnigs":"l2","v":1,"id":"0123456789abcdef","interval":5})"),
                       "no \"addrs\""));
  EXPECT_TRUE(contains(rejection(with("\"addrs\":\"10.0.0.1\"")), "not an array"));
  EXPECT_TRUE(contains(rejection(with("\"addrs\":[1]")), "not a string"));
  for (const char* bad :
       {"fe80::1", "fe80::1%eth0", "fd00::1%eth0", "ff02::1", "::", "::1", "127.0.0.1", "0.0.0.0",
        "224.0.0.1", "::ffff:10.0.0.1", "10.0.0.256", "host.example", ""})
    EXPECT_TRUE(contains(rejection(with("\"addrs\":[\"" + std::string(bad) + "\"]")),
                         "not an announceable"))
        << bad;
  std::string many = "\"addrs\":[";
  for (int i = 1; i <= 17; ++i)
    many += (i > 1 ? ",\"10.0.0." : "\"10.0.0.") + std::to_string(i) + "\"";
  EXPECT_TRUE(contains(rejection(with(many + "]")), "17 entries")) << rejection(with(many + "]"));
}

TEST(L2Announcement, RejectsDeepNesting) {
  std::string deep =
      "{\"mnigs\":\"l2\",\"x\":" + std::string(100, '[') + std::string(100, ']') + "}";
  EXPECT_NE(rejection(deep), "");
}

TEST(L2Announcement, NodeIdsAreSixteenLowercaseHexDigits) {
  EXPECT_TRUE(valid_node_id("0123456789abcdef"));
  EXPECT_FALSE(valid_node_id("0123456789abcdeF"));
  EXPECT_FALSE(valid_node_id("0123456789abcde"));
  EXPECT_FALSE(valid_node_id(""));
}

TEST(L2Announcement, AnnounceableAddressesAreCanonical) {
  EXPECT_EQ(announceable_address("FD77:0:0:1:0:0:0:1"), "fd77:0:0:1::1");
  EXPECT_EQ(announceable_address("10.77.1.1"), "10.77.1.1");
  EXPECT_EQ(announceable_address("2001:db8::1"), "2001:db8::1");
  EXPECT_EQ(announceable_address("fe80::1"), "");
}

}  // namespace
}  // namespace mnigs::l2
