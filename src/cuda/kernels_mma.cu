// Weight products on the tensor cores (DSV3_CUDA_TC), for batches of tokens:
// out = x W^T with W in bf16 or FP8 e4m3 and x in f32, accumulated in f32.
//
// Exact to f32: FP8 and bf16 values are exact in bf16, and each f32 x is
// split into three bf16 terms whose sum is x (8 + 8 + 8 significant bits), so
// the tensor cores multiply exact operands; only the f32 summation order
// differs from the FFMA kernels. FP8 block scales apply per scale block of
// columns: each block's partial sums are staged through shared memory and
// added to per-thread f32 accumulators with each row's own scale (as
// DeepGEMM promotes its FP8 partial sums).
//
// A block of 8 warps computes 128 weight rows x 64 tokens, 32 columns per
// step; each warp a 32 x 32 corner as 2 x 2 WMMA 16x16x16 fragments, three
// terms each. Two shared-memory stages alternate: the next step's operands
// are loaded into registers while the tensor cores multiply the current ones.
#include <mma.h>

#include "cuda/dmat_load.cuh"
#include "cuda/gemm_group.cuh"
#include "cuda/kernels.h"

namespace dsv3::cuda {
namespace {

using namespace nvcuda;

constexpr int kBN = 64;       // tokens per block
constexpr int kBK = 32;       // columns per step
constexpr int kLd = kBK + 8;  // bf16 row pitch in shared memory (80 bytes: 16-byte aligned, spreads banks)
constexpr int kTerms = 3;

// A block of kBM weight rows (128 or 64): kBM / 32 x 2 warps, each a 32 x 32 corner.
template <int kBM>
struct Tile {
  static constexpr int kWarps = kBM / 32 * 2;
  static constexpr int kThreads = kWarps * 32;
  static constexpr int kWPer = kBM * kBK * 2 / 16 / kThreads;  // 16-byte bf16 chunks of w per thread (FP8: half)
  static constexpr int kXPer = kBN * kBK / 4 / kThreads;       // float4s of x per thread
  // One step's operands in shared memory; two of them alternate.
  struct __align__(32) Stage {
    __nv_bfloat16 w[kBM][kLd];
    __nv_bfloat16 x[kTerms][kBN][kLd];
  };
  struct __align__(32) Smem {
    Stage stage[2];
    float scratch[kWarps][16 * 16];  // each warp's fragment on its way to the f32 accumulators
  };
  // The next step's operands, loaded into registers while the tensor cores
  // work on the current one.
  struct Prefetch {
    uint4 w[kWPer];  // FP8: the first kWPer / 2
    float4 x[kXPer];
  };
};

__device__ __forceinline__ void store_bf16x8(__nv_bfloat16* dst, const float* v) {
  __nv_bfloat162 p[4];
#pragma unroll
  for (int i = 0; i < 4; ++i) p[i] = __floats2bfloat162_rn(v[2 * i], v[2 * i + 1]);
  *reinterpret_cast<uint4*>(dst) = *reinterpret_cast<const uint4*>(p);
}

// x = hi + mid + lo exactly, each a bf16.
__device__ __forceinline__ void split3(float v, __nv_bfloat16& a, __nv_bfloat16& b, __nv_bfloat16& c) {
  a = __float2bfloat16_rn(v);
  const float r1 = v - __bfloat162float(a);
  b = __float2bfloat16_rn(r1);
  c = __float2bfloat16_rn(r1 - __bfloat162float(b));
}

__device__ __forceinline__ float raw_weight(const Group& g, int64_t i) {
  return g.w.dtype == kFP8 ? fp8_to_f32(static_cast<const unsigned char*>(g.w.data)[i])
                           : bf16_bits_to_f32(static_cast<const unsigned short*>(g.w.data)[i]);
}

// Columns [k0, k0 + kBK) of the tile's weight rows (unscaled) and tokens;
// zeros past the rows, the tokens or the columns. kVecW: 16-byte weight
// loads (cols % 16 == 0); kVecX: float4 loads of x.
template <int kBM, bool kVecW, bool kVecX>
__device__ __forceinline__ void load_step(typename Tile<kBM>::Prefetch& p, const Group& g, const GemmArgs& a,
                                          int64_t r0, int64_t t0, int64_t k0) {
  using T = Tile<kBM>;
  const int tid = threadIdx.x;
  const int64_t base_row = g.w.row0 + g.row_shift + r0;
  if constexpr (kVecW) {
    if (g.w.dtype == kFP8) {  // kBM rows x 2 chunks of 16 bytes
#pragma unroll
      for (int i = 0; i < T::kWPer / 2; ++i) {
        const int c = tid + i * T::kThreads, r = c / 2, h = c % 2;
        const int64_t k = k0 + h * 16;
        p.w[i] = make_uint4(0u, 0u, 0u, 0u);
        if (r0 + r < a.rows && k < a.cols)
          p.w[i] = __ldg(reinterpret_cast<const uint4*>(static_cast<const unsigned char*>(g.w.data) +
                                                        (base_row + r) * a.cols + k));
      }
    } else {  // bf16: kBM rows x 4 chunks of 8 values
#pragma unroll
      for (int i = 0; i < T::kWPer; ++i) {
        const int c = tid + i * T::kThreads, r = c / 4, q = c % 4;
        const int64_t k = k0 + q * 8;
        p.w[i] = make_uint4(0u, 0u, 0u, 0u);
        if (r0 + r < a.rows && k < a.cols)
          p.w[i] = __ldg(reinterpret_cast<const uint4*>(static_cast<const unsigned short*>(g.w.data) +
                                                        (base_row + r) * a.cols + k));
      }
    }
  }
  if constexpr (kVecX) {
#pragma unroll
    for (int i = 0; i < T::kXPer; ++i) {  // 64 tokens x 8 float4
      const int c = tid + i * T::kThreads, tok = c / (kBK / 4), q = c % (kBK / 4);
      const int64_t k = k0 + q * 4;
      p.x[i] = make_float4(0.f, 0.f, 0.f, 0.f);
      if (t0 + tok < g.count && k < a.cols) p.x[i] = *reinterpret_cast<const float4*>(g.x + (t0 + tok) * a.ldx + k);
    }
  }
}

template <int kBM, bool kVecW, bool kVecX>
__device__ __forceinline__ void store_step(typename Tile<kBM>::Stage& st, const typename Tile<kBM>::Prefetch& p,
                                           const Group& g, const GemmArgs& a, int64_t r0, int64_t t0, int64_t k0) {
  using T = Tile<kBM>;
  const int tid = threadIdx.x;
  if constexpr (kVecW) {
    if (g.w.dtype == kFP8) {
#pragma unroll
      for (int i = 0; i < T::kWPer / 2; ++i) {
        const int c = tid + i * T::kThreads, r = c / 2, h = c % 2;
        const unsigned words[4] = {p.w[i].x, p.w[i].y, p.w[i].z, p.w[i].w};
        float v[16];
#pragma unroll
        for (int q = 0; q < 4; ++q)
#pragma unroll
          for (int half = 0; half < 2; ++half) {
            const auto pair = static_cast<__nv_fp8x2_storage_t>((words[q] >> (16 * half)) & 0xffffu);
            const float2 f = __half22float2(__half2(__nv_cvt_fp8x2_to_halfraw2(pair, __NV_E4M3)));
            v[4 * q + 2 * half] = f.x;
            v[4 * q + 2 * half + 1] = f.y;
          }
        store_bf16x8(&st.w[r][h * 16], v);
        store_bf16x8(&st.w[r][h * 16 + 8], v + 8);
      }
    } else {
#pragma unroll
      for (int i = 0; i < T::kWPer; ++i) {
        const int c = tid + i * T::kThreads, r = c / 4, q = c % 4;
        *reinterpret_cast<uint4*>(&st.w[r][q * 8]) = p.w[i];
      }
    }
  } else {
    const int64_t base_row = g.w.row0 + g.row_shift + r0;
    for (int e = tid; e < kBM * kBK; e += T::kThreads) {
      const int r = e / kBK, kk = e % kBK;
      const int64_t k = k0 + kk;
      const float v = (r0 + r < a.rows && k < a.cols) ? raw_weight(g, (base_row + r) * a.cols + k) : 0.0f;
      st.w[r][kk] = __float2bfloat16_rn(v);
    }
  }
  if constexpr (kVecX) {
#pragma unroll
    for (int i = 0; i < T::kXPer; ++i) {
      const int c = tid + i * T::kThreads, tok = c / (kBK / 4), q = c % (kBK / 4);
      const float v[4] = {p.x[i].x, p.x[i].y, p.x[i].z, p.x[i].w};
#pragma unroll
      for (int j = 0; j < 4; ++j)
        split3(v[j], st.x[0][tok][q * 4 + j], st.x[1][tok][q * 4 + j], st.x[2][tok][q * 4 + j]);
    }
  } else {
    for (int e = tid; e < kBN * kBK; e += T::kThreads) {
      const int tok = e / kBK, kk = e % kBK;
      const int64_t k = k0 + kk;
      const float v = (t0 + tok < g.count && k < a.cols) ? g.x[(t0 + tok) * a.ldx + k] : 0.0f;
      split3(v, st.x[0][tok][kk], st.x[1][tok][kk], st.x[2][tok][kk]);
    }
  }
}

// kBlocks: blocks per multiprocessor the registers are capped for (1: no cap)
template <int kBM, bool kVecW, bool kVecX, int kBlocks>
__global__ void __launch_bounds__(Tile<kBM>::kThreads, kBlocks) mma_kernel(GemmArgs a) {
  using T = Tile<kBM>;
  extern __shared__ __align__(128) unsigned char smem_raw[];
  auto& sm = *reinterpret_cast<typename T::Smem*>(smem_raw);
  const PairIndex p = pair_index(blockIdx.x, (a.rows + kBM - 1) / kBM);
  const Group g = group_of(a, static_cast<int>(blockIdx.z), p.second);
  const int64_t r0 = p.block * kBM, t0 = static_cast<int64_t>(blockIdx.y) * kBN;
  if (t0 >= g.count || g.w.data == nullptr) return;  // the whole block: no barrier is skipped by part of it
  const int tid = threadIdx.x, warp = tid / 32, lane = tid % 32;
  const int wr = (warp % (kBM / 32)) * 32, wt = (warp / (kBM / 32)) * 32;  // this warp's corner: rows, tokens
  const bool scaled = g.w.dtype == kFP8 && g.w.scale != nullptr;
  // partial sums go to the f32 accumulators at the end of each scale block of
  // columns (once, at the end, when unscaled)
  const int64_t span = scaled ? g.w.block : (a.cols + kBK - 1) / kBK * kBK;
  // acc[i][j][q]: row wr + 16 i + lane % 16, token wt + 16 j + (lane + 32 q) / 16
  float acc[2][2][8];
#pragma unroll
  for (int i = 0; i < 2; ++i)
#pragma unroll
    for (int j = 0; j < 2; ++j)
#pragma unroll
      for (int q = 0; q < 8; ++q) acc[i][j][q] = 0.0f;
  wmma::fragment<wmma::accumulator, 16, 16, 16, float> part[2][2];
#pragma unroll
  for (int i = 0; i < 2; ++i)
#pragma unroll
    for (int j = 0; j < 2; ++j) wmma::fill_fragment(part[i][j], 0.0f);
  typename T::Prefetch pf;
  load_step<kBM, kVecW, kVecX>(pf, g, a, r0, t0, 0);
  store_step<kBM, kVecW, kVecX>(sm.stage[0], pf, g, a, r0, t0, 0);
  __syncthreads();
  int cur = 0;
  float* scratch = sm.scratch[warp];
  for (int64_t k0 = 0; k0 < a.cols; k0 += kBK) {
    const bool more = k0 + kBK < a.cols;
    if (more) load_step<kBM, kVecW, kVecX>(pf, g, a, r0, t0, k0 + kBK);  // in flight during the products below
    const auto& st = sm.stage[cur];
#pragma unroll
    for (int kk = 0; kk < kBK; kk += 16) {
      wmma::fragment<wmma::matrix_a, 16, 16, 16, __nv_bfloat16, wmma::row_major> fa[2];
#pragma unroll
      for (int i = 0; i < 2; ++i) wmma::load_matrix_sync(fa[i], &st.w[wr + 16 * i][kk], kLd);
#pragma unroll
      for (int term = kTerms - 1; term >= 0; --term) {  // smallest first
        wmma::fragment<wmma::matrix_b, 16, 16, 16, __nv_bfloat16, wmma::col_major> fb[2];
#pragma unroll
        for (int j = 0; j < 2; ++j) wmma::load_matrix_sync(fb[j], &st.x[term][wt + 16 * j][kk], kLd);
#pragma unroll
        for (int i = 0; i < 2; ++i)
#pragma unroll
          for (int j = 0; j < 2; ++j) wmma::mma_sync(part[i][j], fa[i], fb[j], part[i][j]);
      }
    }
    if (!more || (k0 + kBK) % span == 0) {
      // the span's partial sums into the accumulators, times each row's scale
      // (per warp, through its scratch: element e of a fragment is row e % 16, token e / 16)
      const int64_t kb = k0 / span * span;
#pragma unroll
      for (int i = 0; i < 2; ++i) {
        const int64_t row = r0 + wr + 16 * i + lane % 16;
        float s = 1.0f;
        if (scaled && row < a.rows) s = block_scale(g.w, g.w.row0 + g.row_shift + row, kb);
#pragma unroll
        for (int j = 0; j < 2; ++j) {
          wmma::store_matrix_sync(scratch, part[i][j], 16, wmma::mem_col_major);
          __syncwarp();
#pragma unroll
          for (int q = 0; q < 8; ++q) acc[i][j][q] = fmaf(scratch[lane + 32 * q], s, acc[i][j][q]);
          __syncwarp();
          wmma::fill_fragment(part[i][j], 0.0f);
        }
      }
    }
    if (more) store_step<kBM, kVecW, kVecX>(sm.stage[cur ^ 1], pf, g, a, r0, t0, k0 + kBK);
    __syncthreads();  // the next stage is written; everyone is done with this one
    cur ^= 1;
  }
#pragma unroll
  for (int i = 0; i < 2; ++i)
#pragma unroll
    for (int j = 0; j < 2; ++j)
#pragma unroll
      for (int q = 0; q < 8; ++q) {
        const int e = lane + 32 * q;
        const int64_t row = r0 + wr + 16 * i + e % 16, tok = t0 + wt + 16 * j + e / 16;
        if (tok < g.count && row < a.rows) g.out[tok * a.ldo + row] = acc[i][j][q];
      }
}

template <int kBM, bool kVecW, bool kVecX, int kBlocks>
cudaError_t launch_mma(const GemmArgs& a, cudaStream_t s) {
  using T = Tile<kBM>;
  // above the 48 KiB a block gets without asking; set once per instance
  static const cudaError_t attr = cudaFuncSetAttribute(mma_kernel<kBM, kVecW, kVecX, kBlocks>,
                                                       cudaFuncAttributeMaxDynamicSharedMemorySize,
                                                       sizeof(typename T::Smem));
  if (attr != cudaSuccess) return attr;
  const dim3 grid(static_cast<unsigned>((a.rows + kBM - 1) / kBM * launch_products(a)),
                  static_cast<unsigned>((a.n + kBN - 1) / kBN), static_cast<unsigned>(launch_groups(a)));
  mma_kernel<kBM, kVecW, kVecX, kBlocks><<<grid, T::kThreads, sizeof(typename T::Smem), s>>>(a);
  return cudaGetLastError();
}

// Multiprocessors of the current device (read once).
int multiprocessors() {
  static const int sms = [] {
    int device = 0, n = 0;
    if (cudaGetDevice(&device) != cudaSuccess || cudaDeviceGetAttribute(&n, cudaDevAttrMultiProcessorCount, device) != cudaSuccess)
      return 132;
    return n;
  }();
  return sms;
}

}  // namespace

bool gemm_mma_fits(const GemmArgs& a) {
  // with a table, a.w describes every entry's dtype and scale block
  const DMat& w = a.w;
  if (w.dtype != kFP8 && w.dtype != kBF16) return false;
  if (a.out2 && (a.w2.dtype != w.dtype || a.w2.block != w.block || (a.w2.scale == nullptr) != (w.scale == nullptr)))
    return false;  // the pair's second product is described by w2 the same way
  if (w.dtype == kFP8 && (a.wtab != nullptr || w.scale != nullptr) && (w.block <= 0 || w.block % kBK != 0))
    return false;
  return a.n >= 1 && a.rows >= 1 && a.cols >= 1 && launch_groups(a) >= 1 && launch_groups(a) <= 65535 &&
         (a.n + kBN - 1) / kBN <= 65535;
}

bool mma_grid_is_full(const GemmArgs& a) {
  if (a.offsets) return false;  // experts: most of the grid's blocks have no rows
  const int64_t blocks = (a.rows + 127) / 128 * launch_products(a) * ((a.n + kBN - 1) / kBN) * launch_groups(a);
  return blocks >= 2 * multiprocessors();
}

cudaError_t launch_gemm_mma(const GemmArgs& a, cudaStream_t s) { return launch_gemm_mma(a, 0, s); }

cudaError_t launch_gemm_mma(const GemmArgs& a, int tile_rows, cudaStream_t s) {
  if (a.rows <= 0 || a.n <= 0 || launch_groups(a) <= 0) return cudaSuccess;
  if (!gemm_mma_fits(a)) return cudaErrorInvalidValue;
  // 16-byte weight loads: every row starts 16-byte aligned (the arena and the
  // test buffers start 256-byte aligned) and a chunk never crosses cols
  const bool vec_w = a.cols % 16 == 0;
  const bool vec_x = a.cols % 4 == 0 && a.ldx % 4 == 0 && a.x_group_step % 4 == 0 &&
                     reinterpret_cast<uintptr_t>(a.x) % 16 == 0;
  if (tile_rows == 0) {
    // 128-row tiles unless that leaves multiprocessors idle (small products
    // at prefill: q_a at 512 tokens is 12 x 8 tiles)
    const int64_t blocks = (a.rows + 127) / 128 * launch_products(a) * ((a.n + kBN - 1) / kBN) * launch_groups(a);
    tile_rows = blocks >= 2 * multiprocessors() ? 128 : 64;
  }
  if (tile_rows == 64) {
    if (vec_w && vec_x) return launch_mma<64, true, true, 1>(a, s);
    if (vec_w) return launch_mma<64, true, false, 1>(a, s);
    if (vec_x) return launch_mma<64, false, true, 1>(a, s);
    return launch_mma<64, false, false, 1>(a, s);
  }
  // two blocks per multiprocessor (registers capped at 128; measured 2.5 %
  // faster than one block with no cap on an H200 at 2,048 tokens)
  if (vec_w && vec_x) return launch_mma<128, true, true, 2>(a, s);
  if (vec_w) return launch_mma<128, true, false, 1>(a, s);
  if (vec_x) return launch_mma<128, false, true, 1>(a, s);
  return launch_mma<128, false, false, 1>(a, s);
}

}  // namespace dsv3::cuda
