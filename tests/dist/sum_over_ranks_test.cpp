// The sum a split model's ranks compute after each layer: every rank ends
// with bitwise the same vector, the shares added in rank order, on both
// paths (all shares gathered; slices summed by their owners and gathered).
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <thread>

#include "dist/communicator.h"
#include "support/thread_world.h"

namespace dsv3::test {
namespace {

void expect_rank_order_sums(int ranks, int64_t n) {
  std::vector<std::vector<float>> x(static_cast<std::size_t>(ranks));
  std::mt19937 rng(static_cast<uint32_t>(n * 31 + ranks));
  std::normal_distribution<float> d(0.0f, 1.0f);
  for (auto& v : x) {
    v.resize(static_cast<std::size_t>(n));
    for (float& f : v) f = d(rng) * 1e3f;  // large terms: the order of additions shows in the low bits
  }
  std::vector<float> want = x[0];
  for (int r = 1; r < ranks; ++r)
    for (int64_t i = 0; i < n; ++i) want[static_cast<std::size_t>(i)] += x[static_cast<std::size_t>(r)][static_cast<std::size_t>(i)];
  ThreadWorld world(ranks);
  std::vector<Status> status(static_cast<std::size_t>(ranks));
  auto body = [&](int r) {
    std::vector<float> scratch;
    status[static_cast<std::size_t>(r)] =
        dist::sum_over_ranks(world.comm(r), x[static_cast<std::size_t>(r)].data(), n, scratch);
  };
  world.start_followers(body);
  body(0);
  world.join();
  for (int r = 0; r < ranks; ++r) {
    ASSERT_TRUE(status[static_cast<std::size_t>(r)].ok());
    EXPECT_EQ(0, std::memcmp(x[static_cast<std::size_t>(r)].data(), want.data(), want.size() * sizeof(float)))
        << "rank " << r << " of " << ranks << ", " << n << " floats";
  }
}

TEST(SumOverRanks, SmallVectorsGatherEveryShare) {
  for (int ranks : {2, 3, 5}) expect_rank_order_sums(ranks, 7168);
}

TEST(SumOverRanks, LargeVectorsReduceSlicesThenGather) {
  for (int ranks : {2, 3, 5}) expect_rank_order_sums(ranks, 512 * 1024 + 3);  // uneven slices
}

TEST(SumOverRanks, OneRankIsANoOp) { expect_rank_order_sums(1, 1000); }

}  // namespace
}  // namespace dsv3::test
