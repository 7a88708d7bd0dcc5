// The latent cache: host rows survive growth and copies; copies are deep and
// stay with their backend; a cache made by another backend is refused; a
// pass may not start past the positions its cache holds.
#include <gtest/gtest.h>

#include "base/thread_pool.h"
#include "model/latent_cache.h"
#include "ops/cpu_backend.h"
#include "ops/host_row_cache.h"
#include "support/golden.h"

namespace dsv3::test {
namespace {

const ops::HostRowCache& host_rows(const LatentCache& c) { return static_cast<const ops::HostRowCache&>(c.rows()); }

TEST(LatentCache, RowsSurviveGrowthAndCopies) {
  ThreadPool pool(1);
  ops::CpuBackend be(&pool);
  LatentCache c(be.make_cache(2, 3, DType::F32));
  ASSERT_TRUE(c.reserve(1).ok());
  auto& rows = static_cast<ops::HostRowCache&>(c.rows());
  const float a[3] = {1, 2, 3}, b[3] = {4, 5, 6};
  rows.store(1, 0, a);
  ASSERT_TRUE(c.reserve(10).ok());
  EXPECT_GE(c.capacity(), 10);
  rows.store(1, 9, b);
  LatentCache d = c;
  rows.store(1, 0, b);
  EXPECT_EQ(static_cast<const float*>(host_rows(d).row(1, 0))[2], 3.0f);
  EXPECT_EQ(static_cast<const float*>(host_rows(d).row(1, 9))[0], 4.0f);
  EXPECT_EQ(static_cast<const float*>(host_rows(c).row(1, 0))[0], 4.0f);
  EXPECT_EQ(d.rows().owner(), &be);
  EXPECT_EQ(d.capacity(), c.capacity());
}

TEST(LatentCache, F16RowsHoldHalfTheBytes) {
  ThreadPool pool(1);
  ops::CpuBackend be(&pool);
  LatentCache c(be.make_cache(2, 4, DType::F16));
  EXPECT_EQ(c.dtype(), DType::F16);
  EXPECT_EQ(c.bytes_per_token(), 2 * 4 * 2);
  ASSERT_TRUE(c.reserve(1).ok());
  const float v[4] = {0.5f, -1.25f, 3.0f, 1e-3f};
  static_cast<ops::HostRowCache&>(c.rows()).store(0, 0, v);
  const auto* h = static_cast<const uint16_t*>(host_rows(c).row(0, 0));
  for (int i = 0; i < 4; ++i) EXPECT_NEAR(f16_to_f32(h[i]), v[i], 1e-3f * std::abs(v[i]) + 1e-6f);
}

TEST(LatentCache, ACacheOfAnotherBackendIsRefused) {
  Transformer& t = *loaded("tiny").transformer;
  ThreadPool pool(1);
  ops::CpuBackend other(&pool);
  LatentCache foreign(other.make_cache(t.config().num_hidden_layers, t.config().cache_width(), DType::F32));
  std::vector<float> h(t.config().hidden_size);
  const int32_t id = 1;
  const Status s = t.forward(std::span<const int32_t>(&id, 1), 0, foreign, h.data());
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find("another backend"), std::string::npos) << s.error().message;
  // the model's own cache works
  LatentCache own = t.make_cache();
  EXPECT_TRUE(t.forward(std::span<const int32_t>(&id, 1), 0, own, h.data()).ok());
}

// Starting past the written positions would read rows nobody wrote: refused,
// with the cache as it was; copies keep what their original holds.
TEST(LatentCache, PositionsPastTheWrittenOnesAreRefused) {
  Transformer& t = *loaded("tiny").transformer;
  const int64_t hidden = t.config().hidden_size;
  const std::vector<int32_t> ids{0, 5, 9, 13};
  std::vector<float> h(ids.size() * hidden), h2(ids.size() * hidden);
  LatentCache c = t.make_cache();
  EXPECT_EQ(c.rows().written(), 0);
  ASSERT_TRUE(t.forward(std::span<const int32_t>(ids).first(2), 0, c, h.data()).ok());
  EXPECT_EQ(c.rows().written(), 2);
  const Status gap = t.forward(std::span<const int32_t>(ids).subspan(2, 1), 3, c, h2.data());
  ASSERT_FALSE(gap.ok());
  EXPECT_NE(gap.error().message.find("gap"), std::string::npos) << gap.error().message;
  EXPECT_EQ(c.rows().written(), 2);
  LatentCache fork = c;
  EXPECT_EQ(fork.rows().written(), 2);
  // going on from the end, or over a written position again, is fine
  ASSERT_TRUE(t.forward(std::span<const int32_t>(ids).subspan(2), 2, fork, h.data() + 2 * hidden).ok());
  EXPECT_EQ(fork.rows().written(), 4);
  ASSERT_TRUE(t.forward(std::span<const int32_t>(ids).subspan(1, 1), 1, c, h2.data()).ok());
  EXPECT_EQ(c.rows().written(), 2);
  LatentCache whole = t.make_cache();
  ASSERT_TRUE(t.forward(ids, 0, whole, h2.data()).ok());
  for (std::size_t i = 2 * hidden; i < h.size(); ++i) ASSERT_NEAR(h[i], h2[i], 1e-4) << i;
}

}  // namespace
}  // namespace dsv3::test
