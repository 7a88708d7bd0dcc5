// --head-dtype: lm_head re-stored as Q8_0 against the exact path, with the
// accuracy policy's measures (docs/quantized.md): per row, the median
// |Δlogit| over the vocabulary as a share of the row's standard deviation,
// and KL(exact ‖ re-stored). Measured on tiny-fp8 / tiny (2026-11): median
// 0.36 % / 0.35 %, mean KL 6e-5 / 6e-5; bounds at about 3x and 15x (a wrong
// row or scale gives tens of percent and KL of order 1).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "model/head_dtype.h"
#include "support/reference_checks.h"

namespace dsv3::test {
namespace {

struct RowStats {
  std::vector<double> rel_median;
  double kl_sum = 0;
};

void compare_rows(const float* a, const float* b, int64_t v, RowStats& s) {
  std::vector<double> d(static_cast<std::size_t>(v));
  double mean = 0, var = 0;
  for (int64_t j = 0; j < v; ++j) mean += a[j];
  mean /= static_cast<double>(v);
  for (int64_t j = 0; j < v; ++j) {
    d[j] = std::fabs(static_cast<double>(a[j]) - b[j]);
    var += (a[j] - mean) * (a[j] - mean);
  }
  std::nth_element(d.begin(), d.begin() + v / 2, d.end());
  s.rel_median.push_back(d[v / 2] / std::sqrt(var / static_cast<double>(v)));
  const double la = logsumexp(a, v), lb = logsumexp(b, v);
  double kl = 0;
  for (int64_t j = 0; j < v; ++j) kl += std::exp(a[j] - la) * ((a[j] - la) - (b[j] - lb));
  s.kl_sum += kl;
}

TEST(HeadDtype, Q8HeadMeetsTheAccuracyPolicy) {
  for (const std::string name : {"tiny-fp8", "tiny"}) {
    LoadedModel& exact = loaded(name);
    auto m = Model::load(model_dir(name));
    ASSERT_TRUE(m.ok());
    ASSERT_TRUE(restore_head(**m, DType::Q8_0, exact.pool.get()).ok());
    ASSERT_EQ((*m)->weights.lm_head.dtype, DType::Q8_0);
    Transformer fast(**m, exact.pool.get());
    const int64_t v = (*m)->config.vocab_size;
    RowStats s;
    const auto& ref = reference_json(name)["prompts"];
    for (const auto& p : ref) {
      std::vector<int32_t> ids = p["ids"].get<std::vector<int32_t>>();
      for (int32_t t : p["greedy"]) ids.push_back(t);
      std::vector<float> a;
      for_each_logits_row(*exact.transformer, ids, 0, [&](int64_t, const float* row) { a.insert(a.end(), row, row + v); });
      int64_t r = 0;
      for_each_logits_row(fast, ids, 0, [&](int64_t, const float* row) { compare_rows(a.data() + (r++) * v, row, v, s); });
    }
    std::sort(s.rel_median.begin(), s.rel_median.end());
    const double median = s.rel_median[s.rel_median.size() / 2];
    const double kl = s.kl_sum / static_cast<double>(s.rel_median.size());
    std::printf("[ head q8_0, %s: %zu rows, median |dlogit| %.3f%% of std, mean KL %.2e ]\n", name.c_str(),
                s.rel_median.size(), 100 * median, kl);
    EXPECT_GT(median, 0.0) << "it really ran re-stored";
    EXPECT_LE(median, 0.01) << name;
    EXPECT_LE(kl, 1e-3) << name;
  }
}

TEST(HeadDtype, RefusesWhatCannotBeStored) {
  auto m = Model::load(model_dir("tiny"));
  ASSERT_TRUE(m.ok());
  const Status st = restore_head(**m, DType::Q6_K, nullptr);  // 32-wide rows: no 256-value block
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message.find("256"), std::string::npos) << st.error().message;
  EXPECT_FALSE(restore_head(**m, DType::Q4_0, nullptr).ok());
}

}  // namespace
}  // namespace dsv3::test
