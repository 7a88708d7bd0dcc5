// The decode matvec (DSV3_CUDA_FAST): out = x W^T for a few tokens. Each warp
// takes kR weight rows; every lane reads 16 bytes of each row per load and
// keeps kR * kU such loads in flight before it multiplies, so the weights
// stream at memory speed; the x chunk it loads serves all kR rows. Partial
// sums per FP8 chunk (16 values, within one 128-wide scale block) are scaled
// once. Other dtypes, or scale blocks that 16 does not divide, take a
// per-element path.
#include "cuda/dmat_load.cuh"
#include "cuda/gemm_group.cuh"
#include "cuda/kernels.h"

namespace dsv3::cuda {
namespace {

constexpr int kWarps = 4;  // warps per block
constexpr int64_t kFastMaxN = 64;

template <int kDt>
__host__ __device__ constexpr int elem_bytes() {
  return kDt == kFP8 ? 1 : kDt == kF32 ? 4 : 2;
}

// 16 bytes of a row as floats (unscaled).
template <int kDt>
__device__ __forceinline__ void decode16(const uint4 u, float* v) {
  const unsigned words[4] = {u.x, u.y, u.z, u.w};
  if constexpr (kDt == kF32) {
#pragma unroll
    for (int k = 0; k < 4; ++k) v[k] = __uint_as_float(words[k]);
  } else if constexpr (kDt == kBF16) {
#pragma unroll
    for (int k = 0; k < 4; ++k) {
      v[2 * k] = __uint_as_float(words[k] << 16);
      v[2 * k + 1] = __uint_as_float(words[k] & 0xffff0000u);
    }
  } else {
#pragma unroll
    for (int k = 0; k < 4; ++k) {
#pragma unroll
      for (int half = 0; half < 2; ++half) {
        const auto pair = static_cast<__nv_fp8x2_storage_t>((words[k] >> (16 * half)) & 0xffffu);
        const float2 f = __half22float2(__half2(__nv_cvt_fp8x2_to_halfraw2(pair, __NV_E4M3)));
        v[4 * k + 2 * half] = f.x;
        v[4 * k + 2 * half + 1] = f.y;
      }
    }
  }
}

// Rows r0 .. r0 + kR - 1 of group g (those below a.rows), every token of g.
template <int kDt, int kR, int kT, int kU>
__device__ __forceinline__ void gemv_rows(const GemmArgs& a, const Group& g, int64_t r0, int lane) {
  constexpr int kE = 16 / elem_bytes<kDt>();
  const int64_t chunks = a.cols / kE;
  const auto* base = static_cast<const unsigned char*>(g.w.data);
  const bool scaled = kDt == kFP8 && g.w.scale != nullptr;
  for (int64_t tb = 0; tb < g.count; tb += kT) {
    const int nt = static_cast<int>(min(static_cast<int64_t>(kT), g.count - tb));
    float acc[kR][kT];
#pragma unroll
    for (int r = 0; r < kR; ++r)
#pragma unroll
      for (int t = 0; t < kT; ++t) acc[r][t] = 0.0f;
    for (int64_t c0 = lane; c0 < chunks; c0 += 32 * kU) {
      uint4 raw[kU][kR];
#pragma unroll
      for (int u = 0; u < kU; ++u)
#pragma unroll
        for (int r = 0; r < kR; ++r) {
          const int64_t ch = c0 + 32 * u, row = r0 + r;
          if (ch < chunks && row < a.rows) {
            const int64_t ar = g.w.row0 + row + g.row_shift;
            raw[u][r] = __ldcs(reinterpret_cast<const uint4*>(base + (ar * a.cols + ch * kE) * elem_bytes<kDt>()));
          } else {
            raw[u][r] = make_uint4(0u, 0u, 0u, 0u);
          }
        }
#pragma unroll
      for (int u = 0; u < kU; ++u) {
        const int64_t ch = c0 + 32 * u;
        if (ch >= chunks) break;
        float w[kR][kE];
        float s[kR];
#pragma unroll
        for (int r = 0; r < kR; ++r) {
          decode16<kDt>(raw[u][r], w[r]);
          s[r] = 1.0f;
          if (scaled && r0 + r < a.rows) s[r] = block_scale(g.w, g.w.row0 + r0 + r + g.row_shift, ch * kE);
        }
#pragma unroll
        for (int t = 0; t < kT; ++t) {
          if (t >= nt) break;
          const float4* xp = reinterpret_cast<const float4*>(g.x + (tb + t) * a.ldx + ch * kE);
          float xv[kE];
#pragma unroll
          for (int q = 0; q < kE / 4; ++q) {
            const float4 f = xp[q];
            xv[4 * q] = f.x;
            xv[4 * q + 1] = f.y;
            xv[4 * q + 2] = f.z;
            xv[4 * q + 3] = f.w;
          }
#pragma unroll
          for (int r = 0; r < kR; ++r) {
            float d = 0.0f;
#pragma unroll
            for (int e = 0; e < kE; ++e) d = fmaf(w[r][e], xv[e], d);
            acc[r][t] = fmaf(d, s[r], acc[r][t]);
          }
        }
      }
    }
#pragma unroll
    for (int r = 0; r < kR; ++r)
#pragma unroll
      for (int t = 0; t < kT; ++t) {
        const float v = warp_sum(acc[r][t]);
        if (lane == 0 && t < nt && r0 + r < a.rows) g.out[(tb + t) * a.ldo + r0 + r] = v;
      }
  }
}

// Any dtype and scale layout: element by element.
template <int kR>
__device__ void gemv_rows_generic(const GemmArgs& a, const Group& g, int64_t r0, int lane) {
  for (int r = 0; r < kR; ++r) {
    const int64_t row = r0 + r;
    if (row >= a.rows) break;
    for (int64_t t = 0; t < g.count; ++t) {
      float acc = 0.0f;
      for (int64_t c = lane; c < a.cols; c += 32) acc += load1(g.w, row + g.row_shift, c) * g.x[t * a.ldx + c];
      acc = warp_sum(acc);
      if (lane == 0) g.out[t * a.ldo + row] = acc;
    }
  }
}

template <int kR, int kT, int kU>
__global__ void __launch_bounds__(kWarps * 32) gemv16_kernel(GemmArgs a) {
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const PairIndex p = pair_index(blockIdx.x, (a.rows + kWarps * kR - 1) / (kWarps * kR));
  const int64_t r0 = (p.block * kWarps + warp) * kR;
  if (r0 >= a.rows) return;
  const Group g = group_of(a, static_cast<int>(blockIdx.y), p.second);
  if (g.count <= 0 || g.w.data == nullptr) return;
  switch (g.w.dtype) {
    case kFP8:
      if (g.w.scale == nullptr || (g.w.block > 0 && g.w.block % 16 == 0)) return gemv_rows<kFP8, kR, kT, kU>(a, g, r0, lane);
      break;
    case kBF16: return gemv_rows<kBF16, kR, kT, kU>(a, g, r0, lane);
    case kF32: return gemv_rows<kF32, kR, kT, kU>(a, g, r0, lane);
    default: break;
  }
  gemv_rows_generic<kR>(a, g, r0, lane);
}

template <int kR, int kT, int kU>
cudaError_t launch(const GemmArgs& a, cudaStream_t s) {
  const int64_t rows_per_block = kWarps * kR;
  const dim3 grid(static_cast<unsigned>((a.rows + rows_per_block - 1) / rows_per_block * launch_products(a)),
                  static_cast<unsigned>(launch_groups(a)));
  gemv16_kernel<kR, kT, kU><<<grid, kWarps * 32, 0, s>>>(a);
  return cudaGetLastError();
}

}  // namespace

bool gemv_fast_fits(const GemmArgs& a) {
  // 16-byte weight loads need cols % 16 == 0 (all row starts then aligned);
  // float4 loads of x need its rows and groups 4 floats apart, from 16 bytes
  return a.n >= 1 && a.n <= kFastMaxN && a.cols % 16 == 0 && a.ldx % 4 == 0 && a.x_group_step % 4 == 0 &&
         reinterpret_cast<uintptr_t>(a.x) % 16 == 0 && launch_groups(a) <= 65535;
}

cudaError_t launch_gemv_fast(const GemmArgs& a, cudaStream_t s) {
  if (a.rows <= 0 || a.n <= 0 || launch_groups(a) <= 0) return cudaSuccess;
  if (!gemv_fast_fits(a)) return cudaErrorInvalidValue;
  if (a.n == 1) return launch<2, 1, 4>(a, s);
  if (a.n == 2) return launch<2, 2, 1>(a, s);
  if (a.n <= 4) return launch<2, 4, 1>(a, s);
  if (a.n <= 8) return launch<4, 8, 1>(a, s);
  return launch<4, 16, 1>(a, s);
}

}  // namespace dsv3::cuda
