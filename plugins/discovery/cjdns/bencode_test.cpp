// Bencode as cjdroute speaks it: canonical encoding, cjdroute's padded
// key lengths, and refusal (never a crash or a hang) of broken input.
#include "bencode.hpp"

#include <gtest/gtest.h>

#include <random>

namespace mnigs::cjdns::bencode {
namespace {

std::optional<Value> parse(std::string_view text, std::string* why = nullptr) {
  std::string ignored;
  return decode(text, why ? why : &ignored);
}

TEST(CjdnsBencode, EncodesCanonically) {
  auto v = Value::dict();
  v.d["txid"] = Value::string("ab");
  v.d["q"] = Value::string("cookie");
  v.d["args"] = Value::dict({{"page", Value::integer(2)}});
  v.d["list"] = Value::list({Value::integer(-7), Value::string(""), Value::list()});
  EXPECT_EQ(encode(v), "d4:argsd4:pagei2ee4:listli-7e0:lee1:q6:cookie4:txid2:abe");
}

TEST(CjdnsBencode, DecodesWhatItEncodes) {
  const std::string text = "d4:argsd4:pagei2ee4:listli-7e0:lee1:q6:cookie4:txid2:abe";
  auto v = parse(text);
  ASSERT_TRUE(v);
  EXPECT_EQ(encode(*v), text);
  EXPECT_EQ(v->get_string("q"), "cookie");
  EXPECT_EQ(v->find("args")->get_integer("page"), 2);
  EXPECT_FALSE(v->get_integer("q")) << "wrong type is absent, not converted";
  EXPECT_EQ(v->find("missing"), nullptr);
}

TEST(CjdnsBencode, AcceptsCjdroutesZeroPaddedFirstKey) {
  // What cjdroute sends for a wrong password: the first key's length padded
  // so its buffer is aligned.
  auto v = parse("d0000005:error12:Auth failed.4:txid4:abcde");
  ASSERT_TRUE(v);
  EXPECT_EQ(v->get_string("error"), "Auth failed.");
  EXPECT_EQ(v->get_string("txid"), "abcd");
  auto padded_value = parse("d1:s003:abce");
  ASSERT_TRUE(padded_value);
  EXPECT_EQ(padded_value->get_string("s"), "abc");
}

TEST(CjdnsBencode, AcceptsKeysOutOfOrder) {
  auto v = parse("d1:zi1e1:ai2ee");
  ASSERT_TRUE(v);
  EXPECT_EQ(v->get_integer("a"), 2);
  EXPECT_EQ(v->get_integer("z"), 1);
}

TEST(CjdnsBencode, HandlesIntegerLimits) {
  auto v = parse("li9223372036854775807ei-9223372036854775808ei0ee");
  ASSERT_TRUE(v);
  EXPECT_EQ(v->l[0].i, INT64_MAX);
  EXPECT_EQ(v->l[1].i, INT64_MIN);
  EXPECT_EQ(v->l[2].i, 0);
}

TEST(CjdnsBencode, RefusesTruncatedInput) {
  const std::string whole = "d5:peersld4:addr5:v20.x5:statei1eee4:morei1ee";
  ASSERT_TRUE(parse(whole));
  // Every proper prefix is an error, never a value and never a crash.
  for (std::size_t n = 0; n < whole.size(); ++n) {
    std::string why;
    EXPECT_FALSE(parse(whole.substr(0, n), &why)) << "prefix of " << n << " bytes";
    EXPECT_FALSE(why.empty()) << n;
  }
}

TEST(CjdnsBencode, RefusesMalformedInput) {
  const char* bad[] = {
      "",                           // nothing
      "x",                          // not a value
      "i12",                        // unterminated integer
      "ie",                         // no digits
      "i-e",                        // sign only
      "i01e",                       // leading zero in an integer
      "i-0e",                       // negative zero
      "i9223372036854775808e",      // one past INT64_MAX
      "i-9223372036854775809e",     // one past INT64_MIN
      "5:abc",                      // string longer than the input
      "99999999999999999999999:x",  // length with too many digits
      "3abc",                       // length without ':'
      "di1ei2ee",                   // integer key
      "d1:ai1e1:ai2ee",             // duplicate key
      "d1:ai1e",                    // unterminated dict
      "l",                          // unterminated list
      "i1ei2e",                     // data after the value
      "d1:ai1ee ",                  // trailing space
  };
  for (const char* text : bad) {
    std::string why;
    EXPECT_FALSE(parse(text, &why)) << '"' << text << '"';
    EXPECT_FALSE(why.empty()) << '"' << text << '"';
  }
}

TEST(CjdnsBencode, ErrorsSayWhere) {
  std::string why;
  EXPECT_FALSE(parse("d1:ai1e1:bi01ee", &why));
  EXPECT_NE(why.find("at byte 10"), std::string::npos) << why;
  EXPECT_NE(why.find("leading zero"), std::string::npos) << why;
}

TEST(CjdnsBencode, BoundsNesting) {
  std::string deep_ok(kMaxDepth, 'l');
  deep_ok += std::string(kMaxDepth, 'e');
  EXPECT_TRUE(parse(deep_ok));
  // Far deeper than allowed: refused without exhausting the stack.
  std::string deep(100000, 'l');
  deep += std::string(100000, 'e');
  std::string why;
  EXPECT_FALSE(parse(deep, &why));
  EXPECT_NE(why.find("nested deeper"), std::string::npos) << why;
}

TEST(CjdnsBencode, SurvivesRandomGarbage) {
  std::mt19937 rng(42);
  const std::string alphabet = "dlie0123456789:-ax";
  int decoded = 0;
  for (int round = 0; round < 20000; ++round) {
    std::string text(rng() % 40, ' ');
    for (auto& c : text) c = alphabet[rng() % alphabet.size()];
    std::string why;
    auto v = parse(text, &why);
    // Whatever decodes must encode back to an equivalent value.
    if (v) {
      ++decoded;
      auto again = parse(encode(*v));
      ASSERT_TRUE(again) << text;
      EXPECT_EQ(encode(*again), encode(*v)) << text;
    } else {
      EXPECT_FALSE(why.empty()) << text;
    }
  }
  EXPECT_GT(decoded, 0);
}

}  // namespace
}  // namespace mnigs::cjdns::bencode
