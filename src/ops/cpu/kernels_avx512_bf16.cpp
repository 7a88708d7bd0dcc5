// Prefill products with bf16 multiplies (AVX512-BF16 vdpbf16ps: 32 products
// per instruction with f32 sums, twice the f32 FMA rate). Only activations
// are rounded: bf16 weight rows are used in place, and fp8 values are exact
// in bf16, so their block scales go onto the activations instead (a row
// block of 16 lies inside one 128-row scale block; x is rescaled once per
// scale block). f32 weights are rounded too.
#include <algorithm>
#include <cstring>
#include <vector>

#include "ops/cpu/kernels.h"
#include "tensor/dtype.h"

#if defined(DSV3_X86_KERNELS)
#pragma GCC diagnostic ignored "-Wpsabi"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512dq,avx512bf16,avx2,fma")
#include <immintrin.h>

namespace dsv3::ops::cpu::avx512_bf16 {

namespace {
constexpr int64_t kRowBlock = 16;

// n f32 values to bf16 (round to nearest even), zero-filling up to padded.
void round_row(const float* src, int64_t n, uint16_t* dst, int64_t padded) {
  int64_t j = 0;
  for (; j + 32 <= n; j += 32) {
    const __m512bh v = _mm512_cvtne2ps_pbh(_mm512_loadu_ps(src + j + 16), _mm512_loadu_ps(src + j));
    _mm512_storeu_si512(dst + j, (__m512i)v);
  }
  for (; j < padded; j += 16) {
    const int64_t left = std::clamp<int64_t>(n - j, 0, 16);
    const __mmask16 m = static_cast<__mmask16>((1u << left) - 1u);
    const __m256bh h = _mm512_cvtneps_pbh(_mm512_maskz_loadu_ps(m, src + j));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + j), (__m256i)h);
  }
}

int64_t padded_cols(int64_t k) { return (k + 31) / 32 * 32; }

// Every e4m3 value is exact in bf16 (subnormals included).
struct Fp8ToBf16 {
  uint16_t v[256];
  Fp8ToBf16() {
    for (int i = 0; i < 256; ++i) v[i] = f32_to_bf16(fp8_e4m3_to_f32(static_cast<uint8_t>(i)));
  }
};
const Fp8ToBf16& fp8_to_bf16() {  // built on first use: dtype's table is initialised in another file
  static const Fp8ToBf16 table;
  return table;
}

// x [n][k] times the scales of one scale-block row (per 128 columns), rounded.
void round_scaled_rows(const float* x, int64_t ldx, int64_t n, int64_t k, const float* scales, int64_t block,
                       uint16_t* out) {
  const int64_t kp = padded_cols(k);
  thread_local std::vector<float> row;
  row.resize(static_cast<std::size_t>(k));
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t b0 = 0; b0 < k; b0 += block) {
      const __m512 s = _mm512_set1_ps(scales[b0 / block]);
      const int64_t b1 = std::min(k, b0 + block);
      int64_t j = b0;
      for (; j + 16 <= b1; j += 16) _mm512_storeu_ps(row.data() + j, _mm512_mul_ps(_mm512_loadu_ps(x + i * ldx + j), s));
      for (; j < b1; ++j) row[j] = x[i * ldx + j] * scales[b0 / block];
    }
    round_row(row.data(), k, out + i * kp, kp);
  }
}

void round_rows(const float* x, int64_t ldx, int64_t n, int64_t k, uint16_t* out) {
  const int64_t kp = padded_cols(k);
  for (int64_t i = 0; i < n; ++i) round_row(x + i * ldx, k, out + i * kp, kp);
}

void matmul_rows(const Matrix& w, const float* x, int64_t ldx, const uint16_t* xb, int64_t n, float* y, int64_t ldy,
                 int64_t r0, int64_t r1) {
  const int64_t k = w.cols, kp = padded_cols(k);
  const bool fp8 = w.dtype == DType::F8_E4M3 && w.block_scale != nullptr && w.block % kRowBlock == 0;
  // bf16 rows are read in place when they need no padding
  const bool in_place = w.dtype == DType::BF16 && k == kp;
  thread_local std::vector<float> f32_row;
  thread_local std::vector<uint16_t> staged, scaled_x;
  if (!in_place) {
    f32_row.resize(static_cast<std::size_t>(k));
    staged.resize(static_cast<std::size_t>(kRowBlock * kp));
  }
  const uint16_t* rows[kRowBlock];
  int64_t scale_row = -1;
  for (int64_t rb = r0; rb < r1; rb += kRowBlock) {
    const int64_t nr = std::min(kRowBlock, r1 - rb);
    if (fp8 && (w.row0 + rb) / w.block != scale_row) {
      scale_row = (w.row0 + rb) / w.block;
      if (static_cast<int64_t>(scaled_x.size()) < n * kp) scaled_x.resize(static_cast<std::size_t>(n * kp));
      round_scaled_rows(x, ldx, n, k, w.block_scale + scale_row * w.scale_cols, w.block, scaled_x.data());
      xb = scaled_x.data();
    }
    for (int64_t r = 0; r < nr; ++r) {
      uint16_t* dst = staged.data() + r * kp;
      if (in_place) {
        rows[r] = reinterpret_cast<const uint16_t*>(w.row_at(rb + r));
        continue;
      }
      if (fp8) {
        const uint8_t* q = w.row_at(rb + r);
        const uint16_t* table = fp8_to_bf16().v;
        for (int64_t j = 0; j < k; ++j) dst[j] = table[q[j]];
        std::fill(dst + k, dst + kp, uint16_t{0});
      } else {
        avx512::kTable.decode_row(w, rb + r, f32_row.data());
        round_row(f32_row.data(), k, dst, kp);
      }
      rows[r] = dst;
    }
    for (int64_t i0 = 0; i0 < n; i0 += 4) {
      const int ni = static_cast<int>(std::min<int64_t>(4, n - i0));
      for (int64_t q0 = 0; q0 < nr; q0 += 4) {
        const int nq = static_cast<int>(std::min<int64_t>(4, nr - q0));
        __m512 acc[4][4];
        for (auto& row : acc)
          for (auto& a : row) a = _mm512_setzero_ps();
        const uint16_t* xr = xb + i0 * kp;
        if (ni == 4 && nq == 4) {
          for (int64_t j = 0; j < kp; j += 32) {
            const __m512bh x0 = (__m512bh)_mm512_loadu_si512(xr + j);
            const __m512bh x1 = (__m512bh)_mm512_loadu_si512(xr + kp + j);
            const __m512bh x2 = (__m512bh)_mm512_loadu_si512(xr + 2 * kp + j);
            const __m512bh x3 = (__m512bh)_mm512_loadu_si512(xr + 3 * kp + j);
            for (int b = 0; b < 4; ++b) {
              const __m512bh wv = (__m512bh)_mm512_loadu_si512(rows[q0 + b] + j);
              acc[0][b] = _mm512_dpbf16_ps(acc[0][b], x0, wv);
              acc[1][b] = _mm512_dpbf16_ps(acc[1][b], x1, wv);
              acc[2][b] = _mm512_dpbf16_ps(acc[2][b], x2, wv);
              acc[3][b] = _mm512_dpbf16_ps(acc[3][b], x3, wv);
            }
          }
        } else {
          for (int64_t j = 0; j < kp; j += 32)
            for (int a = 0; a < ni; ++a) {
              const __m512bh xv = (__m512bh)_mm512_loadu_si512(xr + a * kp + j);
              for (int b = 0; b < nq; ++b)
                acc[a][b] = _mm512_dpbf16_ps(acc[a][b], xv, (__m512bh)_mm512_loadu_si512(rows[q0 + b] + j));
            }
        }
        for (int a = 0; a < ni; ++a)
          for (int b = 0; b < nq; ++b) y[(i0 + a) * ldy + rb + q0 + b] = _mm512_reduce_add_ps(acc[a][b]);
      }
    }
  }
}
}  // namespace

const Bf16Kernels kBf16 = {&padded_cols, &round_rows, &matmul_rows};

}  // namespace dsv3::ops::cpu::avx512_bf16
#endif
