#include "ops/attention.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "ops/cpu/kernels.h"
#include "ops/vec.h"

namespace dsv3::ops {

namespace {
constexpr int64_t kKeyBlock = 128;
}  // namespace

int64_t shared_kv_attention_scratch(int64_t nq) { return nq * (kKeyBlock + 2); }

void shared_kv_attention(const SharedKvAttention& a, float* scratch) {
  float* run_max = scratch + a.nq * kKeyBlock;  // [nq]
  float* run_sum = run_max + a.nq;              // [nq]
  shared_kv_attention_partial(a, scratch, run_max, run_sum);
  for (int64_t h = 0; h < a.nq; ++h) scale(1.0f / run_sum[h], a.out + h * a.ldo, a.dv);
}

void shared_kv_attention_partial(const SharedKvAttention& a, float* scratch, float* run_max, float* run_sum) {
  const cpu::KernelTable& kt = cpu::kernels();
  float* scores = scratch;  // [nq][kKeyBlock]
  for (int64_t h = 0; h < a.nq; ++h) {
    run_max[h] = -std::numeric_limits<float>::infinity();
    run_sum[h] = 0.0f;
    std::memset(a.out + h * a.ldo, 0, a.dv * sizeof(float));
  }
  const int64_t row_bytes = static_cast<int64_t>(dtype_size(a.kv_dtype)) * a.ldkv;
  for (int64_t kb = 0; kb < a.n_kv; kb += kKeyBlock) {
    const cpu::KvRows rows{static_cast<const char*>(a.kv) + kb * row_bytes, a.kv_dtype, a.ldkv,
                           std::min(kKeyBlock, a.n_kv - kb)};
    kt.attention_scores(a.q, a.ldq, a.nq, a.dk, rows, a.scale, scores, kKeyBlock);
    // online softmax: rescale what was accumulated when the running max grows
    for (int64_t h = 0; h < a.nq; ++h) {
      float* s = scores + h * kKeyBlock;
      const float m = std::max(run_max[h], *std::max_element(s, s + rows.n));
      const float correction = std::exp(run_max[h] - m);
      const float sum = kt.exp_sum(s, rows.n, m);
      if (correction != 1.0f) scale(correction, a.out + h * a.ldo, a.dv);
      run_sum[h] = run_sum[h] * correction + sum;
      run_max[h] = m;
    }
    kt.attention_values(scores, kKeyBlock, a.nq, a.dv, rows, a.out, a.ldo);
  }
}

void merge_attention_partials(int64_t nq, int64_t dv, int64_t parts, const float* outs, int64_t part_stride,
                              const float* maxes, const float* sums, float* out, int64_t ldo) {
  for (int64_t h = 0; h < nq; ++h) {
    float m = -std::numeric_limits<float>::infinity();
    for (int64_t p = 0; p < parts; ++p) m = std::max(m, maxes[p * nq + h]);
    float total = 0.0f;
    float* o = out + h * ldo;
    std::memset(o, 0, dv * sizeof(float));
    for (int64_t p = 0; p < parts; ++p) {
      const float w = std::exp(maxes[p * nq + h] - m);  // 0 for a part with no keys
      if (w == 0.0f) continue;
      total += w * sums[p * nq + h];
      axpy(w, outs + p * part_stride + h * dv, o, dv);
    }
    scale(1.0f / total, o, dv);
  }
}

}  // namespace dsv3::ops
