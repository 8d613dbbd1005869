#include "log_limit.hpp"

#include <gtest/gtest.h>

namespace mnigs {
namespace {

using std::chrono::seconds;
const auto t0 = LogLimit::Clock::time_point() + std::chrono::hours(1);

TEST(LogLimit, LetsABurstThroughThenCountsWhatItHeldBack) {
  LogLimit limit(3, seconds(60));
  std::uint64_t held = 99;
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(limit.allow(t0, &held));
  EXPECT_EQ(held, 0u);
  for (int i = 0; i < 10; ++i) EXPECT_FALSE(limit.allow(t0 + seconds(30), &held));
  EXPECT_TRUE(limit.allow(t0 + seconds(61), &held));
  EXPECT_EQ(held, 10u);
  EXPECT_TRUE(limit.allow(t0 + seconds(62), &held));
  EXPECT_EQ(held, 0u) << "the count is handed out once";
}

TEST(LogLimit, OneLinePerKeyPerWindow) {
  LogLimit limit(1, seconds(60));
  std::uint64_t held = 99;
  EXPECT_TRUE(limit.allow("a", t0, &held));
  EXPECT_EQ(held, 0u);
  EXPECT_FALSE(limit.allow("a", t0 + seconds(10)));
  EXPECT_FALSE(limit.allow("a", t0 + seconds(59)));
  EXPECT_TRUE(limit.allow("b", t0 + seconds(10), &held)) << "keys are independent";
  EXPECT_EQ(held, 0u);
  EXPECT_FALSE(limit.allow("b", t0 + seconds(11)));
  EXPECT_TRUE(limit.allow("a", t0 + seconds(61), &held));
  EXPECT_EQ(held, 2u) << "only a's own lines";
  EXPECT_FALSE(limit.allow("a", t0 + seconds(62)));
}

// The window runs from the first line let through, not from the clock's epoch.
TEST(LogLimit, FirstLineGoesThroughWhateverTheClock) {
  LogLimit limit(1, seconds(60));
  EXPECT_TRUE(limit.allow(LogLimit::Clock::time_point()));
  EXPECT_FALSE(limit.allow(LogLimit::Clock::time_point() + seconds(59)));
  EXPECT_TRUE(limit.allow(LogLimit::Clock::time_point() + seconds(60)));
}

}  // namespace
}  // namespace mnigs
