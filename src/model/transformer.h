// The DeepSeek-V3 decoder: embedding, layers of (RMSNorm, MLA, residual,
// RMSNorm, dense MLP or MoE, residual), final RMSNorm, lm_head. Written once,
// over the ops of a backend (ops::Backend): the CPU, or any device backend.
#pragma once
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "base/status.h"
#include "model/forward_pass.h"
#include "model/latent_cache.h"
#include "model/mla.h"
#include "model/model.h"
#include "ops/backend.h"

namespace dsv3 {
class ThreadPool;
namespace dist {
class Communicator;
}

class Transformer : public ForwardPass {
 public:
  // Over `backend`, which must outlive this.
  Transformer(const Model& model, ops::Backend& backend);
  // Over a CPU backend of its own, on `pool`'s threads. A model split across
  // ranks (model.shard) computes its part and sums the parts over `comm`:
  // every rank then runs the same passes, in step (see model/rank_steps.h).
  Transformer(const Model& model, ThreadPool* pool, dist::Communicator* comm = nullptr);
  ~Transformer() override;

  const ModelConfig& config() const override { return model_.config; }
  std::string device() const override { return be_.device(); }
  LatentCache make_cache(int64_t capacity = 0, DType dtype = DType::F32) const override;

  using ForwardPass::forward;
  Status forward(std::span<const SequenceChunk> batch, float* hidden_out,
                 const LayerObserver* observer = nullptr) override;
  Status logits(const float* hidden, int64_t n, float* out) override;

  // The part of the model this process computes.
  const Shard& shard() const { return model_.shard; }
  const Model& model() const { return model_; }

  // The weight products of prefill (see ops::Precision); exact by default.
  void set_precision(ops::Precision p) { precision_ = p; }
  ops::Precision precision() const { return precision_; }

 private:
  Status layers(int64_t n, float* final_out, const LayerObserver* observer);
  Status observe(const LayerObserver& observer, int64_t k, const float* x, int64_t n);
  // x[0:count] summed over the ranks (a no-op for one process).
  Status sum_parts(float* x, int64_t count);
  Status split_logits(const float* hidden, int64_t n, float* out);

  const Model& model_;
  std::unique_ptr<ops::Backend> owned_;
  ops::Backend& be_;
  ops::Precision precision_ = ops::Precision::kExact;
  MlaAttention attention_;
  std::vector<int32_t> ids_;               // the batch's tokens, in order
  std::vector<ops::TokenPlace> places_;    // and where each lives
  std::vector<float> observed_;            // a device's residual stream, for an observer
  dist::Communicator* comm_ = nullptr;     // the ranks of a split model
  std::vector<float> parts_;               // every rank's part of a sum
  std::vector<float> local_logits_, gathered_logits_;
  std::vector<int64_t> gather_counts_;
};

}  // namespace dsv3
