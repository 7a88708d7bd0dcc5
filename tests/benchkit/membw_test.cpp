// The memory-bandwidth probes that bench reports: finite, positive, and in
// GB/s (a unit slip of 1e3 either way leaves the plausible range).
#include "benchkit/membw.h"

#include <gtest/gtest.h>

#include <cmath>

#include "base/thread_pool.h"
#include "support/test_env.h"

namespace dsv3::test {
namespace {

// Any machine this runs on moves more than 50 MB/s and less than 10 TB/s,
// even from cache, even with every core busy with other work.
constexpr double kLow = 0.05, kHigh = 1e4;

TEST(MemoryBandwidth, ProbesGivePlausibleGigabytesPerSecond) {
  ThreadPool pool(test_threads());
  const double triad = measure_triad_gbps(pool, int64_t{4} << 20, 3);
  const double read = measure_read_gbps(pool, int64_t{8} << 20, 3);
  for (const double gbps : {triad, read}) {
    EXPECT_TRUE(std::isfinite(gbps));
    EXPECT_GT(gbps, kLow);
    EXPECT_LT(gbps, kHigh);
  }
  // one thread, and sizes that are not a multiple of the lanes or the threads
  ThreadPool one(1);
  const double small = measure_read_gbps(one, 1000003, 2);
  EXPECT_TRUE(std::isfinite(small) && small > kLow && small < kHigh) << small;
  const double triad_one = measure_triad_gbps(one, 1000003, 2);
  EXPECT_TRUE(std::isfinite(triad_one) && triad_one > kLow && triad_one < kHigh) << triad_one;
}

}  // namespace
}  // namespace dsv3::test
