// The Backend on the CPU: ops over host memory, split over a thread pool,
// through the SIMD kernels that ops/cpu dispatches for this machine.
#pragma once
#include <cstdint>
#include <span>
#include <vector>

#include "ops/backend.h"
#include "ops/host_row_cache.h"

namespace dsv3 {
class ThreadPool;
}

namespace dsv3::ops {

class CpuBackend final : public Backend {
 public:
  explicit CpuBackend(ThreadPool* pool);

  std::string device() const override { return "cpu"; }
  bool host_memory() const override { return true; }
  std::unique_ptr<RowCache> make_cache(int64_t layers, int64_t width, DType dtype) const override;

  Result<void*> scratch(int slot, int64_t bytes) override;
  Status upload(const void* host, void* device, int64_t bytes) override;
  Status download(const void* device, void* host, int64_t bytes) override;

  Status begin_batch(std::span<const int32_t> ids, std::span<const TokenPlace> places) override;
  Status finish() override { return {}; }

  Status embed(const Matrix& table, float* out) override;
  Status rmsnorm(const float* x, int64_t ldx, std::span<const float> weight, int64_t rows, float eps, float* out,
                 int64_t ldo) override;
  Status matmul(std::span<const MatmulJob> jobs, Precision precision) override;
  Status grouped_matmul(const GroupedProduct& g, Precision precision) override;
  Status rope(const Rope& rope, float* x, int64_t ld, int64_t per_token) override;
  Status copy(const float* x, int64_t ldx, int64_t rows, int64_t cols, float* y, int64_t ldy) override;
  Status cache_store(int64_t layer, const float* rows, int64_t ld) override;
  Status cached_attention(const CachedAttention& a) override;  // cpu_attention.cpp
  Status route(const TopKRouting& r, const float* logits, int64_t n, std::span<const float> bias, int32_t* ids,
               float* weights) override;
  Status experts(const ExpertMix& m, Precision precision) override;  // cpu_experts.cpp
  Status silu_mul(const float* gate, const float* up, int64_t n, float* out) override;
  Status add(const float* x, float* y, int64_t n) override;

 private:
  // One SwiGLU product of `experts`: out[m][hidden] = mlp(x[m][hidden]).
  struct MlpRun {
    const GatedMlp* w = nullptr;
    const float* x = nullptr;
    int64_t m = 0;
    float* out = nullptr;
  };
  // Several MLPs: their gate and up products in one batch, then their down products in another.
  void run_mlps(std::span<const MlpRun> runs, Precision precision);
  float* buffer(std::vector<float>& b, int64_t floats);
  HostRowCache& cache_of(int64_t token) const { return *static_cast<HostRowCache*>(places_[token].cache); }

  ThreadPool* pool_;
  std::vector<std::vector<float>> slots_;  // scratch by slot (floats keep it aligned for f32 and i32)
  std::span<const int32_t> ids_;
  std::span<const TokenPlace> places_;
  // attention
  std::vector<float> attn_scratch_, parts_;
  // experts
  std::vector<float> gate_, up_, gathered_, expert_out_;
  std::vector<MatmulJob> jobs_;
  std::vector<MlpRun> runs_;
  std::vector<int64_t> run_experts_;              // per run: its expert, or -1 for the shared one
  std::vector<std::vector<int64_t>> by_expert_;   // per expert: slots (token * top_k + k)
};

}  // namespace dsv3::ops
