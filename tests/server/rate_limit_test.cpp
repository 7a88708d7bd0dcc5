// Token buckets per client with a clock the test moves.
#include "server/rate_limit.h"

#include <gtest/gtest.h>

namespace dsv3::server {
namespace {

TEST(RateLimit, RequestsPerMinuteRefillContinuously) {
  double now = 100.0;
  RateLimiter rl({3, 0}, [&] { return now; });
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(rl.admit("a", 10).allowed) << i;
  auto d = rl.admit("a", 10);
  EXPECT_FALSE(d.allowed);
  EXPECT_STREQ(d.limit, "requests");
  EXPECT_NEAR(d.retry_after, 20.0, 1e-9);  // 3 per minute: one every 20 s
  now += 19.0;
  EXPECT_FALSE(rl.admit("a", 10).allowed);
  now += 1.0;
  EXPECT_TRUE(rl.admit("a", 10).allowed);
  EXPECT_FALSE(rl.admit("a", 10).allowed);
}

// Below one request per minute the bucket still holds one request: 0.5 rpm
// is one every two minutes, not nobody ever.
TEST(RateLimit, FewerThanOneRequestPerMinuteStillAdmits) {
  double now = 0.0;
  RateLimiter rl({0.5, 0}, [&] { return now; });
  EXPECT_TRUE(rl.admit("a", 1).allowed);
  const auto d = rl.admit("a", 1);
  EXPECT_FALSE(d.allowed);
  EXPECT_NEAR(d.retry_after, 120.0, 1e-9);
  now += 119.0;
  EXPECT_FALSE(rl.admit("a", 1).allowed);
  now += 1.0;
  EXPECT_TRUE(rl.admit("a", 1).allowed);
}

TEST(RateLimit, ClientsHaveTheirOwnBuckets) {
  double now = 0.0;
  RateLimiter rl({1, 0}, [&] { return now; });
  EXPECT_TRUE(rl.admit("a", 1).allowed);
  EXPECT_FALSE(rl.admit("a", 1).allowed);
  EXPECT_TRUE(rl.admit("b", 1).allowed);
}

TEST(RateLimit, TokensPerMinuteCountPromptAndCompletion) {
  double now = 0.0;
  RateLimiter rl({0, 600}, [&] { return now; });  // 10 tokens a second
  EXPECT_TRUE(rl.admit("a", 500).allowed);
  rl.charge("a", 150);  // 650 used: 50 in debt
  auto d = rl.admit("a", 1);
  EXPECT_FALSE(d.allowed);
  EXPECT_STREQ(d.limit, "tokens");
  EXPECT_NEAR(d.retry_after, 5.1, 1e-9);  // the debt, then one token
  now += 5.1;
  EXPECT_TRUE(rl.admit("a", 1).allowed);
}

TEST(RateLimit, BucketsNeverHoldMoreThanAMinute) {
  double now = 0.0;
  RateLimiter rl({2, 0}, [&] { return now; });
  now += 3600.0;  // an idle hour earns no burst beyond the capacity
  EXPECT_TRUE(rl.admit("a", 1).allowed);
  EXPECT_TRUE(rl.admit("a", 1).allowed);
  EXPECT_FALSE(rl.admit("a", 1).allowed);
}

TEST(RateLimit, OffMeansUnlimited) {
  RateLimiter rl({0, 0}, [] { return 0.0; });
  for (int i = 0; i < 1000; ++i) ASSERT_TRUE(rl.admit("a", 1000000).allowed);
}

TEST(RateLimit, ClockGoingBackwardsAddsNothing) {
  double now = 10.0;
  RateLimiter rl({1, 0}, [&] { return now; });
  EXPECT_TRUE(rl.admit("a", 1).allowed);
  now = 5.0;
  EXPECT_FALSE(rl.admit("a", 1).allowed);
}

}  // namespace
}  // namespace dsv3::server
