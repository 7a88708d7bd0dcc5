// The f16 latent cache against the goldens, held to what it measures.
// Rounding the cache is smooth, but it can flip a near-tied MoE routing
// decision, and after a flip the logits of that row (and, through attention,
// of later rows) move by a lot: on these random-weight models tiny-fp8
// prompt 3 flips at row 55 (up to 5.2). So the rows are checked as a
// distribution (median, p90, p99, the share within the fast-path tolerance
// 2e-2) with bounds at about twice what was measured, and the greedy tokens
// up to the reference's first near-tie.
#include <gtest/gtest.h>

#include <cstdio>

#include "support/reference_checks.h"

namespace dsv3::test {
namespace {

constexpr double kFastPathTolerance = 2e-2;

TEST(F16Cache, RowErrorsAsMeasuredAndGreedyUntilNearTies) {
  struct Bounds {
    std::string model;
    double median, p90, p99, share_within;  // share of rows within kFastPathTolerance
    int64_t min_greedy;
  };
  // Measured (AVX-512, 2026-11): tiny-fp8 286 rows, median 0.0029, p90 0.0039,
  // p99 0.0052, 285 within 2e-2; tiny 382 rows, median 0.0015, p90 0.0026,
  // p99 0.0077, 380 within 2e-2. Bounds: about twice each quantile, and at
  // most 1 % of rows outside 2e-2. The greedy counts depend only on where
  // the reference has near-ties, so they are exact.
  for (const Bounds& b : {Bounds{"tiny-fp8", 6e-3, 8e-3, 1e-2, 0.99, 33}, Bounds{"tiny", 3e-3, 5e-3, 1.5e-2, 0.99, 82}}) {
    // odd chunks: prefill and decode both read f16 rows
    ReducedPrecision m = measure_reduced_precision(*loaded(b.model).transformer, b.model, 7, DType::F16,
                                                   2 * kFastPathTolerance);
    const double share = static_cast<double>(m.rows.within(kFastPathTolerance)) / static_cast<double>(m.rows.size());
    std::printf("[ f16 cache, %s: %s, %.4f within %g, %lld greedy tokens compared ]\n", b.model.c_str(),
                m.rows.summary().c_str(), share, kFastPathTolerance, static_cast<long long>(m.greedy_compared));
    EXPECT_GT(m.rows.min(), 0.0) << "it really ran with the rounded cache";
    EXPECT_LE(m.rows.quantile(0.5), b.median) << b.model;
    EXPECT_LE(m.rows.quantile(0.9), b.p90) << b.model;
    EXPECT_LE(m.rows.quantile(0.99), b.p99) << b.model;
    EXPECT_GE(share, b.share_within) << b.model;
    EXPECT_GE(m.greedy_compared, b.min_greedy) << b.model;
  }
}

}  // namespace
}  // namespace dsv3::test
