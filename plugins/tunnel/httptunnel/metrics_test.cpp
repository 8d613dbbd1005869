// Per-key metrics: the latency histogram's quantiles and the table's bound
// (the least recently used key goes).
#include "metrics.hpp"

#include <gtest/gtest.h>

namespace mnigs::httptunnel {
namespace {

using namespace std::chrono_literals;

TEST(HttpTunnelMetrics, QuantilesFallInTheBucketsOfWhatWasAdded) {
  LatencyHistogram h;
  EXPECT_EQ(h.quantile_ms(0.5), 0);
  EXPECT_EQ(h.count(), 0u);
  // 98 fast answers (3 ms), 2 slow ones (2 s).
  for (int i = 0; i < 98; ++i) h.add(3ms);
  h.add(2s);
  h.add(2s);
  EXPECT_EQ(h.count(), 100u);
  EXPECT_DOUBLE_EQ(h.sum_ms(), 98 * 3 + 4000);
  EXPECT_DOUBLE_EQ(h.max_ms(), 2000);
  // 3 ms lies in (2.5, 5]: the bucket's upper bound.
  EXPECT_DOUBLE_EQ(h.quantile_ms(0.5), 5);
  EXPECT_DOUBLE_EQ(h.quantile_ms(0.9), 5);
  // 2 s lies in (1, 2.5] s, but nothing above 2 s was seen.
  EXPECT_DOUBLE_EQ(h.quantile_ms(0.99), 2000);
  EXPECT_LE(h.quantile_ms(0.5), h.quantile_ms(0.99));
}

TEST(HttpTunnelMetrics, AboveTheLastBoundIsTheLargestSeen) {
  LatencyHistogram h;
  h.add(90s);
  h.add(-1ms);  // a clock that went back counts as 0
  EXPECT_DOUBLE_EQ(h.sum_ms(), 90'000);
  EXPECT_DOUBLE_EQ(h.quantile_ms(0.5), 0.25);  // the first bucket's upper bound
  EXPECT_DOUBLE_EQ(h.quantile_ms(0.99), 90'000);
}

TEST(HttpTunnelMetrics, TheLeastRecentlyUsedKeyMakesRoom) {
  KeyMetrics t(2);
  EXPECT_EQ(t.find("a"), nullptr);
  EXPECT_EQ(t.size(), 0u);  // find makes nothing
  t.get("a")->requests = 1;
  t.get("b")->requests = 2;
  EXPECT_EQ(t.find("a")->requests, 1u);  // a is now used after b
  auto held = t.get("c");                // b goes
  held->requests = 3;
  EXPECT_EQ(t.size(), 2u);
  EXPECT_EQ(t.dropped(), 1u);
  EXPECT_EQ(t.find("b"), nullptr);
  ASSERT_NE(t.find("a"), nullptr);
  const auto v = t.view();
  ASSERT_EQ(v.size(), 2u);
  EXPECT_EQ(v[0].first, "a");
  EXPECT_EQ(v[1].first, "c");
  EXPECT_EQ(v[1].second->requests, 3u);
  // What a connection holds outlives the key's entry.
  t.get("d");
  t.get("e");
  EXPECT_EQ(t.find("c"), nullptr);
  ++held->requests;
  EXPECT_EQ(held->requests, 4u);
}

}  // namespace
}  // namespace mnigs::httptunnel
