#include "model/moe.h"

#include <algorithm>
#include <cstring>
#include <limits>

#include "base/thread_pool.h"
#include "ops/activation.h"
#include "ops/matmul.h"
#include "ops/vec.h"

namespace dsv3 {

void SwiGlu::forward(const SwiGluWeights& w, const float* x, int64_t n, float* out) {
  const int64_t width = w.gate.rows, hidden = w.gate.cols;
  float* g = gate_.get(n * width);
  float* u = up_.get(n * width);
  ops::matmul(w.gate, x, hidden, n, g, width, pool_, precision_);
  ops::matmul(w.up, x, hidden, n, u, width, pool_, precision_);
  ops::silu_mul(g, u, n * width, g);
  ops::matmul(w.down, g, width, n, out, hidden, pool_, precision_);
}

void route_token(const ModelConfig& c, const float* logits, const std::vector<float>& bias, int32_t* experts,
                 float* weights) {
  const int64_t ne = c.n_routed_experts, groups = c.n_group, per_group = ne / groups, top_k = c.num_experts_per_tok;
  constexpr float kNegInf = -std::numeric_limits<float>::infinity();
  // small fixed-size work arrays: routing runs per token, so no heap here
  constexpr int64_t kMaxExperts = 1024;
  float score[kMaxExperts], choice[kMaxExperts], group_score[kMaxExperts];
  for (int64_t e = 0; e < ne; ++e) {
    score[e] = ops::sigmoid(logits[e]);
    choice[e] = score[e] + (bias.empty() ? 0.0f : bias[e]);
  }
  if (groups > 1) {
    for (int64_t g = 0; g < groups; ++g) {
      // a group's score: the sum of its two best choice values
      float best = kNegInf, second = kNegInf;
      for (int64_t e = g * per_group; e < (g + 1) * per_group; ++e) {
        if (choice[e] > best) {
          second = best;
          best = choice[e];
        } else if (choice[e] > second) {
          second = choice[e];
        }
      }
      group_score[g] = per_group >= 2 ? best + second : best;
    }
    bool keep[kMaxExperts] = {};
    for (int64_t k = 0; k < c.topk_group; ++k) {
      int64_t arg = -1;
      for (int64_t g = 0; g < groups; ++g)
        if (!keep[g] && (arg < 0 || group_score[g] > group_score[arg])) arg = g;
      keep[arg] = true;
    }
    for (int64_t e = 0; e < ne; ++e)
      if (!keep[e / per_group]) choice[e] = kNegInf;
  }
  float sum = 0.0f;
  for (int64_t k = 0; k < top_k; ++k) {
    int64_t arg = -1;
    for (int64_t e = 0; e < ne; ++e)
      if (choice[e] != kNegInf && (arg < 0 || choice[e] > choice[arg])) arg = e;
    experts[k] = static_cast<int32_t>(arg);
    weights[k] = score[arg];
    choice[arg] = kNegInf;
    sum += score[arg];
  }
  const float norm = c.norm_topk_prob ? 1.0f / (sum + 1e-20f) : 1.0f;
  for (int64_t k = 0; k < top_k; ++k) weights[k] = weights[k] * norm * static_cast<float>(c.routed_scaling_factor);
}

Moe::Moe(const ModelConfig& cfg, ThreadPool* pool)
    : cfg_(cfg), pool_(pool), mlp_(pool), by_expert_(static_cast<std::size_t>(cfg.n_routed_experts)) {}

void Moe::forward(const MoeWeights& w, const float* x, int64_t n, float* out) {
  const ModelConfig& c = cfg_;
  const int64_t hidden = c.hidden_size, ne = c.n_routed_experts, top_k = c.num_experts_per_tok;
  float* logits = logits_.get(n * ne);
  ops::matmul(w.router, x, hidden, n, logits, ne, pool_);
  routing_.experts.resize(static_cast<std::size_t>(n * top_k));
  routing_.weights.resize(static_cast<std::size_t>(n * top_k));
  for (auto& list : by_expert_) list.clear();
  for (int64_t i = 0; i < n; ++i) {
    route_token(c, logits + i * ne, w.router_bias, routing_.experts.data() + i * top_k,
                routing_.weights.data() + i * top_k);
    for (int64_t k = 0; k < top_k; ++k) by_expert_[routing_.experts[i * top_k + k]].push_back(i * top_k + k);
  }

  // shared experts first: they write out, the routed experts add to it
  if (w.has_shared) {
    mlp_.forward(w.shared, x, n, out);
  } else {
    std::memset(out, 0, static_cast<std::size_t>(n * hidden) * sizeof(float));
  }
  // each chosen expert runs once over all its tokens, so its weights are read once
  for (int64_t e = 0; e < ne; ++e) {
    const auto& slots = by_expert_[e];
    if (slots.empty()) continue;
    const int64_t m = static_cast<int64_t>(slots.size());
    float* xs = gathered_.get(m * hidden);
    for (int64_t r = 0; r < m; ++r) std::copy(x + slots[r] / top_k * hidden, x + (slots[r] / top_k + 1) * hidden, xs + r * hidden);
    float* ys = expert_out_.get(m * hidden);
    mlp_.forward(w.experts[e], xs, m, ys);
    for (int64_t r = 0; r < m; ++r)
      ops::axpy(routing_.weights[slots[r]], ys + r * hidden, out + slots[r] / top_k * hidden, hidden);
  }
}

}  // namespace dsv3
