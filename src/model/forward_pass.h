// What the engine needs from a model implementation (the CPU Transformer, or
// a GPU backend): caches of its own kind, a batched forward pass over several
// sequences, and logits. The engine (sessions, batching, sampling) is written
// against this and never sees how or where the model computes.
#pragma once
#include <cstdint>
#include <functional>
#include <span>
#include <string>

#include "base/status.h"
#include "model/config.h"
#include "model/latent_cache.h"

namespace dsv3 {

// Consecutive tokens of one sequence: ids at positions start..start+n-1 of
// the sequence held by cache (positions before start must already be there).
struct SequenceChunk {
  std::span<const int32_t> ids;
  int64_t start = 0;
  LatentCache* cache = nullptr;
};

// Checks a batch against a model before it runs: positions (none past what
// its cache holds), cache shapes, each cache at most once, token ids in the
// vocabulary. Returns the token count.
Result<int64_t> check_batch(const ModelConfig& c, std::span<const SequenceChunk> batch);
// After a pass succeeded: its caches hold its positions now.
void mark_written(std::span<const SequenceChunk> batch);

// Sees the residual stream after each layer, in host memory: k = 0 is the
// embedding output, k = L the final normalised state. For debugging and the
// per-layer golden tests, on any backend.
using LayerObserver = std::function<void(int64_t k, const float* hidden, int64_t n)>;

class ForwardPass {
 public:
  virtual ~ForwardPass() = default;

  virtual const ModelConfig& config() const = 0;
  virtual std::string device() const = 0;  // "cpu", "cuda:0", ...
  // An empty cache for one sequence, stored where this implementation computes.
  virtual LatentCache make_cache(int64_t capacity = 0, DType dtype = DType::F32) const = 0;

  // Several sequences in one pass (continuous batching): every weight is read
  // once for all their tokens; attention stays within each sequence. Writes
  // the final normalised hidden states, rows following the chunks in order,
  // to host memory hidden_out [tokens][hidden_size]. Each cache may appear
  // once. An observer (optional) sees the residual stream after each layer.
  virtual Status forward(std::span<const SequenceChunk> batch, float* hidden_out,
                         const LayerObserver* observer = nullptr) = 0;
  // logits[n][vocab] = hidden W_lm^T (host memory in and out).
  virtual Status logits(const float* hidden, int64_t n, float* out) = 0;
  // Whether passes can still run: an error once they cannot (a model split
  // across processes, one of which died). Servers report it as unhealthy.
  virtual Status health() const { return {}; }

  // One sequence.
  Status forward(std::span<const int32_t> ids, int64_t start, LatentCache& cache, float* hidden_out,
                 const LayerObserver* observer = nullptr) {
    const SequenceChunk chunk{ids, start, &cache};
    return forward(std::span<const SequenceChunk>(&chunk, 1), hidden_out, observer);
  }
};

}  // namespace dsv3
