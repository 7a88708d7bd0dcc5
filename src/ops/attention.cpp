#include "ops/attention.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "ops/vec.h"

namespace dsv3::ops {

namespace {
constexpr int64_t kKeyBlock = 128;

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define DSV3_ATTN_CLONES __attribute__((target_clones("avx512f", "avx2,fma", "default")))
#else
#define DSV3_ATTN_CLONES
#endif

// (the helpers are inlined into the clones, so the ABI note does not apply)
#pragma GCC diagnostic ignored "-Wpsabi"
typedef float f8 __attribute__((vector_size(32)));
inline f8 load8(const float* p) {
  f8 v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

// scores[h][j] = scale * q_h . key_j for one block of keys. Four query rows
// share each load of a key, so the loop is bound by arithmetic, not loads.
inline float hsum(f8 v) {
  float s = 0.0f;
  for (int i = 0; i < 8; ++i) s += v[i];
  return s;
}

DSV3_ATTN_CLONES void block_scores(const SharedKvAttention& a, int64_t kb, int64_t nk, float* scores) {
  const int64_t dk = a.dk, d8 = dk / 8 * 8;
  int64_t h = 0;
  for (; h + 4 <= a.nq; h += 4) {
    const float* q = a.q + h * a.ldq;
    for (int64_t j = 0; j < nk; ++j) {
      const float* k = a.kv + (kb + j) * a.ldkv;
      f8 s0{}, s1{}, s2{}, s3{};
      for (int64_t d = 0; d < d8; d += 8) {
        const f8 kv = load8(k + d);
        s0 += load8(q + d) * kv;
        s1 += load8(q + a.ldq + d) * kv;
        s2 += load8(q + 2 * a.ldq + d) * kv;
        s3 += load8(q + 3 * a.ldq + d) * kv;
      }
      float r[4] = {hsum(s0), hsum(s1), hsum(s2), hsum(s3)};
      for (int64_t d = d8; d < dk; ++d)
        for (int i = 0; i < 4; ++i) r[i] += q[i * a.ldq + d] * k[d];
      for (int i = 0; i < 4; ++i) scores[(h + i) * kKeyBlock + j] = r[i] * a.scale;
    }
  }
  for (; h < a.nq; ++h)
    for (int64_t j = 0; j < nk; ++j) scores[h * kKeyBlock + j] = dot(a.q + h * a.ldq, a.kv + (kb + j) * a.ldkv, dk) * a.scale;
}

// out_h[c0, c0+8N) += sum_j p[j] * value_j[c0, c0+8N): the 8N accumulators
// stay in registers across the whole block of keys.
template <int N>
inline void values_tile(const SharedKvAttention& a, int64_t kb, int64_t nk, const float* __restrict p,
                        float* __restrict o, int64_t c0) {
  f8 acc[N];
  for (int t = 0; t < N; ++t) acc[t] = load8(o + c0 + 8 * t);
  for (int64_t j = 0; j < nk; ++j) {
    const float* v = a.kv + (kb + j) * a.ldkv + c0;
    const f8 w = f8{} + p[j];
    for (int t = 0; t < N; ++t) acc[t] += w * load8(v + 8 * t);
  }
  for (int t = 0; t < N; ++t) std::memcpy(o + c0 + 8 * t, &acc[t], sizeof(f8));
}

DSV3_ATTN_CLONES void block_values(const SharedKvAttention& a, int64_t kb, int64_t nk, const float* probs) {
  for (int64_t h = 0; h < a.nq; ++h) {
    const float* p = probs + h * kKeyBlock;
    float* o = a.out + h * a.ldo;
    int64_t c = 0;
    for (; c + 32 <= a.dv; c += 32) values_tile<4>(a, kb, nk, p, o, c);
    for (; c + 8 <= a.dv; c += 8) values_tile<1>(a, kb, nk, p, o, c);
    for (; c < a.dv; ++c)
      for (int64_t j = 0; j < nk; ++j) o[c] += p[j] * a.kv[(kb + j) * a.ldkv + c];
  }
}
}  // namespace

int64_t shared_kv_attention_scratch(int64_t nq) { return nq * (kKeyBlock + 2); }

void shared_kv_attention(const SharedKvAttention& a, float* scratch) {
  float* scores = scratch;                     // [nq][kKeyBlock]
  float* run_max = scratch + a.nq * kKeyBlock;  // [nq]
  float* run_sum = run_max + a.nq;              // [nq]
  for (int64_t h = 0; h < a.nq; ++h) {
    run_max[h] = -std::numeric_limits<float>::infinity();
    run_sum[h] = 0.0f;
    std::memset(a.out + h * a.ldo, 0, a.dv * sizeof(float));
  }
  for (int64_t kb = 0; kb < a.n_kv; kb += kKeyBlock) {
    const int64_t nk = std::min(kKeyBlock, a.n_kv - kb);
    block_scores(a, kb, nk, scores);
    // online softmax: rescale what was accumulated when the running max grows
    for (int64_t h = 0; h < a.nq; ++h) {
      float* s = scores + h * kKeyBlock;
      float m = run_max[h];
      for (int64_t j = 0; j < nk; ++j) m = std::max(m, s[j]);
      const float correction = std::exp(run_max[h] - m);
      float sum = 0.0f;
      for (int64_t j = 0; j < nk; ++j) {
        s[j] = std::exp(s[j] - m);
        sum += s[j];
      }
      if (correction != 1.0f) scale(correction, a.out + h * a.ldo, a.dv);
      run_sum[h] = run_sum[h] * correction + sum;
      run_max[h] = m;
    }
    block_values(a, kb, nk, scores);
  }
  for (int64_t h = 0; h < a.nq; ++h) scale(1.0f / run_sum[h], a.out + h * a.ldo, a.dv);
}

}  // namespace dsv3::ops
