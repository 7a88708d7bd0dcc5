// Sampling: filters never let an excluded token through, frequencies follow
// the softmax, seeds reproduce, penalties and bias move the right logits.
#include "engine/sampler.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <set>

namespace dsv3::test {
namespace {

std::vector<float> logits_fixture() {
  // distinct logits over 50 tokens, best at 7
  std::vector<float> l(50);
  for (int i = 0; i < 50; ++i) l[i] = std::sin(i * 1.7f) * 3.0f;
  l[7] = 5.0f;
  return l;
}

std::vector<int32_t> best_k(const std::vector<float>& l, int k) {
  std::vector<int32_t> idx(l.size());
  std::iota(idx.begin(), idx.end(), 0);
  std::sort(idx.begin(), idx.end(), [&](int a, int b) { return l[a] > l[b]; });
  idx.resize(k);
  return idx;
}

TEST(Sampler, GreedyIsArgmax) {
  SamplingParams p;
  p.temperature = 0.0f;
  Sampler s(p, 50);
  const auto l = logits_fixture();
  for (int i = 0; i < 5; ++i) EXPECT_EQ(s.sample(l.data()), 7);
}

TEST(Sampler, TopKNeverLeavesTheKBest) {
  SamplingParams p;
  p.top_k = 5;
  p.temperature = 2.0f;  // flat: every candidate gets drawn
  p.seed = 1;
  Sampler s(p, 50);
  const auto l = logits_fixture();
  const auto best = best_k(l, 5);
  std::set<int32_t> seen;
  for (int i = 0; i < 3000; ++i) {
    const int32_t t = s.sample(l.data());
    ASSERT_NE(std::find(best.begin(), best.end(), t), best.end()) << t;
    seen.insert(t);
  }
  EXPECT_EQ(seen.size(), 5u);
}

TEST(Sampler, FrequenciesMatchSoftmax) {
  SamplingParams p;
  p.temperature = 1.5f;
  p.seed = 42;
  const auto l = logits_fixture();
  Sampler s(p, 50);
  const int draws = 40000;
  std::vector<int> counts(50, 0);
  for (int i = 0; i < draws; ++i) counts[s.sample(l.data())] += 1;
  double z = 0;
  for (float v : l) z += std::exp(v / 1.5);
  for (int t = 0; t < 50; ++t) {
    const double expect = std::exp(l[t] / 1.5) / z;
    const double sd = std::sqrt(expect * (1 - expect) / draws);
    EXPECT_NEAR(counts[t] / double(draws), expect, 5 * sd + 1e-4) << "token " << t;
  }
}

TEST(Sampler, TopPKeepsSmallestSetReachingP) {
  std::vector<float> l{std::log(0.5f), std::log(0.3f), std::log(0.15f), std::log(0.05f)};
  SamplingParams p;
  p.top_p = 0.75f;  // 0.5 + 0.3 reaches it: tokens 0 and 1 only
  p.seed = 3;
  Sampler s(p, 4);
  int c0 = 0, c1 = 0;
  for (int i = 0; i < 8000; ++i) {
    const int32_t t = s.sample(l.data());
    ASSERT_LE(t, 1);
    (t == 0 ? c0 : c1) += 1;
  }
  EXPECT_NEAR(c0 / 8000.0, 0.5 / 0.8, 0.03);
}

TEST(Sampler, TopPOverLargeVocabularyNeedsFullSort) {
  // flat distribution over 5000 tokens: the 1024-token head is not enough
  std::vector<float> l(5000, 0.0f);
  SamplingParams p;
  p.top_p = 0.9f;
  p.seed = 9;
  Sampler s(p, 5000);
  int32_t max_seen = 0;
  for (int i = 0; i < 4000; ++i) max_seen = std::max(max_seen, s.sample(l.data()));
  EXPECT_GT(max_seen, 3000);   // reaches past the head
  EXPECT_LT(max_seen, 4500);   // but not the excluded tail (ties break by id)
}

TEST(Sampler, MinPDropsUnlikelyTokens) {
  std::vector<float> l{std::log(0.6f), std::log(0.3f), std::log(0.07f), std::log(0.03f)};
  SamplingParams p;
  p.min_p = 0.2f;  // floor 0.12: tokens 2 and 3 go
  p.seed = 5;
  Sampler s(p, 4);
  for (int i = 0; i < 3000; ++i) ASSERT_LE(s.sample(l.data()), 1);
}

TEST(Sampler, SameSeedSameSequence) {
  const auto l = logits_fixture();
  SamplingParams p;
  p.seed = 1234;
  p.top_p = 0.95f;
  Sampler a(p, 50), b(p, 50);
  std::vector<int32_t> sa, sb;
  for (int i = 0; i < 200; ++i) {
    sa.push_back(a.sample(l.data()));
    sb.push_back(b.sample(l.data()));
  }
  EXPECT_EQ(sa, sb);
  p.seed = 999;
  Sampler c(p, 50);
  std::vector<int32_t> sc;
  for (int i = 0; i < 200; ++i) sc.push_back(c.sample(l.data()));
  EXPECT_NE(sa, sc);
}

TEST(Sampler, LogitBiasAndPenalties) {
  std::vector<float> l{1.0f, 2.0f, 3.0f};
  SamplingParams p;
  p.temperature = 0.0f;
  p.logit_bias = {{0, 10.0f}};
  Sampler biased(p, 3);
  EXPECT_EQ(biased.sample(l.data()), 0);

  SamplingParams f;
  f.temperature = 0.0f;
  f.frequency_penalty = 0.8f;  // each use of token 2 costs 0.8
  Sampler freq(f, 3);
  std::vector<int32_t> got;
  for (int i = 0; i < 4; ++i) got.push_back(freq.sample(l.data()));
  EXPECT_EQ(got, (std::vector<int32_t>{2, 2, 1, 2}));  // 3 > 2.2 > 2 ... then 2.2 > 1.4 > 1.2

  SamplingParams r;
  r.temperature = 0.0f;
  r.repetition_penalty = 2.0f;  // positive logits halved for seen tokens
  Sampler rep(r, 3);
  rep.observe_prompt(std::vector<int32_t>{2});
  EXPECT_EQ(rep.sample(l.data()), 1);  // 3/2 = 1.5 < 2

  SamplingParams pr;
  pr.temperature = 0.0f;
  pr.presence_penalty = 1.5f;
  Sampler pres(pr, 3);
  EXPECT_EQ(pres.sample(l.data()), 2);
  EXPECT_EQ(pres.sample(l.data()), 1);  // 3 - 1.5 < 2
}

TEST(Sampler, ValidationNamesTheField) {
  SamplingParams p;
  p.top_p = 0.0f;
  EXPECT_NE(p.validate(10).error().message.find("top_p"), std::string::npos);
  p = {};
  p.temperature = -1.0f;
  EXPECT_NE(p.validate(10).error().message.find("temperature"), std::string::npos);
  p = {};
  p.logit_bias = {{10, 1.0f}};
  EXPECT_NE(p.validate(10).error().message.find("logit_bias"), std::string::npos);
  p = {};
  p.frequency_penalty = 3.0f;
  EXPECT_FALSE(p.validate(10).ok());
  EXPECT_TRUE(SamplingParams{}.validate(10).ok());
}

}  // namespace
}  // namespace dsv3::test
