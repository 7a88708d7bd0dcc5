#include "ops/attention.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "ops/vec.h"

namespace dsv3::ops {

namespace {
constexpr int64_t kKeyBlock = 128;
}

int64_t shared_kv_attention_scratch(int64_t nq) { return nq * (kKeyBlock + 2); }

void shared_kv_attention(const SharedKvAttention& a, float* scratch) {
  float* scores = scratch;                    // [nq][kKeyBlock]
  float* run_max = scratch + a.nq * kKeyBlock; // [nq]
  float* run_sum = run_max + a.nq;             // [nq]
  for (int64_t h = 0; h < a.nq; ++h) {
    run_max[h] = -std::numeric_limits<float>::infinity();
    run_sum[h] = 0.0f;
    std::memset(a.out + h * a.ldo, 0, a.dv * sizeof(float));
  }
  for (int64_t kb = 0; kb < a.n_kv; kb += kKeyBlock) {
    const int64_t nk = std::min(kKeyBlock, a.n_kv - kb);
    // scores for this block, every query row against each key row loaded once
    for (int64_t j = 0; j < nk; ++j) {
      const float* key = a.kv + (kb + j) * a.ldkv;
      for (int64_t h = 0; h < a.nq; ++h) scores[h * kKeyBlock + j] = dot(a.q + h * a.ldq, key, a.dk) * a.scale;
    }
    for (int64_t h = 0; h < a.nq; ++h) {
      float* s = scores + h * kKeyBlock;
      float m = run_max[h];
      for (int64_t j = 0; j < nk; ++j) m = std::max(m, s[j]);
      const float correction = std::exp(run_max[h] - m);  // rescales what was summed so far
      float sum = 0.0f;
      for (int64_t j = 0; j < nk; ++j) {
        s[j] = std::exp(s[j] - m);
        sum += s[j];
      }
      float* o = a.out + h * a.ldo;
      if (correction != 1.0f) scale(correction, o, a.dv);
      run_sum[h] = run_sum[h] * correction + sum;
      run_max[h] = m;
    }
    for (int64_t j = 0; j < nk; ++j) {
      const float* value = a.kv + (kb + j) * a.ldkv;
      for (int64_t h = 0; h < a.nq; ++h) axpy(scores[h * kKeyBlock + j], value, a.out + h * a.ldo, a.dv);
    }
  }
  for (int64_t h = 0; h < a.nq; ++h) scale(1.0f / run_sum[h], a.out + h * a.ldo, a.dv);
}

}  // namespace dsv3::ops
