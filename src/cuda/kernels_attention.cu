// MLA on the device: new cache rows (latent norm, k_pe rope, store) with the
// queries' rope parts, and attention over the latent cache (online softmax).
// The absorbed queries' latent parts are a weight product (W_uk^T per head,
// transposed once at upload: device_weights.cpp).
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
                                const float* inv_freq, float factor, const TokenSlot* slots, int64_t layer, QRope qr) {
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
  if (qr.q) {  // the queries' rope parts, rotated to the same position
    const int64_t rope = width - lora, qk = qr.nope + rope;
    for (int64_t t = threadIdx.x; t < qr.heads * pairs; t += blockDim.x) {
      const int64_t h = t / pairs;
      const int p = static_cast<int>(t % pairs);
      const float* qh = qr.q + (i * qr.heads + h) * qk + qr.nope;
      float a = qh[2 * p], b = qh[2 * p + 1];
      rotate2(a, b, inv_freq[p], sl.pos, factor);
      float* o = qr.q_abs + (i * qr.heads + h) * width + lora;
      o[2 * p] = a;
      o[2 * p + 1] = b;
    }
  }
  __syncthreads();
  const int64_t at = (layer * sl.capacity + sl.pos) * width;
  for (int64_t c = threadIdx.x; c < width; c += blockDim.x) {
    if (sl.f16)  // as f32_to_f16: nearest, saturating
      static_cast<__half*>(sl.cache)[at + c] = __float2half_rn(fminf(fmaxf(row[c], -65504.0f), 65504.0f));
    else
      static_cast<float*>(sl.cache)[at + c] = row[c];
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

// DSV3_CUDA_FAST, for many tokens (prefill, decode batches): one block per
// token and 16 heads, which all read the same latent rows. A tile of 32 rows
// is loaded into shared memory once for the 16 heads; each warp then takes
// two heads: a lane scores one row of the tile against both, the warp keeps
// the online softmax, and a lane accumulates its latent elements of both
// heads' outputs. The row pitch in shared memory is width + 1 floats, so the
// 32 lanes reading 32 rows at one column hit 32 banks.
constexpr int kTileHeads = 16, kTileKeys = 32, kTileWarps = 8;

std::size_t heads_kernel_smem(int64_t width) {
  return static_cast<std::size_t>(kTileHeads * width + kTileKeys * (width + 1)) * sizeof(float);
}

__global__ void __launch_bounds__(kTileWarps * 32)
    attention_heads_kernel(const float* q_abs, int64_t heads, int64_t width, int64_t lora, float scale,
                           const TokenSlot* slots, int64_t layer, float* out) {
  extern __shared__ float smem[];
  float* qs = smem;                        // [kTileHeads][width]
  float* ks = smem + kTileHeads * width;   // [kTileKeys][width + 1]
  const int64_t i = blockIdx.x, h0 = static_cast<int64_t>(blockIdx.y) * kTileHeads;
  const int64_t nh = min(static_cast<int64_t>(kTileHeads), heads - h0);
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int64_t pitch = width + 1;
  for (int64_t e = threadIdx.x; e < nh * width; e += blockDim.x) qs[e] = q_abs[(i * heads + h0) * width + e];
  const TokenSlot sl = slots[i];
  const bool f16 = sl.f16 != 0;
  const int64_t n_kv = sl.pos + 1;  // causal: itself and everything before
  // this warp's heads (a and b), either past the block's heads when it has fewer
  const int64_t ha = 2 * warp, hb = 2 * warp + 1;
  const bool has_a = ha < nh, has_b = hb < nh;
  const float* qa = qs + (has_a ? ha : 0) * width;
  const float* qb = qs + (has_b ? hb : 0) * width;
  float ma = -INFINITY, la = 0.0f, mb = -INFINITY, lb = 0.0f;
  float acc_a[kPerLane], acc_b[kPerLane];
#pragma unroll
  for (int k = 0; k < kPerLane; ++k) acc_a[k] = acc_b[k] = 0.0f;
  for (int64_t j0 = 0; j0 < n_kv; j0 += kTileKeys) {
    const int64_t rows = min(static_cast<int64_t>(kTileKeys), n_kv - j0);
    __syncthreads();  // the previous tile is read by everyone (and q is written, the first time)
    const int64_t base = (layer * sl.capacity + j0) * width;
    for (int64_t r = warp; r < rows; r += kTileWarps)  // a warp per row: no index division
      for (int64_t c = lane; c < width; c += 32) ks[r * pitch + c] = cache_at(sl.cache, f16, base + r * width + c);
    __syncthreads();
    if (!has_a) continue;  // no barrier below: a warp without heads only loads
    // scores: lane = row of the tile
    float sa = 0.0f, sb = 0.0f;
    const float* kr = ks + lane * pitch;
    if (lane < rows) {
#pragma unroll 8
      for (int64_t c = 0; c < width; ++c) {
        const float kv = kr[c];
        sa = fmaf(qa[c], kv, sa);
        sb = fmaf(qb[c], kv, sb);
      }
    }
    sa = lane < rows ? sa * scale : -INFINITY;
    sb = lane < rows && has_b ? sb * scale : -INFINITY;
    float ta = sa, tb = sb;
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) {
      ta = fmaxf(ta, __shfl_xor_sync(0xffffffffu, ta, o));
      tb = fmaxf(tb, __shfl_xor_sync(0xffffffffu, tb, o));
    }
    const float na = fmaxf(ma, ta), nb = fmaxf(mb, tb);
    const float pa = lane < rows ? expf(sa - na) : 0.0f;
    const float pb = lane < rows && has_b ? expf(sb - nb) : 0.0f;
    const float ca = expf(ma - na), cb = has_b ? expf(mb - nb) : 0.0f;  // exp(-inf) = 0 on the first tile
    la = la * ca + warp_sum(pa);
    lb = lb * cb + warp_sum(pb);
    ma = na;
    mb = nb;
#pragma unroll
    for (int k = 0; k < kPerLane; ++k) {
      acc_a[k] *= ca;
      acc_b[k] *= cb;
    }
    // values: every row of the tile, its weights broadcast from the lane that scored it
    for (int jj = 0; jj < rows; ++jj) {
      const float wa = __shfl_sync(0xffffffffu, pa, jj), wb = __shfl_sync(0xffffffffu, pb, jj);
      const float* vr = ks + jj * pitch;
#pragma unroll
      for (int k = 0; k < kPerLane; ++k) {
        const int64_t c = lane + 32 * k;
        if (c < lora) {
          const float v = vr[c];
          acc_a[k] = fmaf(wa, v, acc_a[k]);
          acc_b[k] = fmaf(wb, v, acc_b[k]);
        }
      }
    }
  }
  if (!has_a) return;
#pragma unroll
  for (int k = 0; k < kPerLane; ++k) {
    const int64_t c = lane + 32 * k;
    if (c >= lora) continue;
    out[(i * heads + h0 + ha) * lora + c] = acc_a[k] / la;
    if (has_b) out[(i * heads + h0 + hb) * lora + c] = acc_b[k] / lb;
  }
}

}  // namespace

cudaError_t launch_kv_store(float* kv, int64_t n, int64_t lora, int64_t width, const float* norm_w, float eps,
                            const float* inv_freq, float attention_factor, const TokenSlot* slots, int64_t layer,
                            const QRope& q_rope, cudaStream_t s) {
  if (n <= 0) return cudaSuccess;
  kv_store_kernel<<<static_cast<unsigned>(n), 128, 0, s>>>(kv, lora, width, norm_w, eps, inv_freq, attention_factor,
                                                           slots, layer, q_rope);
  return cudaGetLastError();
}

cudaError_t launch_mla_attention(const float* q_abs, int64_t n, int64_t heads, int64_t width, int64_t lora,
                                 float scale, const TokenSlot* slots, int64_t layer, float* out, cudaStream_t s) {
  if (n <= 0) return cudaSuccess;
  if (lora > 32 * kPerLane || lora > width) return cudaErrorInvalidValue;
  if (fast_kernels() && n <= 2147483647 && (heads + kTileHeads - 1) / kTileHeads <= 65535) {
    const std::size_t smem = heads_kernel_smem(width);
    // above the 48 KiB a block gets without asking: raised once to what MLA's widest rows need
    static const cudaError_t attr = cudaFuncSetAttribute(attention_heads_kernel,
                                                         cudaFuncAttributeMaxDynamicSharedMemorySize,
                                                         static_cast<int>(heads_kernel_smem(640)));
    if (attr != cudaSuccess) return attr;
    if (width > 640) return cudaErrorInvalidValue;
    const dim3 grid(static_cast<unsigned>(n), static_cast<unsigned>((heads + kTileHeads - 1) / kTileHeads));
    attention_heads_kernel<<<grid, kTileWarps * 32, smem, s>>>(q_abs, heads, width, lora, scale, slots, layer, out);
    return cudaGetLastError();
  }
  const std::size_t smem = static_cast<std::size_t>(width + 2 * kAttnWarps + kAttnWarps * lora) * sizeof(float);
  const dim3 grid(static_cast<unsigned>(heads), static_cast<unsigned>(n));
  attention_kernel<<<grid, kAttnWarps * 32, smem, s>>>(q_abs, heads, width, lora, scale, slots, layer, out);
  return cudaGetLastError();
}

}  // namespace dsv3::cuda
