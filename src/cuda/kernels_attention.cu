// MLA on the device: new cache rows (latent norm, k_pe rope, store), the
// absorbed queries, and attention over the latent cache (online softmax).
#include <cmath>

#include "cuda/dmat_load.cuh"
#include "cuda/kernels.h"
#include "cuda/switches.h"

namespace dsv3::cuda {
namespace {

constexpr int kAttnWarps = 4;
constexpr int kPerLane = 16;  // latent values per lane: kv_lora_rank <= 512

__device__ __forceinline__ float cache_at(const void* cache, bool f16, int64_t i) {
  return f16 ? __half2float(static_cast<const __half*>(cache)[i]) : static_cast<const float*>(cache)[i];
}

__global__ void kv_store_kernel(float* kv, int64_t lora, int64_t width, const float* norm_w, float eps,
                                const float* inv_freq, float factor, const TokenSlot* slots, int64_t layer) {
  const int64_t i = blockIdx.x;
  float* row = kv + i * width;
  double ss = 0.0;
  for (int64_t c = threadIdx.x; c < lora; c += blockDim.x) ss += static_cast<double>(row[c]) * row[c];
  ss = block_sum(ss);
  const float inv = 1.0f / sqrtf(static_cast<float>(ss / static_cast<double>(lora)) + eps);
  for (int64_t c = threadIdx.x; c < lora; c += blockDim.x) row[c] = norm_w[c] * (row[c] * inv);
  const TokenSlot sl = slots[i];
  const int pairs = static_cast<int>((width - lora) / 2);
  for (int p = threadIdx.x; p < pairs; p += blockDim.x) rotate_pair(row + lora, p, sl.pos, inv_freq, factor);
  __syncthreads();
  const int64_t at = (layer * sl.capacity + sl.pos) * width;
  for (int64_t c = threadIdx.x; c < width; c += blockDim.x) {
    if (sl.f16)  // as f32_to_f16: nearest, saturating
      static_cast<__half*>(sl.cache)[at + c] = __float2half_rn(fminf(fmaxf(row[c], -65504.0f), 65504.0f));
    else
      static_cast<float*>(sl.cache)[at + c] = row[c];
  }
}

__global__ void absorb_q_kernel(const float* q, DMat kv_b, int64_t heads, int64_t nope, int64_t rope, int64_t vd,
                                int64_t lora, const float* inv_freq, float factor, const TokenSlot* slots,
                                float* q_abs) {
  const int64_t c = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  const int64_t h = blockIdx.y, i = blockIdx.z;
  const int64_t qk = nope + rope, width = lora + rope;
  const float* qh = q + (i * heads + h) * qk;
  float* out = q_abs + (i * heads + h) * width;
  if (c < lora) {
    float acc = 0.0f;
    const int64_t r0 = h * (nope + vd);
    for (int64_t d = 0; d < nope; ++d) acc += qh[d] * load1(kv_b, r0 + d, c);
    out[c] = acc;
  } else if (c < width && (c - lora) % 2 == 0) {
    const int p = static_cast<int>((c - lora) / 2);
    float a = qh[nope + 2 * p], b = qh[nope + 2 * p + 1];
    rotate2(a, b, inv_freq[p], slots[i].pos, factor);
    out[c] = a;
    out[c + 1] = b;
  }
}

// DSV3_CUDA_FAST: four threads share a column's sum over nope (each a quarter
// of it, loads unrolled), so each thread waits on 32 loads, not 128.
constexpr int kAbsorbCols = 128, kAbsorbSlices = 4;
__global__ void __launch_bounds__(kAbsorbCols * kAbsorbSlices)
    absorb_q_fast_kernel(const float* q, DMat kv_b, int64_t heads, int64_t nope, int64_t rope, int64_t vd,
                         int64_t lora, const float* inv_freq, float factor, const TokenSlot* slots, float* q_abs) {
  __shared__ float part[kAbsorbSlices][kAbsorbCols];
  const int tx = threadIdx.x, ty = threadIdx.y;
  const int64_t c = static_cast<int64_t>(blockIdx.x) * kAbsorbCols + tx;
  const int64_t h = blockIdx.y, i = blockIdx.z;
  const int64_t qk = nope + rope, width = lora + rope;
  const float* qh = q + (i * heads + h) * qk;
  float* out = q_abs + (i * heads + h) * width;
  float acc = 0.0f;
  if (c < lora) {
    const int64_t r0 = h * (nope + vd);
#pragma unroll 8
    for (int64_t d = ty; d < nope; d += kAbsorbSlices) acc += qh[d] * load1(kv_b, r0 + d, c);
  }
  part[ty][tx] = acc;
  __syncthreads();
  if (ty == 0 && c < lora) {
    float v = 0.0f;
#pragma unroll
    for (int k = 0; k < kAbsorbSlices; ++k) v += part[k][tx];
    out[c] = v;
  }
  if (blockIdx.x == 0 && ty == 1) {
    const int64_t pos = slots[i].pos;
    for (int64_t p = tx; p < rope / 2; p += kAbsorbCols) {
      float a = qh[nope + 2 * p], b = qh[nope + 2 * p + 1];
      rotate2(a, b, inv_freq[p], pos, factor);
      out[lora + 2 * p] = a;
      out[lora + 2 * p + 1] = b;
    }
  }
}

__global__ void __launch_bounds__(kAttnWarps * 32)
    attention_kernel(const float* q_abs, int64_t heads, int64_t width, int64_t lora, float scale,
                     const TokenSlot* slots, int64_t layer, float* out) {
  extern __shared__ float smem[];
  float* qs = smem;
  float* ms = qs + width;
  float* ls = ms + kAttnWarps;
  float* accs = ls + kAttnWarps;  // [warps][lora]
  const int64_t h = blockIdx.x, i = blockIdx.y;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const float* q = q_abs + (i * heads + h) * width;
  for (int64_t c = threadIdx.x; c < width; c += blockDim.x) qs[c] = q[c];
  __syncthreads();
  const TokenSlot sl = slots[i];
  const bool f16 = sl.f16 != 0;
  const int64_t n_kv = sl.pos + 1;  // causal: itself and everything before
  float m = -INFINITY, l = 0.0f, acc[kPerLane] = {};
  for (int64_t j = warp; j < n_kv; j += kAttnWarps) {
    const int64_t off = (layer * sl.capacity + j) * width;
    float s = 0.0f;
    for (int64_t c = lane; c < width; c += 32) s += qs[c] * cache_at(sl.cache, f16, off + c);
    s = warp_sum(s) * scale;
    const float m_new = fmaxf(m, s);
    const float corr = expf(m - m_new), p = expf(s - m_new);
    l = l * corr + p;
#pragma unroll
    for (int k = 0; k < kPerLane; ++k) {
      const int64_t c = lane + 32 * k;
      if (c < lora) acc[k] = acc[k] * corr + p * cache_at(sl.cache, f16, off + c);
    }
    m = m_new;
  }
  if (lane == 0) {
    ms[warp] = m;
    ls[warp] = l;
  }
#pragma unroll
  for (int k = 0; k < kPerLane; ++k) {
    const int64_t c = lane + 32 * k;
    if (c < lora) accs[warp * lora + c] = acc[k];
  }
  __syncthreads();
  float big = -INFINITY;
  for (int w = 0; w < kAttnWarps; ++w) big = fmaxf(big, ms[w]);
  float wsum[kAttnWarps], total = 0.0f;
  for (int w = 0; w < kAttnWarps; ++w) {
    wsum[w] = ls[w] > 0.0f ? expf(ms[w] - big) : 0.0f;  // warps that saw no rows weigh nothing
    total += ls[w] * wsum[w];
  }
  float* o = out + (i * heads + h) * lora;
  for (int64_t c = threadIdx.x; c < lora; c += blockDim.x) {
    float v = 0.0f;
    for (int w = 0; w < kAttnWarps; ++w) v += accs[w * lora + c] * wsum[w];
    o[c] = v / total;
  }
}

}  // namespace

cudaError_t launch_kv_store(float* kv, int64_t n, int64_t lora, int64_t width, const float* norm_w, float eps,
                            const float* inv_freq, float attention_factor, const TokenSlot* slots, int64_t layer,
                            cudaStream_t s) {
  if (n <= 0) return cudaSuccess;
  kv_store_kernel<<<static_cast<unsigned>(n), 128, 0, s>>>(kv, lora, width, norm_w, eps, inv_freq, attention_factor,
                                                           slots, layer);
  return cudaGetLastError();
}

cudaError_t launch_absorb_q(const float* q, const DMat& kv_b, int64_t n, int64_t heads, int64_t nope, int64_t rope,
                            int64_t vd, int64_t lora, const float* inv_freq, float attention_factor,
                            const TokenSlot* slots, float* q_abs, cudaStream_t s) {
  if (n <= 0) return cudaSuccess;
  if (fast_kernels() && lora >= 1 && n <= 65535 && heads <= 65535) {
    const dim3 grid(static_cast<unsigned>((lora + kAbsorbCols - 1) / kAbsorbCols), static_cast<unsigned>(heads),
                    static_cast<unsigned>(n));
    absorb_q_fast_kernel<<<grid, dim3(kAbsorbCols, kAbsorbSlices), 0, s>>>(q, kv_b, heads, nope, rope, vd, lora,
                                                                          inv_freq, attention_factor, slots, q_abs);
    return cudaGetLastError();
  }
  const dim3 grid(static_cast<unsigned>((lora + rope + 127) / 128), static_cast<unsigned>(heads),
                  static_cast<unsigned>(n));
  absorb_q_kernel<<<grid, 128, 0, s>>>(q, kv_b, heads, nope, rope, vd, lora, inv_freq, attention_factor, slots, q_abs);
  return cudaGetLastError();
}

cudaError_t launch_mla_attention(const float* q_abs, int64_t n, int64_t heads, int64_t width, int64_t lora,
                                 float scale, const TokenSlot* slots, int64_t layer, float* out, cudaStream_t s) {
  if (n <= 0) return cudaSuccess;
  if (lora > 32 * kPerLane || lora > width) return cudaErrorInvalidValue;
  const std::size_t smem = static_cast<std::size_t>(width + 2 * kAttnWarps + kAttnWarps * lora) * sizeof(float);
  const dim3 grid(static_cast<unsigned>(heads), static_cast<unsigned>(n));
  attention_kernel<<<grid, kAttnWarps * 32, smem, s>>>(q_abs, heads, width, lora, scale, slots, layer, out);
  return cudaGetLastError();
}

}  // namespace dsv3::cuda
