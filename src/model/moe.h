// DeepSeek-V3 feed-forward: the dense SwiGLU MLP and the mixture of experts
// with sigmoid routing, bias-corrected group-limited top-k and shared experts.
#pragma once
#include <cstdint>
#include <vector>

#include "base/status.h"
#include "model/config.h"
#include "model/weights.h"
#include "ops/backend.h"

namespace dsv3 {

// out[n][hidden] = down(silu(gate x) * up x) for normalised x.
Status dense_mlp(ops::Backend& be, const SwiGluWeights& w, const float* x, int64_t n, float* out,
                 ops::Precision precision);

// The router of the config: scores s = sigmoid(logits); the choice uses
// s + bias, limited to the topk_group groups with the best top-2 sums; the
// weights are the chosen s, normalised, times routed_scaling_factor.
ops::TopKRouting moe_routing(const ModelConfig& cfg);
// One token's choice (the plain reference the device routers are tested against).
void route_token(const ModelConfig& cfg, const float* logits, const std::vector<float>& bias, int32_t* experts,
                 float* weights);

// out[n][hidden] = shared experts + routed experts, for normalised x. The
// router stays exact whatever `precision` says (a flipped choice costs more).
Status moe(ops::Backend& be, const ModelConfig& cfg, const MoeWeights& w, const float* x, int64_t n, float* out,
           ops::Precision precision);

}  // namespace dsv3
