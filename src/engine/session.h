// One sequence being evaluated: its latent cache and position. Prefill in
// chunks and token-by-token decode go through the same forward pass.
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
  const std::vector<int32_t>& tokens() const { return tokens_; }
  void reset() { truncate(0); }
  // Forgets everything after the first n tokens (their cache rows get overwritten).
  void truncate(int64_t n);
  // Keeps the longest common prefix with `ids` (at most ids.size() - 1 tokens,
  // so that appending the rest yields fresh logits); returns its length.
  int64_t reuse_prefix(std::span<const int32_t> ids);

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
  std::vector<int32_t> tokens_;  // what the cache holds, position by position
  std::vector<float> states_, last_logits_;
};

// Greedy continuation: max_tokens argmax tokens after the prompt.
Result<std::vector<int32_t>> generate_greedy(Session& s, std::span<const int32_t> prompt, int64_t max_tokens);

int32_t argmax(const float* v, int64_t n);

}  // namespace dsv3
