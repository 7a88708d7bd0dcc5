// The goldens through every SIMD kernel table this CPU can run, not only the
// one chosen at start-up: full logit rows of tiny-fp8 (fp8 weights) and the
// top-32 of tiny (bf16 weights) within 1e-3, greedy tokens identical.
#include <gtest/gtest.h>

#include <cmath>

#include "engine/session.h"
#include "ops/cpu/kernels.h"
#include "support/golden.h"

namespace dsv3::test {
namespace {

class GoldensPerIsa : public testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (!ops::cpu::force_isa(GetParam())) GTEST_SKIP() << GetParam() << " is not available on this CPU";
  }
  void TearDown() override { ops::cpu::force_isa(ops::cpu::available_isas().front()); }
};

TEST_P(GoldensPerIsa, Fp8AndBf16Models) {
  for (const std::string model : {"tiny-fp8", "tiny"}) {
    const auto ref = read_json(reference_dir() + "/goldens/" + model + "/reference.json")["prompts"][3];
    const Golden g(reference_dir() + "/goldens/" + model + "/reference.safetensors");
    std::vector<int32_t> seq = ref["ids"].get<std::vector<int32_t>>();
    const auto greedy = ref["greedy"].get<std::vector<int32_t>>();
    seq.insert(seq.end(), greedy.begin(), greedy.end());
    Transformer& t = *loaded(model).transformer;
    const int64_t vocab = t.config().vocab_size;
    double worst = 0.0;
    for_each_logits_row(t, seq, 0, [&](int64_t row, const float* l) {
      if (g.has("p3.logits")) {
        const float* r = g.f32("p3.logits") + row * vocab;
        for (int64_t v = 0; v < vocab; ++v) worst = std::max(worst, std::fabs(double(l[v]) - r[v]));
      } else {
        const int32_t* ids = g.i32("p3.top32_ids") + row * 32;
        const float* vals = g.f32("p3.top32_logits") + row * 32;
        for (int k = 0; k < 32; ++k) worst = std::max(worst, std::fabs(double(l[ids[k]]) - vals[k]));
      }
    });
    EXPECT_LE(worst, 1e-3) << model << " on " << GetParam();
    Session s(t);
    auto got = generate_greedy(s, ref["ids"].get<std::vector<int32_t>>(), static_cast<int64_t>(greedy.size()));
    ASSERT_TRUE(got.ok());
    EXPECT_EQ(*got, greedy) << model << " on " << GetParam();
  }
}

INSTANTIATE_TEST_SUITE_P(Golden, GoldensPerIsa, testing::Values("avx512", "avx2", "generic"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace dsv3::test
