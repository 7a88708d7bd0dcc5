#include "model/moe.h"

#include "model/scratch_slots.h"

namespace dsv3 {

Status dense_mlp(ops::Backend& be, const SwiGluWeights& w, const float* x, int64_t n, float* out,
                 ops::Precision precision) {
  const int64_t width = w.gate.rows, hidden = w.gate.cols;
  DSV3_ASSIGN_OR_RETURN(float* g, be.scratch_as<float>(kMlpGate, n * width));
  DSV3_ASSIGN_OR_RETURN(float* u, be.scratch_as<float>(kMlpUp, n * width));
  const ops::MatmulJob gate_up[] = {{w.gate, x, hidden, n, g, width}, {w.up, x, hidden, n, u, width}};
  DSV3_RETURN_IF_ERROR(be.matmul(gate_up, precision));
  DSV3_RETURN_IF_ERROR(be.silu_mul(g, u, n * width, g));
  const ops::MatmulJob down{w.down, g, width, n, out, hidden};
  return be.matmul({&down, 1}, precision);
}

ops::TopKRouting moe_routing(const ModelConfig& c) {
  return ops::TopKRouting{.experts = c.n_routed_experts, .groups = c.n_group, .topk_group = c.topk_group,
                          .top_k = c.num_experts_per_tok, .normalize = c.norm_topk_prob,
                          .scale = static_cast<float>(c.routed_scaling_factor)};
}

void route_token(const ModelConfig& c, const float* logits, const std::vector<float>& bias, int32_t* experts,
                 float* weights) {
  ops::route_top_k(moe_routing(c), logits, bias, experts, weights);
}

Status moe(ops::Backend& be, const ModelConfig& c, const MoeWeights& w, const float* x, int64_t n, float* out,
           ops::Precision precision) {
  const int64_t hidden = c.hidden_size, ne = c.n_routed_experts, top_k = c.num_experts_per_tok;
  DSV3_ASSIGN_OR_RETURN(float* logits, be.scratch_as<float>(kRouterLogits, n * ne));
  DSV3_ASSIGN_OR_RETURN(int32_t* ids, be.scratch_as<int32_t>(kExpertIds, n * top_k));
  DSV3_ASSIGN_OR_RETURN(float* weights, be.scratch_as<float>(kExpertWeights, n * top_k));
  const ops::MatmulJob router{w.router, x, hidden, n, logits, ne};
  DSV3_RETURN_IF_ERROR(be.matmul({&router, 1}, ops::Precision::kExact));
  DSV3_RETURN_IF_ERROR(be.route(moe_routing(c), logits, n, w.router_bias, ids, weights));
  const ops::ExpertMix mix{.experts = w.experts, .first = w.owned.begin, .end = w.owned.end,
                           .shared = w.has_shared ? &w.shared : nullptr, .x = x, .hidden = hidden, .n = n,
                           .top_k = top_k, .ids = ids, .weights = weights, .out = out};
  return be.experts(mix, precision);
}

}  // namespace dsv3
