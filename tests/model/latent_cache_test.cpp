// The latent cache: host rows survive growth and copies; a cache kept by
// another device is deep-copied through its store and refused by the CPU pass.
#include <gtest/gtest.h>

#include "model/latent_cache.h"
#include "support/golden.h"

namespace dsv3::test {
namespace {

TEST(LatentCache, RowsSurviveGrowthAndCopies) {
  LatentCache c(2, 3, 1);
  const float a[3] = {1, 2, 3}, b[3] = {4, 5, 6};
  c.store(1, 0, a);
  c.reserve(10);
  c.store(1, 9, b);
  LatentCache d = c;
  c.store(1, 0, b);
  EXPECT_EQ(static_cast<const float*>(d.row(1, 0))[2], 3.0f);
  EXPECT_EQ(static_cast<const float*>(d.row(1, 9))[0], 4.0f);
  EXPECT_EQ(static_cast<const float*>(c.row(1, 0))[0], 4.0f);
}

struct FakeStore : ExternalCacheStore {
  int64_t cap = 0;
  int* clones;
  explicit FakeStore(int* counter) : clones(counter) {}
  std::unique_ptr<ExternalCacheStore> clone() const override {
    ++*clones;
    auto s = std::make_unique<FakeStore>(clones);
    s->cap = cap;
    return s;
  }
  void reserve(int64_t n) override { cap = std::max(cap, n); }
  int64_t capacity() const override { return cap; }
};

TEST(LatentCache, ExternalStoreIsDeepCopiedAndRefusedOnTheCpu) {
  int clones = 0;
  LatentCache c(4, 8, DType::F32, std::make_unique<FakeStore>(&clones));
  c.reserve(5);
  EXPECT_EQ(c.capacity(), 5);
  LatentCache d = c;
  EXPECT_EQ(clones, 1);
  EXPECT_NE(d.external(), c.external());
  EXPECT_EQ(d.capacity(), 5);

  Transformer& t = *loaded("tiny").transformer;
  LatentCache foreign(t.config().num_hidden_layers, t.config().cache_width(), DType::F32,
                      std::make_unique<FakeStore>(&clones));
  std::vector<float> h(t.config().hidden_size);
  const int32_t id = 1;
  const Status s = t.forward(std::span<const int32_t>(&id, 1), 0, foreign, h.data());
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find("another device"), std::string::npos);
}

}  // namespace
}  // namespace dsv3::test
