// Flash-decoding MLA attention (DSV3_CUDA_FAST): each (token, head) splits
// its keys into `splits` ranges, one block each, so a single decoded token
// still fills the GPU; a second kernel merges the ranges' softmax partials.
// A lane keeps its elements of two cache rows in registers (loaded once for
// the score and the value update), so each warp has 2 rows in flight.
#include <cmath>

#include "cuda/dmat_load.cuh"
#include "cuda/kernels.h"

namespace dsv3::cuda {
namespace {

constexpr int kWarps = 4;
constexpr int kMaxW = 20;     // row elements per lane: width <= 640
constexpr int kMaxLat = 16;   // latent elements per lane: lora <= 512

template <bool kF16>
__device__ __forceinline__ float cache_at(const void* cache, int64_t i) {
  if constexpr (kF16)
    return __half2float(static_cast<const __half*>(cache)[i]);
  else
    return static_cast<const float*>(cache)[i];
}

// Partials: acc [n][heads][splits][lora] (unnormalised), ml [n][heads][splits][2] = (max, sum).
template <bool kF16>
__device__ __forceinline__ void split_body(const float* q_abs, int64_t heads, int64_t width, int64_t lora, float scale,
                                           const TokenSlot& sl, int64_t layer, int splits, float* part_acc,
                                           float* part_ml, float* ms, float* ls, float* accs) {
  const int64_t h = blockIdx.x, i = blockIdx.y;
  const int split = static_cast<int>(blockIdx.z);
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int64_t n_kv = sl.pos + 1;  // causal: itself and everything before
  const int64_t per = (n_kv + splits - 1) / splits;
  const int64_t j0 = static_cast<int64_t>(split) * per, j1 = min(n_kv, j0 + per);
  const float* qp = q_abs + (i * heads + h) * width;
  float q[kMaxW];
#pragma unroll
  for (int k = 0; k < kMaxW; ++k) {
    const int64_t c = lane + 32 * k;
    q[k] = c < width ? qp[c] : 0.0f;
  }
  const int64_t layer_off = layer * sl.capacity;
  float m = -INFINITY, l = 0.0f, acc[kMaxLat];
#pragma unroll
  for (int k = 0; k < kMaxLat; ++k) acc[k] = 0.0f;
  for (int64_t j = j0 + warp; j < j1; j += 2 * kWarps) {
    const int64_t ja = j, jb = j + kWarps;
    const bool has_b = jb < j1;
    const int64_t oa = (layer_off + ja) * width, ob = (layer_off + (has_b ? jb : ja)) * width;
    float ra[kMaxW], rb[kMaxW];
#pragma unroll
    for (int k = 0; k < kMaxW; ++k) {
      const int64_t c = lane + 32 * k;
      ra[k] = c < width ? cache_at<kF16>(sl.cache, oa + c) : 0.0f;
      rb[k] = c < width ? cache_at<kF16>(sl.cache, ob + c) : 0.0f;
    }
    float sa = 0.0f, sb = 0.0f;
#pragma unroll
    for (int k = 0; k < kMaxW; ++k) {
      sa += q[k] * ra[k];
      sb += q[k] * rb[k];
    }
    sa = warp_sum(sa) * scale;
    sb = warp_sum(sb) * scale;
    const float m_new = fmaxf(m, has_b ? fmaxf(sa, sb) : sa);
    const float corr = expf(m - m_new), pa = expf(sa - m_new), pb = has_b ? expf(sb - m_new) : 0.0f;
    l = l * corr + pa + pb;
#pragma unroll
    for (int k = 0; k < kMaxLat; ++k) acc[k] = acc[k] * corr + pa * ra[k] + pb * rb[k];
    m = m_new;
  }
  if (lane == 0) {
    ms[warp] = m;
    ls[warp] = l;
  }
#pragma unroll
  for (int k = 0; k < kMaxLat; ++k) {
    const int64_t c = lane + 32 * k;
    if (c < lora) accs[warp * lora + c] = acc[k];
  }
  __syncthreads();
  float big = -INFINITY;
  for (int w = 0; w < kWarps; ++w)
    if (ls[w] > 0.0f) big = fmaxf(big, ms[w]);
  float wsum[kWarps], total = 0.0f;
  for (int w = 0; w < kWarps; ++w) {
    wsum[w] = ls[w] > 0.0f ? expf(ms[w] - big) : 0.0f;  // warps that saw no rows weigh nothing
    total += ls[w] * wsum[w];
  }
  const int64_t p = (i * heads + h) * splits + split;
  float* o = part_acc + p * lora;
  for (int64_t c = threadIdx.x; c < lora; c += blockDim.x) {
    float v = 0.0f;
    for (int w = 0; w < kWarps; ++w) v += accs[w * lora + c] * wsum[w];
    o[c] = v;
  }
  if (threadIdx.x == 0) {
    part_ml[2 * p] = big;
    part_ml[2 * p + 1] = total;  // 0 for a range with no rows
  }
}

__global__ void __launch_bounds__(kWarps * 32)
    split_kernel(const float* q_abs, int64_t heads, int64_t width, int64_t lora, float scale, const TokenSlot* slots,
                 int64_t layer, int splits, float* part_acc, float* part_ml) {
  __shared__ float ms[kWarps], ls[kWarps];
  extern __shared__ float accs[];  // [warps][lora]
  const TokenSlot sl = slots[blockIdx.y];
  if (sl.f16)
    split_body<true>(q_abs, heads, width, lora, scale, sl, layer, splits, part_acc, part_ml, ms, ls, accs);
  else
    split_body<false>(q_abs, heads, width, lora, scale, sl, layer, splits, part_acc, part_ml, ms, ls, accs);
}

// One (token, head): the ranges' weights exp(m_s - max) / total once in
// shared memory (a warp over the ranges), then every latent element sums its
// ranges with the loads unrolled, so they are in flight together.
constexpr int kMaxSplits = 64;
__global__ void __launch_bounds__(256) merge_kernel(const float* part_acc, const float* part_ml, int64_t heads,
                                                    int64_t lora, int splits, float* out) {
  __shared__ float weight[kMaxSplits];
  const int64_t h = blockIdx.x, i = blockIdx.y;
  const int64_t p0 = (i * heads + h) * splits;
  if (threadIdx.x < 32) {
    const int lane = threadIdx.x;
    float m[2], l[2];
#pragma unroll
    for (int k = 0; k < 2; ++k) {
      const int s = lane + 32 * k;
      l[k] = s < splits ? part_ml[2 * (p0 + s) + 1] : 0.0f;
      m[k] = l[k] > 0.0f ? part_ml[2 * (p0 + s)] : -INFINITY;  // ranges with no rows weigh nothing
    }
    float big = fmaxf(m[0], m[1]);
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) big = fmaxf(big, __shfl_xor_sync(0xffffffffu, big, o));
    float e[2], total = 0.0f;
#pragma unroll
    for (int k = 0; k < 2; ++k) {
      e[k] = l[k] > 0.0f ? expf(m[k] - big) : 0.0f;
      total += l[k] * e[k];
    }
    total = warp_sum(total);
#pragma unroll
    for (int k = 0; k < 2; ++k)
      if (lane + 32 * k < splits) weight[lane + 32 * k] = total > 0.0f ? e[k] / total : 0.0f;
  }
  __syncthreads();
  float* o = out + (i * heads + h) * lora;
  const float* acc = part_acc + p0 * lora;
  for (int64_t c = threadIdx.x; c < lora; c += blockDim.x) {
    float v = 0.0f;
#pragma unroll 8
    for (int s = 0; s < splits; ++s) v += acc[s * lora + c] * weight[s];
    o[c] = v;
  }
}

}  // namespace

int attention_splits(int64_t n, int64_t heads, int sms) {
  // about four blocks per multiprocessor in all, at most 64 ranges
  const int64_t want = (4 * static_cast<int64_t>(sms > 0 ? sms : 132) + n * heads - 1) / (n * heads > 0 ? n * heads : 1);
  return static_cast<int>(want < 1 ? 1 : want > 64 ? 64 : want);
}

int64_t attention_split_scratch_floats(int64_t n, int64_t heads, int64_t lora, int splits) {
  return n * heads * splits * (lora + 2);
}

cudaError_t launch_mla_attention_split(const float* q_abs, int64_t n, int64_t heads, int64_t width, int64_t lora,
                                       float scale, const TokenSlot* slots, int64_t layer, int splits, float* scratch,
                                       int64_t scratch_floats, float* out, cudaStream_t s) {
  if (n <= 0) return cudaSuccess;
  if (lora > 32 * kMaxLat || width > 32 * kMaxW || lora > width || splits < 1 || splits > kMaxSplits || n > 65535 ||
      heads > 65535 || scratch == nullptr || scratch_floats < attention_split_scratch_floats(n, heads, lora, splits))
    return cudaErrorInvalidValue;
  float* part_acc = scratch;
  float* part_ml = scratch + n * heads * splits * lora;
  const dim3 grid(static_cast<unsigned>(heads), static_cast<unsigned>(n), static_cast<unsigned>(splits));
  const std::size_t smem = static_cast<std::size_t>(kWarps * lora) * sizeof(float);
  split_kernel<<<grid, kWarps * 32, smem, s>>>(q_abs, heads, width, lora, scale, slots, layer, splits, part_acc, part_ml);
  if (const cudaError_t e = cudaGetLastError(); e != cudaSuccess) return e;
  merge_kernel<<<dim3(static_cast<unsigned>(heads), static_cast<unsigned>(n)), 256, 0, s>>>(part_acc, part_ml, heads,
                                                                                              lora, splits, out);
  return cudaGetLastError();
}

}  // namespace dsv3::cuda
