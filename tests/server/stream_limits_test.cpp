// --max-streams-per-key: leases per client, returned when dropped.
#include "server/stream_limits.h"

#include <gtest/gtest.h>

#include <vector>

namespace dsv3::server {
namespace {

TEST(StreamLimitsTest, CapsEachClientAlone) {
  StreamLimits limits(2);
  auto a1 = limits.acquire("key0");
  auto a2 = limits.acquire("key0");
  ASSERT_TRUE(a1 && a2);
  EXPECT_FALSE(limits.acquire("key0"));
  EXPECT_TRUE(limits.acquire("key1"));
  EXPECT_EQ(limits.running("key0"), 2);
  a2.reset();
  EXPECT_EQ(limits.running("key0"), 1);
  EXPECT_TRUE(limits.acquire("key0"));
}

TEST(StreamLimitsTest, ZeroIsUnlimited) {
  StreamLimits limits(0);
  std::vector<StreamLimits::Lease> held;
  for (int i = 0; i < 100; ++i) held.push_back(std::move(*limits.acquire("k")));
  EXPECT_EQ(limits.running("k"), 100);
  held.clear();
  EXPECT_EQ(limits.running("k"), 0);
}

}  // namespace
}  // namespace dsv3::server
