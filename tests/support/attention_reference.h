// References for attention over a shared key/value sequence: the definition
// in double, and the CPU op over plain contiguous rows (what the GPU ops are
// compared with).
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "ops/attention.h"

namespace dsv3::test {

// out[h][c] = sum_j softmax_j(scale * q_h . kv_j[0:dk]) * kv_j[c] for c < dv,
// q [nq][dk], kv rows ldkv apart; [nq][dv] in double.
inline std::vector<double> attention_reference(const float* q, int64_t nq, int64_t dk, const float* kv, int64_t ldkv,
                                               int64_t n_kv, int64_t dv, double scale) {
  std::vector<double> out(static_cast<std::size_t>(nq * dv), 0.0), s(static_cast<std::size_t>(n_kv));
  for (int64_t h = 0; h < nq; ++h) {
    double mx = -1e300, total = 0.0;
    for (int64_t j = 0; j < n_kv; ++j) {
      double d = 0.0;
      for (int64_t e = 0; e < dk; ++e) d += double(q[h * dk + e]) * kv[j * ldkv + e];
      mx = std::max(mx, s[j] = scale * d);
    }
    for (auto& v : s) total += (v = std::exp(v - mx));
    for (int64_t c = 0; c < dv; ++c) {
      double r = 0.0;
      for (int64_t j = 0; j < n_kv; ++j) r += s[j] / total * kv[j * ldkv + c];
      out[h * dv + c] = r;
    }
  }
  return out;
}

// ops::shared_kv_attention over q [nq][width] and f32 kv [n_kv][width]
// (values the first dv of each row): [nq][dv].
inline std::vector<float> cpu_attention(const float* q, int64_t nq, const float* kv, int64_t n_kv, int64_t width,
                                        int64_t dv, float scale) {
  std::vector<float> out(static_cast<std::size_t>(nq * dv));
  std::vector<float> scratch(static_cast<std::size_t>(ops::shared_kv_attention_scratch(nq)));
  const ops::SharedKvAttention a{q, width, nq, kv, width, n_kv, width, dv, scale, out.data(), dv};
  ops::shared_kv_attention(a, scratch.data());
  return out;
}

}  // namespace dsv3::test
