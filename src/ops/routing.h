// Mixture-of-experts routing by sigmoid scores with a choice bias and
// group-limited top-k (the aux-loss-free balancing of DeepSeek-V3, written
// for any expert count): scores s = sigmoid(logit); the choice ranks s + bias
// among the topk_group groups whose two best choice values sum highest; the
// weights are the chosen s (normalised if asked) times a scale.
#pragma once
#include <cstdint>
#include <span>

namespace dsv3::ops {

// The most experts one router holds (work arrays are fixed-size: routing runs
// per token, so no heap there). Backends check it when they load a model.
constexpr int64_t kMaxRoutedExperts = 1024;

struct TopKRouting {
  int64_t experts = 0;     // logits per token
  int64_t groups = 1;      // experts / groups per group
  int64_t topk_group = 1;  // groups kept
  int64_t top_k = 1;       // experts chosen per token
  bool normalize = true;   // chosen scores divided by their sum
  float scale = 1.0f;      // then multiplied by this
};

// One token: logits[experts], bias[experts] or empty -> ids[top_k], weights[top_k].
void route_top_k(const TopKRouting& r, const float* logits, std::span<const float> bias, int32_t* ids,
                 float* weights);

}  // namespace dsv3::ops
