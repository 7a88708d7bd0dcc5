// Multi-head latent attention (DeepSeek-V2/V3) over the latent cache, with the
// key and value up-projections absorbed into the query and the output.
#pragma once
#include <cstdint>
#include <span>

#include "model/buffer.h"
#include "model/config.h"
#include "model/latent_cache.h"
#include "model/weights.h"
#include "ops/matmul.h"
#include "ops/rope.h"

namespace dsv3 {
class ThreadPool;

// Where one token of a batch lives: its position and its sequence's cache.
struct TokenSlot {
  int64_t pos;
  LatentCache* cache;
};

class MlaAttention {
 public:
  MlaAttention(const ModelConfig& cfg, ThreadPool* pool);

  // x: [n][hidden] normalised inputs, token i at rows[i] (its sequence's
  // earlier positions already cached; the caches have room). Appends their
  // latents to cache layer `layer` and writes the attention output (after
  // o_proj) to out [n][hidden].
  void forward(const AttentionWeights& w, const float* x, std::span<const TokenSlot> rows, int64_t layer,
               float* out);
  void set_precision(ops::Precision p) { precision_ = p; }

 private:
  const ModelConfig& cfg_;
  ThreadPool* pool_;
  ops::Precision precision_ = ops::Precision::kExact;
  ops::Rope rope_;
  float softmax_scale_;
  Buffer q_a_, q_, kv_, q_abs_, latent_out_, head_out_, attn_scratch_, parts_;
};

}  // namespace dsv3
