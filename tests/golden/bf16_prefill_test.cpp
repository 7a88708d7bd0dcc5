// The opt-in bf16 prefill mode (ops::Precision::kBf16) against the goldens,
// held to what it measures. Rounding every activation to bf16 (8
// significant bits) moves these models' logits (|l| up to ~10) by a median
// 0.03-0.05 per row, more where a near-tied MoE routing choice flips (up to
// 5): it does NOT meet the 2e-2 fast-path tolerance, which is why it is not
// the default. So the rows are checked as a distribution (median, p90, p99,
// max) with bounds at about twice what was measured — a kernel bug gives
// errors of the logits' own size in most rows — and the greedy tokens
// (bf16 prompt, exact decode) up to the reference's first near-tie.
#include <gtest/gtest.h>

#include <cstdio>

#include "ops/cpu/kernels.h"
#include "support/reference_checks.h"

namespace dsv3::test {
namespace {

TEST(Bf16Prefill, RowErrorsAsMeasuredAndGreedyUntilNearTies) {
  if (!ops::cpu::bf16_kernels()) GTEST_SKIP() << "no AVX512-BF16 on this CPU: the bf16 mode runs exactly";
  struct Bounds {
    std::string model;
    double tie;  // about twice the measured p90: below it greedy may legitimately differ
    double median, p90, share_within;  // share of rows within kFlipFree
    int64_t min_greedy;
  };
  constexpr double kFlipFree = 0.25;  // rows above it are those of routing flips
  // Measured (AVX512-BF16, 2026-11): tiny-fp8 286 rows, median 0.054, p90
  // 0.082, 276 within 0.25 (max 5.2); tiny 382 rows, median 0.027, p90 0.048,
  // 373 within 0.25 (max 4.8). Bounds: about twice the median and p90, and
  // at most 5 % (tiny-fp8) / 4 % (tiny) of rows past 0.25. The greedy counts
  // depend only on where the reference has near-ties, so they are exact.
  for (const Bounds& b : {Bounds{"tiny-fp8", 0.16, 0.1, 0.16, 0.95, 18}, Bounds{"tiny", 0.1, 0.05, 0.1, 0.96, 15}}) {
    LoadedModel& lm = loaded(b.model);
    Transformer t(*lm.model, lm.pool.get());
    t.set_precision(ops::Precision::kBf16);
    // one prefill over everything: every product takes the bf16 path
    ReducedPrecision m = measure_reduced_precision(t, b.model, 0, DType::F32, b.tie);
    const double share = static_cast<double>(m.rows.within(kFlipFree)) / static_cast<double>(m.rows.size());
    std::printf("[ bf16 prefill, %s: %s, %.3f within %g, %lld greedy tokens compared ]\n", b.model.c_str(),
                m.rows.summary().c_str(), share, kFlipFree, static_cast<long long>(m.greedy_compared));
    EXPECT_GT(m.rows.min(), 0.0) << "it really ran rounded";
    EXPECT_LE(m.rows.quantile(0.5), b.median) << b.model;
    EXPECT_LE(m.rows.quantile(0.9), b.p90) << b.model;
    EXPECT_GE(share, b.share_within) << b.model;
    EXPECT_GE(m.greedy_compared, b.min_greedy) << b.model;
  }
}

}  // namespace
}  // namespace dsv3::test
