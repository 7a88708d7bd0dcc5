// serve's automatic context: the smallest of the model's positions, what the
// free memory holds for every sequence's cache, and the cap.
#include "engine/auto_context.h"

#include <gtest/gtest.h>

namespace dsv3 {
namespace {

TEST(AutoContext, TheSmallestLimitWins) {
  constexpr int64_t kGiB = int64_t{1} << 30;
  // plenty of memory: the cap, or fewer positions
  EXPECT_EQ(auto_context(163840, 64 * kGiB, 8, 1024), kAutoContextCap);
  EXPECT_EQ(auto_context(2048, 64 * kGiB, 8, 1024), 2048);
  // 8 sequences of 1 KiB per position in 8 MiB: 1024 positions
  EXPECT_EQ(auto_context(163840, 8 << 20, 8, 1024), 1024);
  // f16 halves the bytes per position, doubling the context
  EXPECT_EQ(auto_context(163840, 8 << 20, 8, 512), 2048);
  // unknown positions or memory are no limit
  EXPECT_EQ(auto_context(0, -1, 8, 1024), kAutoContextCap);
  // not even the smallest fits: the smallest
  EXPECT_EQ(auto_context(163840, 1000, 8, 1024), kMinContext);
}

}  // namespace
}  // namespace dsv3
