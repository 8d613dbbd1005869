// Unit tests of the pairing code: what a phone must type, and what a
// device guessing it gets.
#include "pairing.hpp"

#include <gtest/gtest.h>

#include <set>

namespace mnigs::tether {
namespace {

using namespace std::chrono_literals;

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

std::string wrong_for(const std::string& code) {
  return code == "00000000" ? "11111111" : "00000000";
}

TEST(Pairing, TheRightCodeIsTakenAWrongOneIsNot) {
  Pairing p;
  const std::string code = p.code();
  const auto t = Pairing::Clock::now();
  EXPECT_EQ(p.check(code, t), Pairing::Check::ok);
  EXPECT_EQ(p.check(code + "0", t), Pairing::Check::wrong);
  EXPECT_EQ(p.check(code.substr(0, 7), t), Pairing::Check::wrong);
  EXPECT_EQ(p.check("", t), Pairing::Check::wrong);
  EXPECT_EQ(p.check(code, t), Pairing::Check::ok);
  EXPECT_EQ(p.refused(), 3u);
}

// Ten wrong codes at once, then one every 6 s, from everyone together;
// the code itself stays, so guessing takes nothing from its holder but
// time while the guessing goes on.
TEST(Pairing, GuessingIsSlowedDownNotRewarded) {
  Pairing p;
  const std::string code = p.code(), wrong = wrong_for(code);
  auto t = Pairing::Clock::now();
  for (int i = 0; i < 10; ++i) EXPECT_EQ(p.check(wrong, t), Pairing::Check::wrong) << i;
  EXPECT_EQ(p.check(wrong, t), Pairing::Check::busy);
  EXPECT_EQ(p.check(code, t), Pairing::Check::busy);  // not compared either
  t += 6s;
  EXPECT_EQ(p.check(wrong, t), Pairing::Check::wrong);
  EXPECT_EQ(p.check(code, t), Pairing::Check::busy);
  t += 6s;
  EXPECT_EQ(p.check(code, t), Pairing::Check::ok);
  EXPECT_EQ(p.code(), code);
  EXPECT_EQ(p.busy(), 3u);
  EXPECT_EQ(p.refused(), 11u);
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
