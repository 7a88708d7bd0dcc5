// The DeepSeek-V3 decoder: embedding, layers of (RMSNorm, MLA, residual,
// RMSNorm, dense MLP or MoE, residual), final RMSNorm, lm_head.
#pragma once
#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "base/status.h"
#include "model/buffer.h"
#include "model/forward_pass.h"
#include "model/latent_cache.h"
#include "model/mla.h"
#include "model/model.h"
#include "model/moe.h"

namespace dsv3 {
class ThreadPool;

// Sees the residual stream after each layer: k = 0 is the embedding output,
// k = L the final normalised state. For debugging and the golden tests.
using LayerObserver = std::function<void(int64_t k, const float* hidden, int64_t n)>;


// The CPU implementation.
class Transformer : public ForwardPass {
 public:
  Transformer(const Model& model, ThreadPool* pool);

  const ModelConfig& config() const override { return model_.config; }
  std::string device() const override { return "cpu"; }
  LatentCache make_cache(int64_t capacity = 0, DType dtype = DType::F32) const override;

  using ForwardPass::forward;
  Status forward(std::span<const SequenceChunk> batch, float* hidden_out) override {
    return forward(batch, hidden_out, nullptr);
  }
  // The same, showing the observer the residual stream after each layer.
  Status forward(std::span<const SequenceChunk> batch, float* hidden_out, const LayerObserver* observer);
  Status forward(std::span<const int32_t> ids, int64_t start, LatentCache& cache, float* hidden_out,
                 const LayerObserver* observer);

  void logits(const float* hidden, int64_t n, float* out) override;

  // The weight products of prefill (see ops::Precision); exact by default.
  void set_precision(ops::Precision p);
  ops::Precision precision() const { return precision_; }

 private:
  const Model& model_;
  ThreadPool* pool_;
  ops::Precision precision_ = ops::Precision::kExact;
  MlaAttention attention_;
  SwiGlu dense_;
  Moe moe_;
  Buffer x_, normed_, branch_;
  std::vector<TokenSlot> rows_;  // per token: position and cache
};

}  // namespace dsv3
