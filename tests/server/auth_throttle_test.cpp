// --auth-failures-per-minute: the Nth failure within a minute blocks the
// address until its oldest failure is a minute old; other addresses go on.
#include "server/auth_throttle.h"

#include <gtest/gtest.h>

namespace dsv3::server {
namespace {

TEST(AuthThrottleTest, BlocksAfterNFailuresWithinAMinute) {
  double now = 100;
  AuthThrottle t(3, [&] { return now; });
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(t.blocked_for("a"), 0) << i;
    t.failed("a");
    now += 1;
  }
  EXPECT_NEAR(t.blocked_for("a"), 57, 1e-9);  // the first failure (t=100) leaves the window at 160
  EXPECT_EQ(t.blocked_for("b"), 0);
  now = 160;
  EXPECT_EQ(t.blocked_for("a"), 0);
}

TEST(AuthThrottleTest, ZeroNeverBlocks) {
  AuthThrottle t(0, [] { return 0.0; });
  for (int i = 0; i < 100; ++i) t.failed("a");
  EXPECT_EQ(t.blocked_for("a"), 0);
}

TEST(AuthThrottleTest, ManyAddressesArePruned) {
  double now = 0;
  AuthThrottle t(2, [&] { return now; });
  for (int i = 0; i < 10000; ++i) t.failed("addr" + std::to_string(i));
  now = 61;
  t.failed("x");
  EXPECT_EQ(t.blocked_for("addr1"), 0);
}

}  // namespace
}  // namespace dsv3::server
