#include "engine/sampler.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

namespace dsv3 {

Status SamplingParams::validate(int64_t vocab) const {
  if (!(temperature >= 0.0f) || temperature > 100.0f) return make_error("temperature must be in [0, 100], got {}", temperature);
  if (top_k < 0) return make_error("top_k must be >= 0, got {}", top_k);
  if (!(top_p > 0.0f && top_p <= 1.0f)) return make_error("top_p must be in (0, 1], got {}", top_p);
  if (!(min_p >= 0.0f && min_p <= 1.0f)) return make_error("min_p must be in [0, 1], got {}", min_p);
  if (!(repetition_penalty > 0.0f) || repetition_penalty > 100.0f)
    return make_error("repetition_penalty must be in (0, 100], got {}", repetition_penalty);
  if (!(frequency_penalty >= -2.0f && frequency_penalty <= 2.0f))
    return make_error("frequency_penalty must be in [-2, 2], got {}", frequency_penalty);
  if (!(presence_penalty >= -2.0f && presence_penalty <= 2.0f))
    return make_error("presence_penalty must be in [-2, 2], got {}", presence_penalty);
  for (const auto& [id, bias] : logit_bias) {
    if (id < 0 || id >= vocab) return make_error("logit_bias token {} is outside the vocabulary [0, {})", id, vocab);
    if (!(bias >= -100.0f && bias <= 100.0f)) return make_error("logit_bias for token {} must be in [-100, 100]", id);
  }
  return {};
}

Sampler::Sampler(const SamplingParams& params, int64_t vocab)
    : p_(params),
      vocab_(vocab),
      rng_(params.seed ? *params.seed : std::random_device{}()),
      output_count_(static_cast<std::size_t>(vocab), 0),
      seen_(static_cast<std::size_t>(vocab), 0),
      work_(static_cast<std::size_t>(vocab)),
      prob_(static_cast<std::size_t>(vocab)),
      order_(static_cast<std::size_t>(vocab)) {}

void Sampler::observe_prompt(std::span<const int32_t> ids) {
  for (int32_t id : ids) {
    if (id < 0 || id >= vocab_ || seen_[id]) continue;
    seen_[id] = 1;
    touched_.push_back(id);
  }
}

void Sampler::apply_bias_and_penalties(float* l) const {
  for (const auto& [id, bias] : p_.logit_bias) l[id] += bias;
  for (int32_t id : touched_) {
    if (p_.repetition_penalty != 1.0f && seen_[id])
      l[id] = l[id] > 0.0f ? l[id] / p_.repetition_penalty : l[id] * p_.repetition_penalty;
    const int32_t n = output_count_[id];
    if (n > 0) l[id] -= p_.frequency_penalty * static_cast<float>(n) + p_.presence_penalty;
  }
}

int32_t Sampler::sample(const float* logits) {
  std::copy(logits, logits + vocab_, work_.begin());
  apply_bias_and_penalties(work_.data());
  const int32_t tok = draw(work_.data());
  if (!seen_[tok]) {
    seen_[tok] = 1;
    touched_.push_back(tok);
  }
  output_count_[tok] += 1;
  last_token_ = tok;
  return tok;
}

int32_t Sampler::draw(float* l) {
  const int64_t v = vocab_;
  if (p_.greedy()) {
    last_prob_ = 1.0f;
    return static_cast<int32_t>(std::max_element(l, l + v) - l);
  }
  // candidates order_[0, n): the top_k best when set, else every token
  std::iota(order_.begin(), order_.end(), 0);
  auto by_logit = [l](int32_t a, int32_t b) { return l[a] > l[b] || (l[a] == l[b] && a < b); };
  int64_t n = v, sorted = 0;
  if (p_.top_k > 0 && p_.top_k < v) {
    n = sorted = p_.top_k;
    std::partial_sort(order_.begin(), order_.begin() + n, order_.end(), by_logit);
  }
  // softmax at the temperature over the candidates, kept per token id
  float mx = -std::numeric_limits<float>::infinity();
  for (int64_t i = 0; i < n; ++i) mx = std::max(mx, l[order_[i]]);
  const double inv_t = 1.0 / p_.temperature;
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    const int32_t id = order_[i];
    prob_[id] = static_cast<float>(std::exp((static_cast<double>(l[id]) - mx) * inv_t));
    sum += prob_[id];
  }
  for (int64_t i = 0; i < n; ++i) prob_[order_[i]] = static_cast<float>(prob_[order_[i]] / sum);
  int64_t keep = n;
  if (p_.top_p < 1.0f) {
    // most of the mass sits in few tokens: sort a head first, everything only if needed
    auto walk = [&](int64_t upto) -> int64_t {
      double cum = 0.0;
      for (int64_t i = 0; i < upto; ++i)
        if ((cum += prob_[order_[i]]) >= p_.top_p) return i + 1;
      return -1;
    };
    if (sorted < n) {
      sorted = std::min<int64_t>(n, 1024);
      std::partial_sort(order_.begin(), order_.begin() + sorted, order_.begin() + n, by_logit);
    }
    int64_t k = walk(sorted);
    if (k < 0 && sorted < n) {
      std::sort(order_.begin(), order_.begin() + n, by_logit);
      k = walk(n);
    }
    keep = k < 0 ? n : k;
  }
  if (p_.min_p > 0.0f) {
    // relative to the most likely token; order is kept so the draw stays reproducible
    const float floor = p_.min_p * static_cast<float>(1.0 / sum);  // the best token has exp(0) / sum
    int64_t w = 0;
    for (int64_t i = 0; i < keep; ++i)
      if (prob_[order_[i]] >= floor) order_[w++] = order_[i];
    keep = std::max<int64_t>(1, w);
  }
  double total = 0.0;
  for (int64_t i = 0; i < keep; ++i) total += prob_[order_[i]];
  const double u = std::uniform_real_distribution<double>(0.0, total)(rng_);
  double acc = 0.0;
  int64_t pick = keep - 1;
  for (int64_t i = 0; i < keep; ++i) {
    acc += prob_[order_[i]];
    if (u < acc) {
      pick = i;
      break;
    }
  }
  last_prob_ = static_cast<float>(prob_[order_[pick]] / total);
  return order_[pick];
}

float Sampler::last_probability(int32_t token) const { return token == last_token_ ? last_prob_ : 0.0f; }

}  // namespace dsv3
