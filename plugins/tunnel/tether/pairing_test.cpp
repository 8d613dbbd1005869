// Unit tests of the pairing code: what a phone must type, and what a
// device guessing it gets.
#include "pairing.hpp"

#include <gtest/gtest.h>

#include <set>

namespace mnigs::tether {
namespace {

TEST(Pairing, CodesAreEightRandomDigits) {
  std::set<std::string> seen;
  for (int i = 0; i < 50; ++i) {
    const std::string c = random_code();
    ASSERT_EQ(c.size(), 8u);
    EXPECT_EQ(c.find_first_not_of("0123456789"), std::string::npos) << c;
    seen.insert(c);
  }
  EXPECT_GT(seen.size(), 45u);  // 50 draws of 10^8 codes: a repeat is a fluke
}

TEST(Pairing, TheRightCodeIsTakenAWrongOneIsNot) {
  Pairing p;
  const std::string code = p.code();
  EXPECT_EQ(p.check(code), Pairing::Check::ok);
  EXPECT_EQ(p.check(code + "0"), Pairing::Check::wrong);
  EXPECT_EQ(p.check(code.substr(0, 7)), Pairing::Check::wrong);
  EXPECT_EQ(p.check(""), Pairing::Check::wrong);
  EXPECT_EQ(p.check(code), Pairing::Check::ok);  // and the count starts again
  EXPECT_EQ(p.refused(), 3u);
}

TEST(Pairing, FiveWrongCodesInARowReplaceIt) {
  Pairing p;
  const std::string code = p.code();
  const std::string wrong = code == "00000000" ? "11111111" : "00000000";
  for (unsigned i = 1; i < Pairing::max_wrong; ++i)
    EXPECT_EQ(p.check(wrong), Pairing::Check::wrong);
  EXPECT_EQ(p.check(wrong), Pairing::Check::replaced);
  EXPECT_NE(p.code(), code);
  EXPECT_NE(p.check(code), Pairing::Check::ok);
  EXPECT_EQ(p.check(p.code()), Pairing::Check::ok);
}

TEST(Pairing, RenewRefusesTheOldCode) {
  Pairing p;
  const std::string old = p.code();
  p.renew();
  if (p.code() == old) p.renew();  // one chance in 10^8
  EXPECT_NE(p.check(old), Pairing::Check::ok);
}

}  // namespace
}  // namespace mnigs::tether
