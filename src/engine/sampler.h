// Turning logits into the next token: logit bias, repetition / frequency /
// presence penalties, then greedy, or temperature with top-k, top-p and
// min-p filters and a seeded draw. Scratch is sized once per vocabulary.
#pragma once
#include <cstdint>
#include <optional>
#include <random>
#include <span>
#include <utility>
#include <vector>

#include "base/status.h"

namespace dsv3 {

struct SamplingParams {
  float temperature = 1.0f;         // 0: greedy
  int32_t top_k = 0;                // 0: off
  float top_p = 1.0f;               // 1: off
  float min_p = 0.0f;               // 0: off
  float repetition_penalty = 1.0f;  // > 1 discourages tokens seen in prompt or output (CTRL / HF rule)
  float frequency_penalty = 0.0f;   // OpenAI: minus penalty * count in output
  float presence_penalty = 0.0f;    // OpenAI: minus penalty if present in output
  std::vector<std::pair<int32_t, float>> logit_bias;
  std::optional<uint64_t> seed;     // same seed, same output

  bool greedy() const { return temperature <= 0.0f; }
  // Names the first out-of-range field.
  Status validate(int64_t vocab_size) const;
};

class Sampler {
 public:
  Sampler(const SamplingParams& params, int64_t vocab_size);

  // Records context tokens (the prompt) for the repetition penalty. The ids
  // are in the vocabulary: they were checked where the job came in.
  void observe_prompt(std::span<const int32_t> ids);
  // Picks a token from raw logits (not modified) and records it as output.
  // allowed: if set, one bit per token id; only those may be drawn (at least one is set).
  int32_t sample(const float* logits, const uint64_t* allowed = nullptr);
  // The distribution the last sample was drawn from: probability of each
  // token after bias, penalties, temperature and filters (0 where filtered).
  float last_probability(int32_t token) const;

  const SamplingParams& params() const { return p_; }

 private:
  void apply_bias_and_penalties(float* logits) const;
  int32_t draw(float* logits);

  SamplingParams p_;
  int64_t vocab_;
  std::mt19937_64 rng_;
  std::vector<int32_t> output_count_;   // per token, in the output so far
  std::vector<uint8_t> seen_;           // per token, in prompt or output
  std::vector<int32_t> touched_;        // tokens with nonzero count or seen
  std::vector<float> work_;             // processed logits
  std::vector<float> prob_;             // per token id, over the candidates
  std::vector<int32_t> order_;          // candidate indices
  std::vector<double> bucket_mass_;     // top-p without a full sort
  int32_t last_token_ = -1;
  float last_prob_ = 1.0f;
};

}  // namespace dsv3
