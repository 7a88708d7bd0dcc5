#include "engine/sampler.h"

#include <algorithm>
#include <cmath>
#include <cstring>
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
    if (seen_[id]) continue;
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

int32_t Sampler::sample(const float* logits, const uint64_t* allowed) {
  std::copy(logits, logits + vocab_, work_.begin());
  apply_bias_and_penalties(work_.data());
  if (allowed) {
    constexpr float kNever = -std::numeric_limits<float>::infinity();
    for (int64_t w = 0; w * 64 < vocab_; ++w) {
      const uint64_t bits = allowed[w];
      if (bits == ~uint64_t{0}) continue;
      const int64_t end = std::min<int64_t>(vocab_, (w + 1) * 64);
      for (int64_t i = w * 64; i < end; ++i)
        if (!(bits >> (i - w * 64) & 1)) work_[static_cast<std::size_t>(i)] = kNever;
    }
  }
  const int32_t tok = draw(work_.data());
  if (!seen_[tok]) {
    seen_[tok] = 1;
    touched_.push_back(tok);
  }
  output_count_[tok] += 1;
  last_token_ = tok;
  return tok;
}

namespace {
// Buckets of a positive float by its top bits (sign clear): the order of the
// buckets is the order of the values, 8 buckets per power of two.
inline uint32_t bucket_of(float p) {
  uint32_t bits;
  std::memcpy(&bits, &p, sizeof bits);
  return bits >> 20;
}
constexpr uint32_t kBuckets = 1u << 11;
}  // namespace

int32_t Sampler::draw(float* l) {
  const int64_t v = vocab_;
  if (p_.greedy()) {
    last_prob_ = 1.0f;
    return static_cast<int32_t>(std::max_element(l, l + v) - l);
  }
  auto by_logit = [l](int32_t a, int32_t b) { return l[a] > l[b] || (l[a] == l[b] && a < b); };
  // candidates order_[0, n): the top_k best (sorted) when set, else every token
  int64_t n = v;
  bool sorted = false;
  std::iota(order_.begin(), order_.end(), 0);
  if (p_.top_k > 0 && p_.top_k < v) {
    n = p_.top_k;
    std::partial_sort(order_.begin(), order_.begin() + n, order_.end(), by_logit);
    sorted = true;
  }
  // unnormalised probabilities at the temperature, per token id; the best is 1
  float mx = -std::numeric_limits<float>::infinity();
  for (int64_t i = 0; i < n; ++i) mx = std::max(mx, l[order_[i]]);
  const float inv_t = 1.0f / p_.temperature;
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    const int32_t id = order_[i];
    prob_[id] = std::exp((l[id] - mx) * inv_t);
    sum += prob_[id];
  }
  int64_t keep = n;
  if (p_.top_p < 1.0f) {
    // the smallest set of most likely tokens holding top_p of the mass
    const double target = static_cast<double>(p_.top_p) * sum;
    if (sorted) {
      double cum = 0.0;
      for (keep = 0; keep < n && cum < target;) cum += prob_[order_[keep++]];
    } else {
      // without sorting the vocabulary: mass per bucket of probability, the
      // bucket where the running mass (from the top) crosses the target, and
      // a sort of that bucket alone
      bucket_mass_.assign(kBuckets, 0.0);
      for (int64_t i = 0; i < n; ++i) bucket_mass_[bucket_of(prob_[order_[i]])] += prob_[order_[i]];
      double above = 0.0;
      uint32_t edge = kBuckets - 1;
      for (;; --edge) {
        if (above + bucket_mass_[edge] >= target || edge == 0) break;
        above += bucket_mass_[edge];
      }
      // order_: the tokens above the edge bucket (by id), then the edge bucket sorted
      int64_t w = 0;
      for (int64_t i = 0; i < n; ++i)
        if (bucket_of(prob_[order_[i]]) > edge) order_[w++] = order_[i];
      int64_t e = w;
      for (int32_t id = 0; id < v; ++id)
        if (bucket_of(prob_[id]) == edge) order_[e++] = id;
      std::sort(order_.begin() + w, order_.begin() + e, by_logit);
      double cum = above;
      keep = w;
      while (keep < e && cum < target) cum += prob_[order_[keep++]];
      keep = std::max<int64_t>(keep, 1);
    }
  }
  if (p_.min_p > 0.0f) {
    // relative to the most likely token (probability 1 here); order is kept so the draw stays reproducible
    int64_t w = 0;
    for (int64_t i = 0; i < keep; ++i)
      if (prob_[order_[i]] >= p_.min_p) order_[w++] = order_[i];
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
