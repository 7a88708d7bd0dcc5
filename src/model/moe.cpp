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
  const SwiGluRun run{&w, x, n, out};
  forward_many(std::span<const SwiGluRun>(&run, 1));
}

void SwiGlu::forward_many(std::span<const SwiGluRun> runs) {
  int64_t total = 0;  // gate/up floats over all runs
  for (const SwiGluRun& r : runs) total += r.m * r.w->gate.rows;
  float* g = gate_.get(total);
  float* u = up_.get(total);
  jobs_.clear();
  int64_t at = 0;
  for (const SwiGluRun& r : runs) {
    const int64_t width = r.w->gate.rows, hidden = r.w->gate.cols;
    jobs_.push_back({r.w->gate, r.x, hidden, r.m, g + at, width});
    jobs_.push_back({r.w->up, r.x, hidden, r.m, u + at, width});
    at += r.m * width;
  }
  ops::matmul_batch(jobs_, pool_, precision_);
  ops::silu_mul(g, u, total, g);
  jobs_.clear();
  at = 0;
  for (const SwiGluRun& r : runs) {
    const int64_t width = r.w->gate.rows, hidden = r.w->gate.cols;
    jobs_.push_back({r.w->down, g + at, width, r.m, r.out, hidden});
    at += r.m * width;
  }
  ops::matmul_batch(jobs_, pool_, precision_);
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

  // Experts over a few tokens each (decode) run together, one batch of
  // products for all; an expert over many tokens (prefill) runs alone.
  // The sum keeps one order: the shared expert writes out, then the routed
  // experts add to it in expert order.
  runs_.clear();
  run_experts_.clear();
  int64_t gathered = 0;  // tokens gathered for the pending runs
  const auto flush = [&] {
    mlp_.forward_many(runs_);
    for (std::size_t k = 0; k < runs_.size(); ++k) {
      if (run_experts_[k] < 0) continue;
      const auto& slots = by_expert_[run_experts_[k]];
      for (std::size_t r = 0; r < slots.size(); ++r)
        ops::axpy(routing_.weights[slots[r]], runs_[k].out + static_cast<int64_t>(r) * hidden,
                  out + slots[r] / top_k * hidden, hidden);
    }
    runs_.clear();
    run_experts_.clear();
    gathered = 0;
  };
  if (w.has_shared) {
    runs_.push_back({&w.shared, x, n, out});
    run_experts_.push_back(-1);
    if (n > ops::kMatvecRows) flush();
  } else {
    std::memset(out, 0, static_cast<std::size_t>(n * hidden) * sizeof(float));
  }
  // room for every routed slot, so gathered rows stay put until their flush
  float* xs = gathered_.get(n * top_k * hidden);
  float* ys = expert_out_.get(n * top_k * hidden);
  for (int64_t e = 0; e < ne; ++e) {
    const auto& slots = by_expert_[e];
    if (slots.empty()) continue;
    const int64_t m = static_cast<int64_t>(slots.size());
    if (m > ops::kMatvecRows && !runs_.empty()) flush();
    float* xe = xs + gathered * hidden;
    for (int64_t r = 0; r < m; ++r) std::copy(x + slots[r] / top_k * hidden, x + (slots[r] / top_k + 1) * hidden, xe + r * hidden);
    runs_.push_back({&w.experts[e], xe, m, ys + gathered * hidden});
    run_experts_.push_back(e);
    gathered += m;
    if (m > ops::kMatvecRows) flush();
  }
  if (!runs_.empty()) flush();
}

}  // namespace dsv3
