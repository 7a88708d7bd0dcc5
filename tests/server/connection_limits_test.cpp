// --max-connections and --max-connections-per-client: tickets, and their return.
#include "server/connection_limits.h"

#include <gtest/gtest.h>

#include <vector>

namespace dsv3::server {
namespace {

TEST(ConnectionLimitsTest, PerClientCap) {
  ConnectionLimits limits(0, 2);
  auto a1 = limits.admit("a");
  auto a2 = limits.admit("a");
  ASSERT_TRUE(a1 && a2);
  EXPECT_FALSE(limits.admit("a"));
  EXPECT_TRUE(limits.admit("b"));  // another client is not held back (its ticket goes at once)
  a1.reset();
  EXPECT_TRUE(limits.admit("a"));
}

TEST(ConnectionLimitsTest, TotalCapAndReturn) {
  ConnectionLimits limits(3, 0);
  std::vector<ConnectionLimits::Ticket> held;
  for (const char* c : {"a", "b", "c"}) held.push_back(std::move(*limits.admit(c)));
  EXPECT_EQ(limits.open(), 3u);
  EXPECT_FALSE(limits.admit("d"));
  held.pop_back();
  EXPECT_EQ(limits.open(), 2u);
  EXPECT_TRUE(limits.admit("d"));
}

TEST(ConnectionLimitsTest, ZeroIsUnlimited) {
  ConnectionLimits limits(0, 0);
  std::vector<ConnectionLimits::Ticket> held;
  for (int i = 0; i < 1000; ++i) {
    auto t = limits.admit("a");
    ASSERT_TRUE(t);
    held.push_back(std::move(*t));
  }
  EXPECT_EQ(limits.open(), 1000u);
}

}  // namespace
}  // namespace dsv3::server
