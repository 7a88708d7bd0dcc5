#include "tensor/ggml_blocks.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <stdexcept>

namespace dsv3 {

using namespace ggml;

namespace {

// ---- dequantisation: one block each, in ggml's order of operations ----

void dq_q4_0(const uint8_t* b, float* y) {
  const float d = half_at(b + Q4_0::d);
  for (int l = 0; l < 16; ++l) {
    y[l] = static_cast<float>((b[Q4_0::qs + l] & 0xF) - 8) * d;
    y[l + 16] = static_cast<float>((b[Q4_0::qs + l] >> 4) - 8) * d;
  }
}

void dq_q8_0(const uint8_t* b, float* y) {
  const float d = half_at(b + Q8_0::d);
  for (int l = 0; l < 32; ++l) y[l] = static_cast<float>(static_cast<int8_t>(b[Q8_0::qs + l])) * d;
}

// Q2_K and Q3_K share the 2-bit layout: element 128n + 32j + 16h + l is
// bits 2j of byte 32n + 16h + l, with scale 8n + 2j + h.
void dq_q2_k(const uint8_t* b, float* y) {
  const float d = half_at(b + Q2_K::d), dmin = half_at(b + Q2_K::dmin);
  for (int e = 0; e < 256; ++e) {
    const int n = e / 128, j = (e % 128) / 32, h = (e % 32) / 16, l = e % 16;
    const int sc = b[Q2_K::scales + 8 * n + 2 * j + h];
    const float dl = d * static_cast<float>(sc & 0xF), ml = dmin * static_cast<float>(sc >> 4);
    const int q = (b[Q2_K::qs + 32 * n + 16 * h + l] >> (2 * j)) & 3;
    y[e] = dl * static_cast<float>(q) - ml;
  }
}

void dq_q3_k(const uint8_t* b, float* y) {
  const float d = half_at(b + Q3_K::d);
  for (int e = 0; e < 256; ++e) {
    const int n = e / 128, j = (e % 128) / 32, h = (e % 32) / 16, l = e % 16;
    const float dl = d * static_cast<float>(q3k_scale(b + Q3_K::scales, 8 * n + 2 * j + h));
    const int lo = (b[Q3_K::qs + 32 * n + 16 * h + l] >> (2 * j)) & 3;
    const int hi = (b[Q3_K::hmask + 16 * h + l] >> (4 * n + j)) & 1;
    y[e] = dl * static_cast<float>(lo - (hi ? 0 : 4));
  }
}

// Q4_K/Q5_K: element 64p + 32s + l is nibble s of byte 32p + l (Q5_K: plus
// 16 times bit 2p + s of qh[l]), in sub-block 2p + s.
template <bool kFive>
void dq_q45_k(const uint8_t* b, float* y) {
  constexpr int kScales = kFive ? Q5_K::scales : Q4_K::scales, kQs = kFive ? Q5_K::qs : Q4_K::qs;
  const float d = half_at(b), dmin = half_at(b + 2);
  for (int i = 0; i < 8; ++i) {
    int sc, m;
    k4_scale_min(b + kScales, i, sc, m);
    const float dl = d * static_cast<float>(sc), ml = dmin * static_cast<float>(m);
    const int p = i / 2, s = i % 2;
    for (int l = 0; l < 32; ++l) {
      int q = (b[kQs + 32 * p + l] >> (4 * s)) & 0xF;
      if constexpr (kFive) q += ((b[Q5_K::qh + l] >> i) & 1) << 4;
      y[32 * i + l] = dl * static_cast<float>(q) - ml;
    }
  }
}

// Q6_K: element 128n + 32c + l: low nibble (c < 2) or high nibble of
// ql[64n + 32(c%2) + l], bits 2c of qh[32n + l]; scale 8n + 2c + l/16.
void dq_q6_k(const uint8_t* b, float* y) {
  const float d = half_at(b + Q6_K::d);
  for (int e = 0; e < 256; ++e) {
    const int n = e / 128, c = (e % 128) / 32, l = e % 32;
    const int lo = (b[Q6_K::ql + 64 * n + 32 * (c % 2) + l] >> (4 * (c / 2))) & 0xF;
    const int hi = (b[Q6_K::qh + 32 * n + l] >> (2 * c)) & 3;
    const float dl = d * static_cast<float>(static_cast<int8_t>(b[Q6_K::scales + 8 * n + 2 * c + l / 16]));
    y[e] = dl * static_cast<float>((lo | (hi << 4)) - 32);
  }
}

// ---- quantisation ----

int nearest(float v) { return static_cast<int>(std::lrintf(v)); }  // ties to even, as ggml's nearest_int

// The value of largest magnitude (the first, on a tie): ggml's signed max,
// whose sign orients the scale.
float signed_max(const float* x, int n) {
  float amax = 0.0f, max = 0.0f;
  for (int i = 0; i < n; ++i)
    if (std::fabs(x[i]) > amax) {
      amax = std::fabs(x[i]);
      max = x[i];
    }
  return max;
}

void put_half(uint8_t* p, float v) {
  const uint16_t h = f32_to_f16(v);
  std::memcpy(p, &h, 2);
}

void q_q4_0(const float* x, uint8_t* b) {
  const float max = signed_max(x, 32);
  const float d = max / -8.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
  put_half(b + Q4_0::d, d);
  for (int j = 0; j < 16; ++j) {
    const int q0 = std::min(15, static_cast<int>(static_cast<int8_t>(x[j] * id + 8.5f)));
    const int q1 = std::min(15, static_cast<int>(static_cast<int8_t>(x[j + 16] * id + 8.5f)));
    b[Q4_0::qs + j] = static_cast<uint8_t>(q0 | (q1 << 4));
  }
}

void q_q8_0(const float* x, uint8_t* b) {
  float amax = 0.0f;
  for (int j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(x[j]));
  const float d = amax / 127.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
  put_half(b + Q8_0::d, d);
  for (int j = 0; j < 32; ++j) b[Q8_0::qs + j] = static_cast<uint8_t>(static_cast<int8_t>(std::round(x[j] * id)));
}

// Symmetric levels L[i] - nmax in [-nmax, nmax) for x, weighted by x^2: the
// scale over a few candidate reciprocals that fits x best (ggml's
// make_qx_quants).
float fit_symmetric(int n, int nmax, const float* x, uint8_t* L) {
  const float max = signed_max(x, n);
  if (std::fabs(max) < 1e-30f) {
    std::fill(L, L + n, static_cast<uint8_t>(nmax));
    return 0.0f;
  }
  float best_scale = 0.0f, best = -1.0f;
  for (int is = -9; is <= 9; ++is) {
    const float iscale = -(static_cast<float>(nmax) + 0.1f * static_cast<float>(is)) / max;
    float sumlx = 0.0f, suml2 = 0.0f;
    uint8_t cand[32];
    for (int i = 0; i < n; ++i) {
      const int l = std::clamp(nearest(iscale * x[i]), -nmax, nmax - 1);
      cand[i] = static_cast<uint8_t>(l + nmax);
      const float w = x[i] * x[i];
      sumlx += w * x[i] * static_cast<float>(l);
      suml2 += w * static_cast<float>(l * l);
    }
    if (suml2 > 0.0f && (best < 0.0f || sumlx * sumlx > best * suml2)) {
      best_scale = sumlx / suml2;
      best = best_scale * sumlx;
      std::copy(cand, cand + n, L);
    }
  }
  return best_scale;
}

// Q3_K's sub-block fit (ggml's make_q3_quants): start from the nearest
// levels, then move single levels while that lowers the x^2-weighted error.
float fit_q3(int n, int nmax, const float* x, uint8_t* Lout) {
  const float max = signed_max(x, n);
  if (std::fabs(max) < 1e-30f) {
    std::fill(Lout, Lout + n, static_cast<uint8_t>(nmax));
    return 0.0f;
  }
  const float iscale = -static_cast<float>(nmax) / max;
  int L[32];
  float sumlx = 0.0f, suml2 = 0.0f;
  for (int i = 0; i < n; ++i) {
    L[i] = std::clamp(nearest(iscale * x[i]), -nmax, nmax - 1);
    const float w = x[i] * x[i];
    sumlx += w * x[i] * static_cast<float>(L[i]);
    suml2 += w * static_cast<float>(L[i] * L[i]);
  }
  for (int iter = 0; iter < 5; ++iter) {
    int changed = 0;
    for (int i = 0; i < n; ++i) {
      const float w = x[i] * x[i];
      float slx = sumlx - w * x[i] * static_cast<float>(L[i]);
      if (slx <= 0.0f) continue;
      float sl2 = suml2 - w * static_cast<float>(L[i] * L[i]);
      const int nl = std::clamp(nearest(x[i] * sl2 / slx), -nmax, nmax - 1);
      if (nl == L[i]) continue;
      slx += w * x[i] * static_cast<float>(nl);
      sl2 += w * static_cast<float>(nl * nl);
      if (sl2 > 0.0f && slx * slx * suml2 > sumlx * sumlx * sl2) {
        L[i] = nl;
        sumlx = slx;
        suml2 = sl2;
        ++changed;
      }
    }
    if (changed == 0) break;
  }
  for (int i = 0; i < n; ++i) Lout[i] = static_cast<uint8_t>(L[i] + nmax);
  return suml2 > 0.0f ? sumlx / suml2 : 0.0f;
}

// Asymmetric levels in [0, nmax] with x ~ scale * L - min (min >= 0):
// weighted least squares over nstep candidate ranges (ggml's
// make_qkx2_quants). Returns the scale and sets *the_min.
float fit_affine(int n, int nmax, const float* x, const float* w, uint8_t* L, float* the_min, float rmin,
                 float rdelta, int nstep, bool use_mad) {
  float min = x[0], max = x[0], sum_w = 0.0f, sum_x = 0.0f;
  for (int i = 0; i < n; ++i) {
    min = std::min(min, x[i]);
    max = std::max(max, x[i]);
    sum_w += w[i];
    sum_x += w[i] * x[i];
  }
  if (min > 0.0f) min = 0.0f;
  if (max == min) {
    std::fill(L, L + n, uint8_t{0});
    *the_min = -min;
    return 0.0f;
  }
  const auto err = [&](float scale, float mn, const uint8_t* lv) {
    float e = 0.0f;
    for (int i = 0; i < n; ++i) {
      const float diff = scale * static_cast<float>(lv[i]) + mn - x[i];
      e += w[i] * (use_mad ? std::fabs(diff) : diff * diff);
    }
    return e;
  };
  float iscale = static_cast<float>(nmax) / (max - min), scale = 1.0f / iscale;
  for (int i = 0; i < n; ++i) L[i] = static_cast<uint8_t>(std::clamp(nearest(iscale * (x[i] - min)), 0, nmax));
  float best = err(scale, min, L);
  uint8_t aux[32];
  for (int is = 0; is <= nstep; ++is) {
    iscale = (rmin + rdelta * static_cast<float>(is) + static_cast<float>(nmax)) / (max - min);
    float sum_l = 0.0f, sum_l2 = 0.0f, sum_xl = 0.0f;
    for (int i = 0; i < n; ++i) {
      const int l = std::clamp(nearest(iscale * (x[i] - min)), 0, nmax);
      aux[i] = static_cast<uint8_t>(l);
      sum_l += w[i] * static_cast<float>(l);
      sum_l2 += w[i] * static_cast<float>(l * l);
      sum_xl += w[i] * static_cast<float>(l) * x[i];
    }
    const float D = sum_w * sum_l2 - sum_l * sum_l;
    if (D <= 0.0f) continue;
    float this_scale = (sum_w * sum_xl - sum_x * sum_l) / D;
    float this_min = (sum_l2 * sum_x - sum_l * sum_xl) / D;
    if (this_min > 0.0f) {
      this_min = 0.0f;
      this_scale = sum_xl / sum_l2;
    }
    const float e = err(this_scale, this_min, aux);
    if (e < best) {
      std::copy(aux, aux + n, L);
      best = e;
      scale = this_scale;
      min = this_min;
    }
  }
  *the_min = -min;
  return scale;
}

void q_q2_k(const float* x, uint8_t* b) {
  std::memset(b, 0, 84);
  uint8_t L[256];
  float scales[16], mins[16], w[16];
  float max_scale = 0.0f, max_min = 0.0f;
  for (int j = 0; j < 16; ++j) {
    for (int l = 0; l < 16; ++l) w[l] = std::fabs(x[16 * j + l]);
    scales[j] = fit_affine(16, 3, x + 16 * j, w, L + 16 * j, &mins[j], -0.5f, 0.1f, 15, true);
    max_scale = std::max(max_scale, scales[j]);
    max_min = std::max(max_min, mins[j]);
  }
  uint8_t* sc = b + Q2_K::scales;
  if (max_scale > 0.0f) {
    const float is = 15.0f / max_scale;
    for (int j = 0; j < 16; ++j) sc[j] = static_cast<uint8_t>(std::min(15, nearest(is * scales[j])));
    put_half(b + Q2_K::d, max_scale / 15.0f);
  }
  if (max_min > 0.0f) {
    const float is = 15.0f / max_min;
    for (int j = 0; j < 16; ++j) sc[j] |= static_cast<uint8_t>(std::min(15, nearest(is * mins[j])) << 4);
    put_half(b + Q2_K::dmin, max_min / 15.0f);
  }
  const float d = half_at(b + Q2_K::d), dmin = half_at(b + Q2_K::dmin);
  for (int j = 0; j < 16; ++j) {  // levels again, for the scales as stored
    const float dl = d * static_cast<float>(sc[j] & 0xF);
    if (dl == 0.0f) continue;
    const float ml = dmin * static_cast<float>(sc[j] >> 4);
    for (int l = 0; l < 16; ++l)
      L[16 * j + l] = static_cast<uint8_t>(std::clamp(nearest((x[16 * j + l] + ml) / dl), 0, 3));
  }
  for (int n = 0; n < 2; ++n)
    for (int l = 0; l < 32; ++l) {
      const uint8_t* q = L + 128 * n + l;
      b[Q2_K::qs + 32 * n + l] = static_cast<uint8_t>(q[0] | (q[32] << 2) | (q[64] << 4) | (q[96] << 6));
    }
}

void q_q3_k(const float* x, uint8_t* b) {
  std::memset(b, 0, 110);
  uint8_t L[256];
  float scales[16], max_scale = 0.0f, amax = 0.0f;
  for (int j = 0; j < 16; ++j) {
    scales[j] = fit_q3(16, 4, x + 16 * j, L + 16 * j);
    if (std::fabs(scales[j]) > amax) {
      amax = std::fabs(scales[j]);
      max_scale = scales[j];
    }
  }
  uint8_t* sc = b + Q3_K::scales;
  if (max_scale != 0.0f) {
    const float iscale = -32.0f / max_scale;
    for (int j = 0; j < 16; ++j) {
      const int l = std::clamp(nearest(iscale * scales[j]), -32, 31) + 32;
      if (j < 8) sc[j] = static_cast<uint8_t>(l & 0xF);
      else sc[j - 8] |= static_cast<uint8_t>((l & 0xF) << 4);
      sc[8 + j % 4] |= static_cast<uint8_t>((l >> 4) << (2 * (j / 4)));
    }
    put_half(b + Q3_K::d, 1.0f / iscale);
  }
  const float d = half_at(b + Q3_K::d);
  for (int j = 0; j < 16; ++j) {
    const float dl = d * static_cast<float>(q3k_scale(sc, j));
    if (dl == 0.0f) continue;
    for (int l = 0; l < 16; ++l)
      L[16 * j + l] = static_cast<uint8_t>(std::clamp(nearest(x[16 * j + l] / dl), -4, 3) + 4);
  }
  for (int e = 0; e < 256; ++e) {  // the high bit of element e: bit e / 32 of hmask[e % 32]
    if (L[e] > 3) {
      b[Q3_K::hmask + e % 32] |= static_cast<uint8_t>(1 << (e / 32));
      L[e] -= 4;
    }
  }
  for (int n = 0; n < 2; ++n)
    for (int l = 0; l < 32; ++l) {
      const uint8_t* q = L + 128 * n + l;
      b[Q3_K::qs + 32 * n + l] = static_cast<uint8_t>(q[0] | (q[32] << 2) | (q[64] << 4) | (q[96] << 6));
    }
}

template <bool kFive>
void q_q45_k(const float* x, uint8_t* b) {
  constexpr int kNmax = kFive ? 31 : 15;
  constexpr int kScales = kFive ? Q5_K::scales : Q4_K::scales, kQs = kFive ? Q5_K::qs : Q4_K::qs;
  std::memset(b, 0, kFive ? 176 : 144);
  uint8_t L[256];
  float scales[8], mins[8], w[32], max_scale = 0.0f, max_min = 0.0f;
  for (int j = 0; j < 8; ++j) {
    const float* xs = x + 32 * j;
    float sum_x2 = 0.0f;
    for (int l = 0; l < 32; ++l) sum_x2 += xs[l] * xs[l];
    const float av = std::sqrt(sum_x2 / 32.0f);
    for (int l = 0; l < 32; ++l) w[l] = av + std::fabs(xs[l]);
    scales[j] = kFive ? fit_affine(32, kNmax, xs, w, L + 32 * j, &mins[j], -0.5f, 0.1f, 15, false)
                      : fit_affine(32, kNmax, xs, w, L + 32 * j, &mins[j], -1.0f, 0.1f, 20, false);
    max_scale = std::max(max_scale, scales[j]);
    max_min = std::max(max_min, mins[j]);
  }
  const float inv_scale = max_scale > 0.0f ? 63.0f / max_scale : 0.0f;
  const float inv_min = max_min > 0.0f ? 63.0f / max_min : 0.0f;
  uint8_t* s = b + kScales;
  for (int j = 0; j < 8; ++j) {
    const int ls = std::min(63, nearest(inv_scale * scales[j])), lm = std::min(63, nearest(inv_min * mins[j]));
    if (j < 4) {
      s[j] = static_cast<uint8_t>(ls);
      s[j + 4] = static_cast<uint8_t>(lm);
    } else {
      s[j + 4] = static_cast<uint8_t>((ls & 0xF) | ((lm & 0xF) << 4));
      s[j - 4] |= static_cast<uint8_t>((ls >> 4) << 6);
      s[j] |= static_cast<uint8_t>((lm >> 4) << 6);
    }
  }
  put_half(b, max_scale / 63.0f);
  put_half(b + 2, max_min / 63.0f);
  const float d = half_at(b), dmin = half_at(b + 2);
  for (int j = 0; j < 8; ++j) {
    int sc, m;
    k4_scale_min(s, j, sc, m);
    const float dl = d * static_cast<float>(sc);
    if (dl == 0.0f) continue;
    const float ml = dmin * static_cast<float>(m);
    for (int l = 0; l < 32; ++l)
      L[32 * j + l] = static_cast<uint8_t>(std::clamp(nearest((x[32 * j + l] + ml) / dl), 0, kNmax));
  }
  for (int p = 0; p < 4; ++p)
    for (int l = 0; l < 32; ++l) {
      const int lo = L[64 * p + l], hi = L[64 * p + 32 + l];
      b[kQs + 32 * p + l] = static_cast<uint8_t>((lo & 0xF) | ((hi & 0xF) << 4));
      if constexpr (kFive)
        b[Q5_K::qh + l] |= static_cast<uint8_t>(((lo >> 4) << (2 * p)) | ((hi >> 4) << (2 * p + 1)));
    }
}

void q_q6_k(const float* x, uint8_t* b) {
  std::memset(b, 0, 210);
  uint8_t L[256];
  float scales[16];
  for (int j = 0; j < 16; ++j) scales[j] = fit_symmetric(16, 32, x + 16 * j, L + 16 * j);
  const float max_scale = signed_max(scales, 16);
  if (std::fabs(max_scale) < 1e-30f) {  // an all-zero block: d = 0, levels at zero
    std::fill(L, L + 256, uint8_t{32});
  } else {
    const float iscale = -128.0f / max_scale;
    put_half(b + Q6_K::d, 1.0f / iscale);
    for (int j = 0; j < 16; ++j)
      b[Q6_K::scales + j] = static_cast<uint8_t>(static_cast<int8_t>(std::min(127, nearest(iscale * scales[j]))));
    const float d = half_at(b + Q6_K::d);
    for (int j = 0; j < 16; ++j) {
      const float dl = d * static_cast<float>(static_cast<int8_t>(b[Q6_K::scales + j]));
      if (dl == 0.0f) continue;
      for (int l = 0; l < 16; ++l)
        L[16 * j + l] = static_cast<uint8_t>(std::clamp(nearest(x[16 * j + l] / dl), -32, 31) + 32);
    }
  }
  for (int n = 0; n < 2; ++n)
    for (int l = 0; l < 32; ++l) {
      const uint8_t* q = L + 128 * n + l;
      b[Q6_K::ql + 64 * n + l] = static_cast<uint8_t>((q[0] & 0xF) | ((q[64] & 0xF) << 4));
      b[Q6_K::ql + 64 * n + 32 + l] = static_cast<uint8_t>((q[32] & 0xF) | ((q[96] & 0xF) << 4));
      b[Q6_K::qh + 32 * n + l] =
          static_cast<uint8_t>((q[0] >> 4) | ((q[32] >> 4) << 2) | ((q[64] >> 4) << 4) | ((q[96] >> 4) << 6));
    }
}

template <typename F>
void each_block(DType t, int64_t n, F&& f) {
  if (!is_block_format(t)) throw std::invalid_argument("not a ggml block format");
  const int64_t qk = dtype_block(t), bytes = dtype_block_bytes(t);
  if (n % qk != 0) throw std::invalid_argument("row length is not a whole number of blocks");
  for (int64_t i = 0; i < n / qk; ++i) f(i * bytes, i * qk);
}

}  // namespace

void dequantize_blocks(DType t, const void* src, float* dst, int64_t n) {
  const auto* p = static_cast<const uint8_t*>(src);
  void (*one)(const uint8_t*, float*) = nullptr;
  switch (t) {
    case DType::Q4_0: one = dq_q4_0; break;
    case DType::Q8_0: one = dq_q8_0; break;
    case DType::Q2_K: one = dq_q2_k; break;
    case DType::Q3_K: one = dq_q3_k; break;
    case DType::Q4_K: one = dq_q45_k<false>; break;
    case DType::Q5_K: one = dq_q45_k<true>; break;
    case DType::Q6_K: one = dq_q6_k; break;
    default: one = iq_dequantizer(t); break;
  }
  each_block(t, n, [&](int64_t at, int64_t e) { one(p + at, dst + e); });
}

void quantize_blocks(DType t, const float* src, void* dst, int64_t n) {
  auto* p = static_cast<uint8_t*>(dst);
  void (*one)(const float*, uint8_t*) = nullptr;
  switch (t) {
    case DType::Q4_0: one = q_q4_0; break;
    case DType::Q8_0: one = q_q8_0; break;
    case DType::Q2_K: one = q_q2_k; break;
    case DType::Q3_K: one = q_q3_k; break;
    case DType::Q4_K: one = q_q45_k<false>; break;
    case DType::Q5_K: one = q_q45_k<true>; break;
    case DType::Q6_K: one = q_q6_k; break;
    default: break;
  }
  if (is_iq_format(t)) throw std::invalid_argument("ggml IQ formats are read-only: no quantiser");
  each_block(t, n, [&](int64_t at, int64_t e) { one(src + e, p + at); });
}

}  // namespace dsv3
