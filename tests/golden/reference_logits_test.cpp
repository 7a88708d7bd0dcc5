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
TEST_P(ReferenceHidden, EveryLayerMatches) { expect_reference_layers(*loaded(GetParam()).transformer, GetParam()); }
INSTANTIATE_TEST_SUITE_P(Golden, ReferenceHidden, testing::Values("tiny", "tiny-fp8"),
                         [](const auto& info) { return info.param == "tiny" ? std::string("tiny") : std::string("tiny_fp8"); });

}  // namespace
}  // namespace dsv3::test
