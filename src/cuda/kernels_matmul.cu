// Weight products out = x W^T in each stored dtype, accumulated in f32.
// Few tokens (decode): one warp per weight row, the row read once at full
// width for up to 8 tokens at a time. Many tokens (prefill): 64x64 tiles
// through shared memory, the weights dequantized once per tile.
#include "cuda/dmat_load.cuh"
#include "cuda/gemm_group.cuh"
#include "cuda/switches.h"
#include "cuda/kernels.h"

namespace dsv3::cuda {
namespace {

constexpr int kGemvWarps = 8;     // rows per block
constexpr int kGemvTokens = 8;    // tokens per pass over a row
constexpr int64_t kGemvMaxN = 16; // beyond this, the tiled kernel

// kWide: cols, ldx and the x offsets are multiples of 8 (aligned wide loads).
template <bool kWide>
__global__ void __launch_bounds__(kGemvWarps * 32) gemv_kernel(GemmArgs a) {
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int64_t row = static_cast<int64_t>(blockIdx.x) * kGemvWarps + warp;
  if (row >= a.rows) return;
  const Group g = group_of(a, static_cast<int>(blockIdx.y));
  const int64_t wr = row + g.row_shift;
  for (int64_t tb = 0; tb < g.count; tb += kGemvTokens) {
    const int64_t nt = min(static_cast<int64_t>(kGemvTokens), g.count - tb);
    float acc[kGemvTokens] = {};
    if constexpr (kWide) {
      for (int64_t c = lane * 8; c < a.cols; c += 32 * 8) {
        float wv[8];
        load8(g.w, wr, c, wv);
#pragma unroll
        for (int t = 0; t < kGemvTokens; ++t) {
          if (t < nt) {
            const float4* xp = reinterpret_cast<const float4*>(g.x + (tb + t) * a.ldx + c);
            const float4 x0 = xp[0], x1 = xp[1];
            acc[t] += wv[0] * x0.x + wv[1] * x0.y + wv[2] * x0.z + wv[3] * x0.w + wv[4] * x1.x + wv[5] * x1.y +
                      wv[6] * x1.z + wv[7] * x1.w;
          }
        }
      }
    } else {
      for (int64_t c = lane; c < a.cols; c += 32) {
        const float wv = load1(g.w, wr, c);
#pragma unroll
        for (int t = 0; t < kGemvTokens; ++t)
          if (t < nt) acc[t] += wv * g.x[(tb + t) * a.ldx + c];
      }
    }
#pragma unroll
    for (int t = 0; t < kGemvTokens; ++t) {
      const float v = warp_sum(acc[t]);
      if (lane == 0 && t < nt) g.out[(tb + t) * a.ldo + row] = v;
    }
  }
}

constexpr int kTile = 64, kTileK = 16;

__global__ void __launch_bounds__(256) tiled_kernel(GemmArgs a) {
  __shared__ float xs[kTileK][kTile + 4];
  __shared__ float ws[kTileK][kTile + 4];
  const Group g = group_of(a, static_cast<int>(blockIdx.z));
  const int64_t r0 = static_cast<int64_t>(blockIdx.x) * kTile, t0 = static_cast<int64_t>(blockIdx.y) * kTile;
  if (t0 >= g.count) return;  // whole block: no barrier is skipped by part of it
  const int tid = threadIdx.x, ty = tid / 16, tx = tid % 16;
  float acc[4][4] = {};
  for (int64_t k0 = 0; k0 < a.cols; k0 += kTileK) {
    for (int e = tid; e < kTile * kTileK; e += 256) {
      const int i = e / kTileK, k = e % kTileK;
      const int64_t col = k0 + k;
      const int64_t t = t0 + i, r = r0 + i;
      xs[k][i] = (t < g.count && col < a.cols) ? g.x[t * a.ldx + col] : 0.0f;
      ws[k][i] = (r < a.rows && col < a.cols) ? load1(g.w, r + g.row_shift, col) : 0.0f;
    }
    __syncthreads();
#pragma unroll
    for (int k = 0; k < kTileK; ++k) {
      float xv[4], wv[4];
#pragma unroll
      for (int i = 0; i < 4; ++i) {
        xv[i] = xs[k][ty * 4 + i];
        wv[i] = ws[k][tx * 4 + i];
      }
#pragma unroll
      for (int i = 0; i < 4; ++i)
#pragma unroll
        for (int j = 0; j < 4; ++j) acc[i][j] += xv[i] * wv[j];
    }
    __syncthreads();
  }
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    const int64_t t = t0 + ty * 4 + i;
    if (t >= g.count) continue;
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      const int64_t r = r0 + tx * 4 + j;
      if (r < a.rows) g.out[t * a.ldo + r] = acc[i][j];
    }
  }
}

}  // namespace

cudaError_t launch_gemm(const GemmArgs& a, cudaStream_t s) {
  if (a.rows <= 0 || a.n <= 0 || launch_groups(a) <= 0) return cudaSuccess;
  if (tensor_cores() && gemm_mma_fits(a) && (a.n >= tc_min_tokens() || (a.n >= 17 && mma_grid_is_full(a))))
    return launch_gemm_mma(a, s);
  if (fast_kernels() && gemv_fast_fits(a)) return launch_gemv_fast(a, s);
  if (a.out2) {  // the first kernels compute one product per launch
    GemmArgs first = a, second = a;
    first.out2 = nullptr;
    second.w = a.w2;
    second.wtab = a.wtab2;
    second.out = a.out2;
    second.out2 = nullptr;
    if (const cudaError_t e = launch_gemm(first, s); e != cudaSuccess) return e;
    return launch_gemm(second, s);
  }
  if (a.n <= kGemvMaxN) {
    const bool wide = a.cols % 8 == 0 && a.ldx % 8 == 0 && a.x_group_step % 8 == 0 &&
                      reinterpret_cast<uintptr_t>(a.x) % 32 == 0;
    const dim3 grid(static_cast<unsigned>((a.rows + kGemvWarps - 1) / kGemvWarps), static_cast<unsigned>(launch_groups(a)));
    if (wide)
      gemv_kernel<true><<<grid, kGemvWarps * 32, 0, s>>>(a);
    else
      gemv_kernel<false><<<grid, kGemvWarps * 32, 0, s>>>(a);
  } else {
    const dim3 grid(static_cast<unsigned>((a.rows + kTile - 1) / kTile), static_cast<unsigned>((a.n + kTile - 1) / kTile),
                    static_cast<unsigned>(launch_groups(a)));
    tiled_kernel<<<grid, 256, 0, s>>>(a);
  }
  return cudaGetLastError();
}

}  // namespace dsv3::cuda
