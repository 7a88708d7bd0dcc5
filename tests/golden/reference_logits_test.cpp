// The engine against the reference outputs (Hugging Face transformers,
// float32, cross-checked by DeepSeek's own code): every logit row, the greedy
// continuation and the per-layer hidden states, within kExactTolerance.
#include <gtest/gtest.h>

#include <cmath>

#include "support/reference_checks.h"

namespace dsv3::test {
namespace {

struct Case {
  std::string model;
  int prompt;
};
void PrintTo(const Case& c, std::ostream* os) { *os << c.model << " prompt " << c.prompt; }
std::string case_name(const testing::TestParamInfo<Case>& info) {
  std::string m = info.param.model;
  for (char& c : m)
    if (c == '-') c = '_';
  return m + "_prompt" + std::to_string(info.param.prompt);
}

class ReferenceLogits : public testing::TestWithParam<Case> {};

// Rows of prompt + greedy continuation, teacher-forced in one prefill.
TEST_P(ReferenceLogits, EveryRowMatches) {
  const Case& c = GetParam();
  const double worst = expect_reference_rows(*loaded(c.model).transformer, c.model, c.prompt);
  RecordProperty("max_abs_logit_diff", std::to_string(worst));
}

// The greedy continuation through the decode path (one token at a time).
TEST_P(ReferenceLogits, GreedyTokensIdentical) {
  expect_reference_greedy(*loaded(GetParam().model).transformer, GetParam().model, GetParam().prompt);
}

std::vector<Case> all_cases() {
  std::vector<Case> v;
  for (const std::string m : {"tiny", "tiny-fp8"}) {
    for (int i = 0; i < reference_prompt_count(m); ++i) v.push_back({m, i});
  }
  return v;
}
INSTANTIATE_TEST_SUITE_P(Golden, ReferenceLogits, testing::ValuesIn(all_cases()), case_name);

// Hidden state after every layer for prompt 1 (k = 0: embeddings; last: final norm).
class ReferenceHidden : public testing::TestWithParam<std::string> {};
TEST_P(ReferenceHidden, EveryLayerMatches) {
  const std::string model = GetParam();
  const auto ids = reference_json(model)["prompts"][1]["ids"].get<std::vector<int32_t>>();
  Transformer& t = *loaded(model).transformer;
  const int64_t hidden = t.config().hidden_size, layers = t.config().num_hidden_layers;
  const Golden& g = reference_golden(model);
  std::vector<int> seen;
  LayerObserver obs = [&](int64_t k, const float* h, int64_t n) {
    const std::string name = "p1.hidden." + std::to_string(k);
    ASSERT_TRUE(g.has(name)) << name;
    ASSERT_EQ(g.tensor(name).shape, (std::vector<int64_t>{n, hidden}));
    const float* ref = g.f32(name);
    double worst = 0.0;
    for (int64_t i = 0; i < n * hidden; ++i) worst = std::max(worst, std::fabs(double(h[i]) - ref[i]));
    EXPECT_LE(worst, kExactTolerance) << "after layer " << k;
    std::printf("[ %s after layer %lld: max |h - reference| = %.3g ]\n", model.c_str(), static_cast<long long>(k), worst);
    seen.push_back(static_cast<int>(k));
  };
  LatentCache cache = t.make_cache();
  std::vector<float> out(ids.size() * hidden);
  ASSERT_TRUE(t.forward(ids, 0, cache, out.data(), &obs).ok());
  EXPECT_EQ(seen.size(), static_cast<std::size_t>(layers + 1));
  EXPECT_FALSE(g.has("p1.hidden." + std::to_string(layers + 1)));
}
INSTANTIATE_TEST_SUITE_P(Golden, ReferenceHidden, testing::Values("tiny", "tiny-fp8"),
                         [](const auto& info) { return info.param == "tiny" ? std::string("tiny") : std::string("tiny_fp8"); });

}  // namespace
}  // namespace dsv3::test
