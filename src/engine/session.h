// One sequence evaluated by a caller that drives the model itself: its latent
// cache, position and last logits. Beam search forks it; `logits` and bench
// read its rows. (Generation goes through Sequence on a Scheduler.) Prefill
// in chunks and token-by-token decode go through the same forward pass.
#pragma once
#include <cstdint>
#include <span>
#include <vector>

#include "base/status.h"
#include "model/latent_cache.h"
#include "model/forward_pass.h"

namespace dsv3 {

class Session {
 public:
  // chunk: the most tokens per forward call during prefill (<= 0: all at
  // once); cache_dtype: F32 (exact) or F16 (half the cache bytes).
  Session(ForwardPass& model, int64_t chunk = 512, DType cache_dtype = DType::F32);

  int64_t position() const { return pos_; }
  int64_t vocab_size() const { return vocab_; }

  // Feeds ids after what is already in the cache. If all_logits is set it
  // receives one row per id ([ids][vocab]); the last row is kept either way.
  Status append(std::span<const int32_t> ids, std::vector<float>* all_logits = nullptr);
  // Logits after the last appended token.
  const std::vector<float>& last_logits() const { return last_logits_; }

 private:
  ForwardPass& model_;  // a Session can be copied: beams fork this way
  int64_t chunk_;
  int64_t vocab_, width_;
  LatentCache cache_;
  int64_t pos_ = 0;
  std::vector<float> states_, last_logits_;
};

// Greedy continuation: max_tokens argmax tokens after the prompt.
Result<std::vector<int32_t>> generate_greedy(Session& s, std::span<const int32_t> prompt, int64_t max_tokens);

int32_t argmax(const float* v, int64_t n);

}  // namespace dsv3
