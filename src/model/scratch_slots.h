// The model's scratch, by slot of its backend (ops::Backend::scratch): one
// list, so that no two parts of a forward pass share a buffer by accident.
#pragma once

namespace dsv3 {

enum ScratchSlot : int {
  kResidual,       // x: the residual stream [n][hidden]
  kNormed,         // its normalised copy
  kBranch,         // a branch's output
  kFinal,          // the final normalised states
  kQueryLatent,    // MLA: q_a output [n][q_lora_rank]
  kQuery,          // MLA: queries [n][heads][nope | rope]
  kNewLatent,      // MLA: new cache rows [n][cache_width]
  kAbsorbedQuery,  // MLA: [n][heads][cache_width]
  kLatentOut,      // MLA: attention output in the latent [n][heads][kv_lora_rank]
  kHeadOut,        // MLA: per-head values [n][heads][v_head_dim]
  kMlpGate,        // dense MLP gate, then silu(gate) * up
  kMlpUp,
  kRouterLogits,   // MoE: [n][experts]
  kExpertIds,      // MoE: [n][top_k]
  kExpertWeights,  // MoE: [n][top_k]
  kLogitsIn,       // logits of a device backend: the hidden states
  kLogitsOut,      // and the logits
};

}  // namespace dsv3
