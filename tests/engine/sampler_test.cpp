// Sampling: filters never let an excluded token through, frequencies follow
// the softmax, seeds reproduce, penalties and bias move the right logits.
#include "engine/sampler.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>
#include <random>
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

// The filtered distribution, computed independently in double: the top_k best
// logits (ties by id), then the smallest prefix holding top_p of their mass,
// then those at least min_p times as likely as the best; renormalised.
std::map<int32_t, double> filtered(const std::vector<float>& l, const SamplingParams& p) {
  const int n = static_cast<int>(l.size());
  std::vector<int32_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](int32_t a, int32_t b) { return l[a] > l[b] || (l[a] == l[b] && a < b); });
  const double best = l[order[0]];
  std::vector<double> w(n);
  for (int i = 0; i < n; ++i) w[i] = std::exp((l[i] - best) / p.temperature);
  int keep = p.top_k > 0 ? std::min(p.top_k, n) : n;
  if (p.top_p < 1.0f) {
    double mass = 0.0, cum = 0.0;
    for (int i = 0; i < keep; ++i) mass += w[order[i]];
    int m = 0;
    while (m < keep && cum < p.top_p * mass) cum += w[order[m++]];
    keep = m;
  }
  std::map<int32_t, double> out;
  double total = 0.0;
  for (int i = 0; i < keep; ++i)
    if (w[order[i]] >= p.min_p) {
      out[order[i]] = w[order[i]];
      total += w[order[i]];
    }
  for (auto& [id, q] : out) q /= total;
  return out;
}

// Draws many times: every token drawn is in the support with the probability
// the reference gives it, and the frequencies follow those probabilities.
void expect_support(const std::vector<float>& l, const SamplingParams& p, const std::map<int32_t, double>& want,
                    bool every_token_drawn) {
  Sampler s(p, static_cast<int64_t>(l.size()));
  constexpr int kDraws = 6000;
  std::map<int32_t, int> counts;
  for (int i = 0; i < kDraws; ++i) {
    const int32_t t = s.sample(l.data());
    const auto it = want.find(t);
    ASSERT_NE(it, want.end()) << "drew " << t << ", outside the filtered set";
    ASSERT_NEAR(s.last_probability(t), it->second, 1e-5 + 1e-4 * it->second) << "token " << t;
    counts[t] += 1;
  }
  if (!every_token_drawn) return;
  EXPECT_EQ(counts.size(), want.size());
  for (const auto& [id, q] : want) {
    const double sd = std::sqrt(q * (1 - q) / kDraws);
    EXPECT_NEAR(counts[id] / double(kDraws), q, 5 * sd + 1e-3) << "token " << id;
  }
}

// top-k, top-p and min-p together, each in turn the one that binds, and
// top-k changing what top-p keeps (top-p counts the mass after top-k).
TEST(Sampler, CombinedTopKTopPMinPGiveTheExactSupport) {
  // probabilities by rank, on ids that are not in rank order
  const std::vector<double> by_rank{0.28, 0.20, 0.15, 0.12, 0.08, 0.06, 0.04, 0.03, 0.02, 0.01, 0.006, 0.004};
  const int n = static_cast<int>(by_rank.size());
  std::vector<float> l(n);
  std::vector<int32_t> id_of(n);
  for (int r = 0; r < n; ++r) {
    id_of[r] = (r * 5 + 3) % n;
    l[id_of[r]] = static_cast<float>(std::log(by_rank[r]));
  }
  auto ranks = [&](std::initializer_list<int> rs) {
    std::set<int32_t> ids;
    for (int r : rs) ids.insert(id_of[r]);
    return ids;
  };
  struct Case {
    int32_t top_k;
    float top_p, min_p, temperature;
    std::set<int32_t> support;  // by hand, from the table above
  };
  const std::vector<Case> cases = {
      // top-k 8 leaves 0.96 of the mass; 0.77 of it is reached at rank 3 (0.75), without top-k only at rank 4
      {8, 0.77f, 0.0f, 1.0f, ranks({0, 1, 2, 3})},
      {0, 0.77f, 0.0f, 1.0f, ranks({0, 1, 2, 3, 4})},
      // top-k binds
      {3, 0.9f, 0.1f, 1.0f, ranks({0, 1, 2})},
      // top-p binds: 0.6 of 0.99 is reached at rank 2; min-p (0.028) would keep eight
      {10, 0.6f, 0.1f, 1.0f, ranks({0, 1, 2})},
      // min-p binds: 0.5 of the best is 0.14; top-p would keep eight
      {10, 0.95f, 0.5f, 1.0f, ranks({0, 1, 2})},
      // without top-k (top-p without a sort): top-p keeps seven, min-p (0.056) six
      {0, 0.9f, 0.2f, 1.0f, ranks({0, 1, 2, 3, 4, 5})},
      // a lower temperature sharpens the distribution before the filters
      {6, 0.8f, 0.3f, 0.5f, {}},
  };
  for (std::size_t c = 0; c < cases.size(); ++c) {
    SCOPED_TRACE("case " + std::to_string(c));
    SamplingParams p;
    p.top_k = cases[c].top_k;
    p.top_p = cases[c].top_p;
    p.min_p = cases[c].min_p;
    p.temperature = cases[c].temperature;
    p.seed = 1000 + c;
    const auto want = filtered(l, p);
    if (!cases[c].support.empty()) {
      std::set<int32_t> got;
      for (const auto& [id, q] : want) got.insert(id);
      ASSERT_EQ(got, cases[c].support) << "the reference disagrees with the table";
    }
    expect_support(l, p, want, true);
  }
}

// The same over a large vocabulary, where top-p works without sorting it.
TEST(Sampler, CombinedFiltersOverALargeVocabulary) {
  std::mt19937 rng(7);
  std::normal_distribution<float> normal(0.0f, 2.0f);
  std::vector<float> l(20000);
  for (float& v : l) v = normal(rng);
  SamplingParams p;
  p.temperature = 0.8f;
  p.top_p = 0.6f;
  p.min_p = 0.002f;
  p.seed = 21;
  const auto want = filtered(l, p);
  ASSERT_GT(want.size(), 20u);
  ASSERT_LT(want.size(), l.size() / 2);
  expect_support(l, p, want, false);
  p.top_k = 300;
  p.seed = 22;
  expect_support(l, p, filtered(l, p), false);
}

// A bias of -100 bans a token that dominates the distribution (30 logits
// ahead: probability 1 - 1e-13 without the bias), greedy or sampled.
TEST(Sampler, LogitBiasMinus100IsABan) {
  std::vector<float> l = logits_fixture();  // in [-3, 5]
  l[3] = 35.0f;
  for (const float temperature : {0.0f, 1.0f, 2.0f}) {
    SamplingParams p;
    p.temperature = temperature;
    p.seed = 17;
    Sampler plain(p, 50);
    EXPECT_EQ(plain.sample(l.data()), 3);
    p.logit_bias = {{3, -100.0f}};
    Sampler banned(p, 50);
    for (int i = 0; i < 3000; ++i) ASSERT_NE(banned.sample(l.data()), 3) << "temperature " << temperature;
    if (temperature == 0.0f) {
      EXPECT_EQ(banned.sample(l.data()), 7) << "greedy: the best of the rest";
    }
  }
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
