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

#include <cmath>
#include <cstdio>

#include "engine/session.h"
#include "ops/cpu/kernels.h"
#include "support/golden.h"

namespace dsv3::test {
namespace {

struct Measured {
  ErrorDistribution rows;
  int64_t greedy_compared = 0;
};

Measured run_model(const std::string& model, double tie) {
  Measured m;
  const auto ref = read_json(reference_dir() + "/goldens/" + model + "/reference.json");
  const Golden g(reference_dir() + "/goldens/" + model + "/reference.safetensors");
  LoadedModel& lm = loaded(model);
  Transformer t(*lm.model, lm.pool.get());
  t.set_precision(ops::Precision::kBf16);
  const int64_t vocab = t.config().vocab_size;
  for (std::size_t p = 0; p < ref["prompts"].size(); ++p) {
    const auto& entry = ref["prompts"][p];
    const std::string key = "p" + std::to_string(p) + ".";
    const auto ids = entry["ids"].get<std::vector<int32_t>>();
    const auto greedy = entry["greedy"].get<std::vector<int32_t>>();
    std::vector<int32_t> seq = ids;
    seq.insert(seq.end(), greedy.begin(), greedy.end());
    Session s(t, 0);  // one prefill over everything: every product takes the bf16 path
    std::vector<float> logits;
    EXPECT_TRUE(s.append(seq, &logits).ok());
    if (logits.size() != seq.size() * vocab) return m;
    for (std::size_t row = 0; row < seq.size(); ++row)
      m.rows.add(reference_row_error(g, key, static_cast<int64_t>(row), logits.data() + row * vocab, vocab));
    Session d(t);
    auto got = generate_greedy(d, ids, static_cast<int64_t>(greedy.size()));
    EXPECT_TRUE(got.ok());
    if (!got.ok()) return m;
    std::vector<double> gaps;
    for (std::size_t k = 0; k < greedy.size(); ++k)
      gaps.push_back(reference_top2_gap(g, key, static_cast<int64_t>(ids.size() + k) - 1, vocab));
    m.greedy_compared += expect_greedy_until_near_tie(*got, greedy, gaps, tie, model + " prompt " + std::to_string(p));
  }
  return m;
}

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
    Measured m = run_model(b.model, b.tie);
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
