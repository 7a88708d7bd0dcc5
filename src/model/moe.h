// DeepSeek-V3 feed-forward: the dense SwiGLU MLP and the mixture of experts
// with sigmoid routing, bias-corrected group-limited top-k and shared experts.
#pragma once
#include <cstdint>
#include <span>
#include <vector>

#include "model/buffer.h"
#include "model/config.h"
#include "model/weights.h"
#include "ops/matmul.h"

namespace dsv3 {
class ThreadPool;

// One SwiGLU product: out[m][hidden] = down(silu(gate x) * up x).
struct SwiGluRun {
  const SwiGluWeights* w = nullptr;
  const float* x = nullptr;  // [m][hidden]
  int64_t m = 0;
  float* out = nullptr;      // [m][hidden]
};

class SwiGlu {
 public:
  explicit SwiGlu(ThreadPool* pool) : pool_(pool) {}
  void forward(const SwiGluWeights& w, const float* x, int64_t n, float* out);
  // Several MLPs (the experts of a MoE layer): their gate and up products go
  // in one batch, then their down products in another.
  void forward_many(std::span<const SwiGluRun> runs);
  void set_precision(ops::Precision p) { precision_ = p; }

 private:
  ThreadPool* pool_;
  ops::Precision precision_ = ops::Precision::kExact;
  Buffer gate_, up_;
  std::vector<ops::MatmulJob> jobs_;
};

struct Routing {
  std::vector<int32_t> experts;  // [n][top_k]
  std::vector<float> weights;    // [n][top_k]
};

// The router of one token: scores s = sigmoid(logits); the choice uses
// s + bias, limited to the topk_group groups with the best top-2 sums; the
// weights are the chosen s, normalised, times routed_scaling_factor.
void route_token(const ModelConfig& cfg, const float* logits, const std::vector<float>& bias, int32_t* experts,
                 float* weights);

class Moe {
 public:
  Moe(const ModelConfig& cfg, ThreadPool* pool);
  // out[n][hidden] = sum of routed experts + shared experts, for normalised x.
  void forward(const MoeWeights& w, const float* x, int64_t n, float* out);
  // The experts' products; the router stays exact (a flipped choice costs more).
  void set_precision(ops::Precision p) { mlp_.set_precision(p); }

 private:
  const ModelConfig& cfg_;
  ThreadPool* pool_;
  SwiGlu mlp_;
  Buffer logits_, gathered_, expert_out_;
  Routing routing_;
  std::vector<SwiGluRun> runs_;
  std::vector<int64_t> run_experts_;  // per run: its expert, or -1 for the shared one
  std::vector<std::vector<int64_t>> by_expert_;  // per expert: slots (token * top_k + k)
};

}  // namespace dsv3
