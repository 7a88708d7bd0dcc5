#include "ops/attention.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "ops/vec.h"
#include "ops/vector_clones.h"
#include "tensor/dtype.h"

namespace dsv3::ops {

namespace {
constexpr int64_t kKeyBlock = 128;


// (the helpers are inlined into the clones, so the ABI note does not apply)
#pragma GCC diagnostic ignored "-Wpsabi"
typedef float f8 __attribute__((vector_size(32)));
typedef uint16_t h8 __attribute__((vector_size(16)));
typedef uint32_t u8x __attribute__((vector_size(32)));
inline f8 load8(const float* p) {
  f8 v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
inline f8 load8(const uint16_t* p) {  // f16: exponent and mantissa moved into f32 place, rebiased by 2^112
  h8 h;
  std::memcpy(&h, p, sizeof h);
  const u8x w = __builtin_convertvector(h, u8x);
  const u8x mag = (w & 0x7fffu) << 13, sign = (w & 0x8000u) << 16;
  f8 v;
  std::memcpy(&v, &mag, sizeof v);
  v *= 5.192296858534828e33f;  // 2^112, also right for subnormal halves
  u8x bits;
  std::memcpy(&bits, &v, sizeof bits);
  bits |= sign;
  std::memcpy(&v, &bits, sizeof v);
  return v;
}
inline float scalar(const float* p) { return *p; }
inline float scalar(const uint16_t* p) { return f16_to_f32(*p); }
template <class T>
inline const T* kv_row(const SharedKvAttention& a, int64_t j) {
  return static_cast<const T*>(a.kv) + j * a.ldkv;
}

inline float hsum(f8 v) {
  float s = 0.0f;
  for (int i = 0; i < 8; ++i) s += v[i];
  return s;
}

// scores[h][j] = scale * q_h . key_j for one block of keys, in tiles of four
// query rows by four keys: eight loads feed sixteen multiply-adds.
// (always_inline: these must be compiled inside each target clone below)
template <class T>
__attribute__((always_inline)) inline void block_scores(const SharedKvAttention& a, int64_t kb, int64_t nk,
                                                        float* scores) {
  const int64_t dk = a.dk, d8 = dk / 8 * 8;
  int64_t h = 0;
  for (; h + 4 <= a.nq; h += 4) {
    const float* q = a.q + h * a.ldq;
    int64_t j = 0;
    for (; j + 4 <= nk; j += 4) {
      const T* k[4] = {kv_row<T>(a, kb + j), kv_row<T>(a, kb + j + 1), kv_row<T>(a, kb + j + 2),
                       kv_row<T>(a, kb + j + 3)};
      f8 s[4][4] = {};
      for (int64_t d = 0; d < d8; d += 8) {
        f8 qv[4], kv[4];
        for (int i = 0; i < 4; ++i) qv[i] = load8(q + i * a.ldq + d);
        for (int c = 0; c < 4; ++c) kv[c] = load8(k[c] + d);
        for (int i = 0; i < 4; ++i)
          for (int c = 0; c < 4; ++c) s[i][c] += qv[i] * kv[c];
      }
      for (int i = 0; i < 4; ++i)
        for (int c = 0; c < 4; ++c) {
          float r = hsum(s[i][c]);
          for (int64_t d = d8; d < dk; ++d) r += q[i * a.ldq + d] * scalar(k[c] + d);
          scores[(h + i) * kKeyBlock + j + c] = r * a.scale;
        }
    }
    for (; j < nk; ++j) {
      const T* k = kv_row<T>(a, kb + j);
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
        for (int i = 0; i < 4; ++i) r[i] += q[i * a.ldq + d] * scalar(k + d);
      for (int i = 0; i < 4; ++i) scores[(h + i) * kKeyBlock + j] = r[i] * a.scale;
    }
  }
  for (; h < a.nq; ++h)
    for (int64_t j = 0; j < nk; ++j) {
      const T* k = kv_row<T>(a, kb + j);
      const float* q = a.q + h * a.ldq;
      f8 s{};
      int64_t d = 0;
      for (; d < d8; d += 8) s += load8(q + d) * load8(k + d);
      float r = hsum(s);
      for (; d < dk; ++d) r += q[d] * scalar(k + d);
      scores[h * kKeyBlock + j] = r * a.scale;
    }
}

// out_h[c0, c0+8N) += sum_j p[j] * value_j[c0, c0+8N): the 8N accumulators
// stay in registers across the whole block of keys.
template <class T, int N>
__attribute__((always_inline)) inline void values_tile(const SharedKvAttention& a, int64_t kb, int64_t nk,
                                                       const float* __restrict p,
                        float* __restrict o, int64_t c0) {
  f8 acc[N];
  for (int t = 0; t < N; ++t) acc[t] = load8(o + c0 + 8 * t);
  for (int64_t j = 0; j < nk; ++j) {
    const T* v = kv_row<T>(a, kb + j) + c0;
    const f8 w = f8{} + p[j];
    for (int t = 0; t < N; ++t) acc[t] += w * load8(v + 8 * t);
  }
  for (int t = 0; t < N; ++t) std::memcpy(o + c0 + 8 * t, &acc[t], sizeof(f8));
}

// Four heads at once: each value load feeds four heads' accumulators.
template <class T, int N>
__attribute__((always_inline)) inline void values_tile4(const SharedKvAttention& a, int64_t kb, int64_t nk,
                                                        const float* __restrict p,
                         float* __restrict o, int64_t c0) {
  f8 acc[4][N];
  for (int i = 0; i < 4; ++i)
    for (int t = 0; t < N; ++t) acc[i][t] = load8(o + i * a.ldo + c0 + 8 * t);
  for (int64_t j = 0; j < nk; ++j) {
    const T* v = kv_row<T>(a, kb + j) + c0;
    f8 vv[N];
    for (int t = 0; t < N; ++t) vv[t] = load8(v + 8 * t);
    for (int i = 0; i < 4; ++i) {
      const f8 w = f8{} + p[i * kKeyBlock + j];
      for (int t = 0; t < N; ++t) acc[i][t] += w * vv[t];
    }
  }
  for (int i = 0; i < 4; ++i)
    for (int t = 0; t < N; ++t) std::memcpy(o + i * a.ldo + c0 + 8 * t, &acc[i][t], sizeof(f8));
}

template <class T>
__attribute__((always_inline)) inline void block_values(const SharedKvAttention& a, int64_t kb, int64_t nk,
                                                        const float* probs) {
  int64_t h = 0;
  for (; h + 4 <= a.nq && a.dv % 16 == 0; h += 4)
    for (int64_t c = 0; c < a.dv; c += 16)
      values_tile4<T, 2>(a, kb, nk, probs + h * kKeyBlock, a.out + h * a.ldo, c);
  for (; h < a.nq; ++h) {
    const float* p = probs + h * kKeyBlock;
    float* o = a.out + h * a.ldo;
    int64_t c = 0;
    for (; c + 32 <= a.dv; c += 32) values_tile<T, 4>(a, kb, nk, p, o, c);
    for (; c + 8 <= a.dv; c += 8) values_tile<T, 1>(a, kb, nk, p, o, c);
    for (; c < a.dv; ++c)
      for (int64_t j = 0; j < nk; ++j) o[c] += p[j] * scalar(kv_row<T>(a, kb + j) + c);
  }
}

// One clone set per cache dtype (target_clones does not apply to templates).
DSV3_VECTOR_CLONES void scores_f32(const SharedKvAttention& a, int64_t kb, int64_t nk, float* s) {
  block_scores<float>(a, kb, nk, s);
}
DSV3_VECTOR_CLONES void scores_f16(const SharedKvAttention& a, int64_t kb, int64_t nk, float* s) {
  block_scores<uint16_t>(a, kb, nk, s);
}
DSV3_VECTOR_CLONES void values_f32(const SharedKvAttention& a, int64_t kb, int64_t nk, const float* p) {
  block_values<float>(a, kb, nk, p);
}
DSV3_VECTOR_CLONES void values_f16(const SharedKvAttention& a, int64_t kb, int64_t nk, const float* p) {
  block_values<uint16_t>(a, kb, nk, p);
}
}  // namespace

int64_t shared_kv_attention_scratch(int64_t nq) { return nq * (kKeyBlock + 2); }

void shared_kv_attention(const SharedKvAttention& a, float* scratch) {
  float* scores = scratch;                     // [nq][kKeyBlock]
  float* run_max = scratch + a.nq * kKeyBlock;  // [nq]
  float* run_sum = run_max + a.nq;              // [nq]
  const bool f16 = a.kv_dtype == DType::F16;
  for (int64_t h = 0; h < a.nq; ++h) {
    run_max[h] = -std::numeric_limits<float>::infinity();
    run_sum[h] = 0.0f;
    std::memset(a.out + h * a.ldo, 0, a.dv * sizeof(float));
  }
  for (int64_t kb = 0; kb < a.n_kv; kb += kKeyBlock) {
    const int64_t nk = std::min(kKeyBlock, a.n_kv - kb);
    if (f16)
      scores_f16(a, kb, nk, scores);
    else
      scores_f32(a, kb, nk, scores);
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
    if (f16)
      values_f16(a, kb, nk, scores);
    else
      values_f32(a, kb, nk, scores);
  }
  for (int64_t h = 0; h < a.nq; ++h) scale(1.0f / run_sum[h], a.out + h * a.ldo, a.dv);
}

}  // namespace dsv3::ops
