// Multi-head latent attention (DeepSeek-V2/V3) over the latent cache, with the
// key and value up-projections absorbed into the query and the output.
#pragma once
#include <cstdint>

#include "base/status.h"
#include "model/config.h"
#include "model/weights.h"
#include "ops/backend.h"

namespace dsv3 {

// The rotary embedding of the model's shared key (YaRN when configured).
ops::Rope mla_rope(const ModelConfig& c);

class MlaAttention {
 public:
  explicit MlaAttention(const ModelConfig& cfg);

  // x: [n][hidden] normalised inputs of the backend's current batch (each
  // token's earlier positions already cached; the caches have room). Appends
  // their latents to cache layer `layer` and writes the attention output
  // (after o_proj) to out [n][hidden].
  Status forward(ops::Backend& be, const AttentionWeights& w, const float* x, int64_t n, int64_t layer, float* out,
                 ops::Precision precision);

 private:
  const ModelConfig& cfg_;
  ops::Rope rope_;
  float softmax_scale_;
};

}  // namespace dsv3
