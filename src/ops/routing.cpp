#include "ops/routing.h"

#include <limits>

#include "ops/activation.h"

namespace dsv3::ops {

void route_top_k(const TopKRouting& r, const float* logits, std::span<const float> bias, int32_t* ids,
                 float* weights) {
  const int64_t ne = r.experts, groups = r.groups, per_group = ne / groups;
  constexpr float kNegInf = -std::numeric_limits<float>::infinity();
  float score[kMaxRoutedExperts], choice[kMaxRoutedExperts], group_score[kMaxRoutedExperts];
  for (int64_t e = 0; e < ne; ++e) {
    score[e] = sigmoid(logits[e]);
    choice[e] = score[e] + (bias.empty() ? 0.0f : bias[e]);
  }
  if (groups > 1) {
    for (int64_t g = 0; g < groups; ++g) {
      // a group's score: the sum of its two best choice values
      float best = kNegInf, second = kNegInf;
      for (int64_t e = g * per_group; e < (g + 1) * per_group; ++e) {
        if (choice[e] > best) {
          second = best;
          best = choice[e];
        } else if (choice[e] > second) {
          second = choice[e];
        }
      }
      group_score[g] = per_group >= 2 ? best + second : best;
    }
    bool keep[kMaxRoutedExperts] = {};
    for (int64_t k = 0; k < r.topk_group; ++k) {
      int64_t arg = -1;
      for (int64_t g = 0; g < groups; ++g)
        if (!keep[g] && (arg < 0 || group_score[g] > group_score[arg])) arg = g;
      keep[arg] = true;
    }
    for (int64_t e = 0; e < ne; ++e)
      if (!keep[e / per_group]) choice[e] = kNegInf;
  }
  float sum = 0.0f;
  for (int64_t k = 0; k < r.top_k; ++k) {
    int64_t arg = -1;
    for (int64_t e = 0; e < ne; ++e)
      if (choice[e] != kNegInf && (arg < 0 || choice[e] > choice[arg])) arg = e;
    ids[k] = static_cast<int32_t>(arg);
    weights[k] = score[arg];
    choice[arg] = kNegInf;
    sum += score[arg];
  }
  const float norm = r.normalize ? 1.0f / (sum + 1e-20f) : 1.0f;
  for (int64_t k = 0; k < r.top_k; ++k) weights[k] = weights[k] * norm * r.scale;
}

}  // namespace dsv3::ops
