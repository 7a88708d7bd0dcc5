// The engine against the reference outputs (Hugging Face transformers,
// float32, cross-checked by DeepSeek's own code): every logit row, the greedy
// continuation and the per-layer hidden states. Tolerances are the issue's.
#include <gtest/gtest.h>

#include <cmath>

#include "engine/session.h"
#include "support/golden.h"

namespace dsv3::test {
namespace {

constexpr double kLogitTol = 1e-3;

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

nlohmann::json& reference_json(const std::string& model) {
  static std::map<std::string, nlohmann::json> cache;
  auto it = cache.find(model);
  if (it == cache.end())
    it = cache.emplace(model, read_json(reference_dir() + "/goldens/" + model + "/reference.json")).first;
  return it->second;
}
Golden& golden(const std::string& model) {
  static std::map<std::string, std::unique_ptr<Golden>> cache;
  auto& g = cache[model];
  if (!g) g = std::make_unique<Golden>(reference_dir() + "/goldens/" + model + "/reference.safetensors");
  return *g;
}

class ReferenceLogits : public testing::TestWithParam<Case> {};

// Rows of prompt + greedy continuation, teacher-forced in one prefill.
TEST_P(ReferenceLogits, EveryRowMatches) {
  const Case& c = GetParam();
  const auto& entry = reference_json(c.model)["prompts"][c.prompt];
  std::vector<int32_t> seq = entry["ids"].get<std::vector<int32_t>>();
  for (int32_t t : entry["greedy"].get<std::vector<int32_t>>()) seq.push_back(t);
  Transformer& t = *loaded(c.model).transformer;
  const int64_t vocab = t.config().vocab_size;
  const Golden& g = golden(c.model);
  const std::string p = "p" + std::to_string(c.prompt) + ".";
  const int64_t prompt_len = static_cast<int64_t>(entry["ids"].size());
  double worst = 0.0;
  int64_t rows = 0;
  for_each_logits_row(t, seq, 0, [&](int64_t row, const float* logits) {
    ++rows;
    if (g.has(p + "logits")) {  // full rows
      const float* ref = g.f32(p + "logits") + row * vocab;
      for (int64_t v = 0; v < vocab; ++v) worst = std::max(worst, std::fabs(double(logits[v]) - ref[v]));
      return;
    }
    const int32_t* ids = g.i32(p + "top32_ids") + row * 32;
    const float* vals = g.f32(p + "top32_logits") + row * 32;
    for (int k = 0; k < 32; ++k) worst = std::max(worst, std::fabs(double(logits[ids[k]]) - vals[k]));
    worst = std::max(worst, std::fabs(logsumexp(logits, vocab) - g.f32(p + "logsumexp")[row]));
    if (row == prompt_len - 1) {
      const float* last = g.f32(p + "last_logits");
      for (int64_t v = 0; v < vocab; ++v) worst = std::max(worst, std::fabs(double(logits[v]) - last[v]));
    }
  });
  EXPECT_EQ(rows, static_cast<int64_t>(seq.size()));
  EXPECT_LE(worst, kLogitTol) << c.model << " prompt " << c.prompt;
  RecordProperty("max_abs_logit_diff", std::to_string(worst));
  std::printf("[ max |logit - reference| = %.3g over %lld rows ]\n", worst, static_cast<long long>(rows));
}

// The greedy continuation through the decode path (one token at a time).
TEST_P(ReferenceLogits, GreedyTokensIdentical) {
  const Case& c = GetParam();
  const auto& entry = reference_json(c.model)["prompts"][c.prompt];
  const auto ids = entry["ids"].get<std::vector<int32_t>>();
  const auto want = entry["greedy"].get<std::vector<int32_t>>();
  Session s(*loaded(c.model).transformer);
  auto got = generate_greedy(s, ids, static_cast<int64_t>(want.size()));
  ASSERT_TRUE(got.ok()) << got.error().message;
  EXPECT_EQ(*got, want);
}

std::vector<Case> all_cases() {
  std::vector<Case> v;
  for (const std::string m : {"tiny", "tiny-fp8"}) {
    const auto n = static_cast<int>(reference_json(m)["prompts"].size());
    for (int i = 0; i < n; ++i) v.push_back({m, i});
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
  const Golden& g = golden(model);
  std::vector<int> seen;
  LayerObserver obs = [&](int64_t k, const float* h, int64_t n) {
    const std::string name = "p1.hidden." + std::to_string(k);
    ASSERT_TRUE(g.has(name)) << name;
    ASSERT_EQ(g.tensor(name).shape, (std::vector<int64_t>{n, hidden}));
    const float* ref = g.f32(name);
    double worst = 0.0;
    for (int64_t i = 0; i < n * hidden; ++i) worst = std::max(worst, std::fabs(double(h[i]) - ref[i]));
    EXPECT_LE(worst, kLogitTol) << "after layer " << k;
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
