#include "engine/logprobs.h"

#include <algorithm>
#include <cmath>

namespace dsv3 {

double log_sum_exp(const float* logits, int64_t n) {
  const float mx = *std::max_element(logits, logits + n);
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) sum += std::exp(static_cast<double>(logits[i] - mx));
  return mx + std::log(sum);
}

void log_softmax(const float* logits, int64_t n, std::vector<float>& out) {
  out.resize(static_cast<std::size_t>(n));
  const double lse = log_sum_exp(logits, n);
  for (int64_t i = 0; i < n; ++i) out[i] = static_cast<float>(logits[i] - lse);
}

TokenLogprob token_logprob(const float* logits, int64_t vocab, int32_t token, int32_t k) {
  const double lse = log_sum_exp(logits, vocab);
  TokenLogprob r{token, static_cast<float>(logits[token] - lse), {}};
  std::vector<std::pair<int32_t, float>>& top = r.top;
  // insertion into a short sorted list: one pass over the vocabulary
  for (int64_t i = 0; i < vocab && k > 0; ++i) {
    if (static_cast<int32_t>(top.size()) == k && logits[i] <= top.back().second) continue;
    if (static_cast<int32_t>(top.size()) == k) top.pop_back();
    auto at = std::find_if(top.begin(), top.end(), [&](const auto& p) { return logits[i] > p.second; });
    top.insert(at, {static_cast<int32_t>(i), logits[i]});
  }
  for (auto& [id, value] : top) value = static_cast<float>(value - lse);
  return r;
}

}  // namespace dsv3
