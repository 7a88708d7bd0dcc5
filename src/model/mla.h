// Multi-head latent attention (DeepSeek-V2/V3) over the latent cache, with the
// key and value up-projections absorbed into the query and the output.
#pragma once
#include <cstdint>

#include "model/buffer.h"
#include "model/config.h"
#include "model/latent_cache.h"
#include "model/weights.h"
#include "ops/rope.h"

namespace dsv3 {
class ThreadPool;

class MlaAttention {
 public:
  MlaAttention(const ModelConfig& cfg, ThreadPool* pool);

  // x: [n][hidden] normalised inputs at positions start..start+n-1. Appends
  // their latents to cache layer `layer` and writes the attention output
  // (after o_proj) to out [n][hidden].
  void forward(const AttentionWeights& w, const float* x, int64_t n, int64_t start, LatentCache& cache,
               int64_t layer, float* out);

 private:
  const ModelConfig& cfg_;
  ThreadPool* pool_;
  ops::Rope rope_;
  float softmax_scale_;
  Buffer q_a_, q_, kv_, q_abs_, latent_out_, head_out_, attn_scratch_;
};

}  // namespace dsv3
