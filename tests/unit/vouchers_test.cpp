// Vouchers' codes, terms and state (core/gateway/vouchers.*), and the size
// and rate units people type (core/util/units.*).
#include "gateway/vouchers.hpp"
#include "util/units.hpp"

#include <gtest/gtest.h>

#include <set>

namespace mnigs {
namespace {

TEST(VoucherCode, TwelveCrockfordCharactersFromTheCsprng) {
  std::set<std::string> seen;
  std::set<char> used;
  for (int i = 0; i < 2000; ++i) {
    const std::string c = new_voucher_code();
    ASSERT_EQ(c.size(), 12u);
    EXPECT_EQ(c.find_first_not_of("0123456789ABCDEFGHJKMNPQRSTVWXYZ"), std::string::npos) << c;
    seen.insert(c);
    used.insert(c.begin(), c.end());
  }
  EXPECT_EQ(seen.size(), 2000u);
  EXPECT_EQ(used.size(), 32u);  // every symbol turns up: 5 bits each
  EXPECT_EQ(format_voucher_code("ABCD1234WXYZ"), "ABCD-1234-WXYZ");
}

TEST(VoucherCode, TypedCodesAreReadTheCrockfordWay) {
  EXPECT_EQ(normalize_voucher_code("abcd-1234-wxyz", nullptr), "ABCD1234WXYZ");
  EXPECT_EQ(normalize_voucher_code(" ab cd 12 34 wx yz ", nullptr), "ABCD1234WXYZ");
  EXPECT_EQ(normalize_voucher_code("o0Il-1234-WXYZ", nullptr), "0011" "1234WXYZ");
  std::string why;
  EXPECT_FALSE(normalize_voucher_code("ABCD-1234-WXY", &why));
  EXPECT_EQ(why, "a voucher code has 12 characters");
  EXPECT_FALSE(normalize_voucher_code("ABCD-1234-WXYU", &why));  // U is not in the alphabet
  // A NUL byte is not in the alphabet (strchr would find the terminator).
  EXPECT_FALSE(normalize_voucher_code(std::string("ABCD-1234-WXY\0", 14), &why));
  EXPECT_FALSE(normalize_voucher_code("ABCD;1234;WXYZ", &why));
  EXPECT_FALSE(normalize_voucher_code(std::string(1000, 'A'), &why));
}

TEST(VoucherState, TimeRunsFromFirstUseUntilTheDeadlineAndBytesUntilSpent) {
  Voucher v;
  v.terms.minutes = 60;
  v.terms.bytes = 1'000'000;
  v.terms.valid_until = 10'000;
  EXPECT_EQ(v.spent(100), "");
  EXPECT_EQ(v.seconds_left(100), 3600);  // not started
  v.first_used = 5000;
  EXPECT_EQ(v.ends(), 8600);
  EXPECT_EQ(v.seconds_left(8000), 600);
  EXPECT_EQ(v.spent(8600), "the voucher's time is used up");
  v.first_used = 9000;  // the deadline comes first
  EXPECT_EQ(v.ends(), 10'000);
  EXPECT_EQ(v.spent(10'000), "the voucher is past its deadline");
  v.used_bytes = 1'000'000;
  EXPECT_EQ(v.spent(9001), "the voucher's data is used up");
  // Less than one offloaded packet left is spent too: the kernel refuses the
  // packet that would cross the quota.
  Voucher big;
  big.terms.bytes = 10'000'000;
  big.used_bytes = 10'000'000 - 64 * 1024 + 1;
  EXPECT_EQ(big.spent(0), "the voucher's data is used up");
  big.used_bytes -= 2;
  EXPECT_EQ(big.spent(0), "");
  EXPECT_EQ(v.bytes_left(), 0);
  v.revoked = true;
  EXPECT_EQ(v.spent(0), "the voucher was revoked");
  Voucher free_for_ever;
  EXPECT_EQ(free_for_ever.seconds_left(123), -1);
  EXPECT_EQ(free_for_ever.bytes_left(), -1);
}

TEST(VoucherTerms, UnitsAndDefaults) {
  Json::Value p(Json::objectValue);
  p["bytes"] = "10M";
  p["rateDown"] = "4mbit";
  p["validDays"] = 2;
  std::int64_t count = 0;
  std::string why;
  auto t = parse_voucher_terms(p, 1000, &count, &why);
  ASSERT_TRUE(t) << why;
  EXPECT_EQ(count, 1);
  EXPECT_EQ(t->bytes, 10'000'000);
  EXPECT_EQ(t->rate_down, 4'000'000);
  EXPECT_EQ(t->devices, 1);
  EXPECT_EQ(t->valid_until, 1000 + 2 * 86400);
  p["validUntil"] = 5000;
  EXPECT_FALSE(parse_voucher_terms(p, 1000, &count, &why));
  EXPECT_EQ(why, "give validUntil or validDays, not both");
}

TEST(Units, SizesAndRatesAsPeopleAndTcWriteThem) {
  EXPECT_EQ(parse_bytes("1G"), 1'000'000'000);
  EXPECT_EQ(parse_bytes("10MB"), 10'000'000);
  EXPECT_EQ(parse_bytes("64KiB"), 65536);
  EXPECT_EQ(parse_bytes("512"), 512);
  EXPECT_EQ(parse_rate("4mbit"), 4'000'000);
  EXPECT_EQ(parse_rate("500kbit"), 500'000);
  EXPECT_EQ(parse_rate("1mbps"), 8'000'000);  // tc: bytes per second
  EXPECT_EQ(format_rate(4'000'000), "4mbit");
  EXPECT_EQ(format_rate(1500), "1500bit");
  std::string why;
  for (const char* bad : {"", "G", "-1G", "1.5G", "1X", "99999999999999999G"})
    EXPECT_FALSE(parse_bytes(bad, &why)) << bad;
  for (const char* bad : {"", "fast", "4mbits", "99999999999gbit"})
    EXPECT_FALSE(parse_rate(bad, &why)) << bad;
}

}  // namespace
}  // namespace mnigs
