// The goldens through every SIMD kernel table this CPU can run, not only the
// one chosen at start-up: full logit rows of tiny-fp8 (fp8 weights) and the
// top-32 and logsumexp of tiny (bf16 weights) within kExactTolerance, greedy
// tokens identical.
#include <gtest/gtest.h>

#include "ops/cpu/kernels.h"
#include "support/reference_checks.h"

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
    Transformer& t = *loaded(model).transformer;
    for (int prompt : {0, 3}) {
      expect_reference_rows(t, model, prompt);
      expect_reference_greedy(t, model, prompt);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Golden, GoldensPerIsa, testing::Values("avx512", "avx2", "generic"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace dsv3::test
