// The rest of a layer on the device: embedding rows, RMSNorm, residual add,
// SwiGLU's product, RoPE on rows, and MoE routing, grouping and combining.
#include <cmath>

#include "cuda/dmat_load.cuh"
#include "cuda/kernels.h"
#include "cuda/switches.h"

namespace dsv3::cuda {
namespace {

constexpr int kMaxExperts = kRouteMaxExperts;
constexpr int kMaxGroups = kRouteMaxGroups;

unsigned blocks_for(int64_t n, int threads) { return static_cast<unsigned>((n + threads - 1) / threads); }

__global__ void embed_kernel(DMat table, const int32_t* ids, float* out) {
  const int64_t i = blockIdx.x;
  const int64_t id = ids[i];
  for (int64_t c = threadIdx.x; c < table.cols; c += blockDim.x) out[i * table.cols + c] = load1(table, id, c);
}

__global__ void rmsnorm_kernel(const float* x, int64_t ldx, const float* w, int64_t cols, float eps, float* out,
                               int64_t ldo) {
  const float* row = x + blockIdx.x * ldx;
  double ss = 0.0;
  for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) ss += static_cast<double>(row[c]) * row[c];
  ss = block_sum(ss);
  const float inv = 1.0f / sqrtf(static_cast<float>(ss / static_cast<double>(cols)) + eps);
  float* o = out + blockIdx.x * ldo;
  for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) o[c] = w[c] * (row[c] * inv);
}

__global__ void add_rmsnorm_kernel(float* x, const float* y, const float* w, int64_t cols, float eps, float* out) {
  float* row = x + blockIdx.x * cols;
  const float* add = y + blockIdx.x * cols;
  double ss = 0.0;
  for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) {
    const float v = row[c] + add[c];
    row[c] = v;  // each thread reads back only the columns it wrote
    ss += static_cast<double>(v) * v;
  }
  ss = block_sum(ss);
  const float inv = 1.0f / sqrtf(static_cast<float>(ss / static_cast<double>(cols)) + eps);
  float* o = out + blockIdx.x * cols;
  for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) o[c] = w[c] * (row[c] * inv);
}

__global__ void silu_mul_kernel(const float* g, const float* u, int64_t n, float* out) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n) {
    const float v = g[i];
    out[i] = v / (1.0f + expf(-v)) * u[i];
  }
}

__global__ void rope_kernel(float* x, int64_t ldx, const int64_t* pos, int64_t n, const float* inv_freq, int pairs,
                            float factor) {
  const int64_t t = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (t >= n * pairs) return;
  const int64_t i = t / pairs;
  rotate_pair(x + i * ldx, static_cast<int>(t % pairs), pos[i], inv_freq, factor);
}

// One thread per token, the same steps in the same order as route_token.
// Scores are recomputed rather than kept (a per-thread array of them would
// make every resident thread reserve that much local memory); a bit per
// expert marks the ones ruled out.
__global__ void route_kernel(const float* logits, const float* bias, int64_t n, RouteParams p, int32_t* experts,
                             float* weights) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= n) return;
  const int64_t ne = p.experts, groups = p.groups, per_group = ne / groups, top_k = p.top_k;
  const float* lg = logits + i * ne;
  auto score = [&](int64_t e) { return 1.0f / (1.0f + expf(-lg[e])); };
  auto choice = [&](int64_t e) { return score(e) + (bias ? bias[e] : 0.0f); };
  unsigned out[kMaxExperts / 32];  // ruled out: outside the kept groups, or chosen already
  for (int w = 0; w < kMaxExperts / 32; ++w) out[w] = 0u;
  auto is_out = [&](int64_t e) { return (out[e / 32] >> (e % 32)) & 1u; };
  auto rule_out = [&](int64_t e) { out[e / 32] |= 1u << (e % 32); };
  if (groups > 1) {
    float group_score[kMaxGroups];
    bool keep[kMaxGroups];
    for (int64_t g = 0; g < groups; ++g) {
      float best = -INFINITY, second = -INFINITY;
      for (int64_t e = g * per_group; e < (g + 1) * per_group; ++e) {
        const float c = choice(e);
        if (c > best) {
          second = best;
          best = c;
        } else if (c > second) {
          second = c;
        }
      }
      group_score[g] = per_group >= 2 ? best + second : best;
      keep[g] = false;
    }
    for (int64_t k = 0; k < p.topk_group; ++k) {
      int64_t arg = -1;
      for (int64_t g = 0; g < groups; ++g)
        if (!keep[g] && (arg < 0 || group_score[g] > group_score[arg])) arg = g;
      if (arg >= 0) keep[arg] = true;
    }
    for (int64_t e = 0; e < ne; ++e)
      if (!keep[e / per_group]) rule_out(e);
  }
  float sum = 0.0f;
  for (int64_t k = 0; k < top_k; ++k) {
    int64_t arg = -1;
    float best = 0.0f;
    for (int64_t e = 0; e < ne; ++e) {
      if (is_out(e)) continue;
      const float c = choice(e);
      if (arg < 0 || c > best) {
        arg = e;
        best = c;
      }
    }
    if (arg < 0) arg = 0;  // only with fewer experts than top_k left; keeps the indices in range
    const float s = score(arg);
    experts[i * top_k + k] = static_cast<int32_t>(arg);
    weights[i * top_k + k] = s;
    rule_out(arg);
    sum += s;
  }
  const float norm = p.norm_topk_prob ? 1.0f / (sum + 1e-20f) : 1.0f;
  for (int64_t k = 0; k < top_k; ++k)
    weights[i * top_k + k] = weights[i * top_k + k] * norm * p.routed_scaling_factor;
}

// DSV3_CUDA_FAST: one warp per token, the same choices as route_kernel. Lane
// l holds experts l, l + 32, ...; each top-k pick is a warp argmax that
// breaks ties toward the lower index, as the serial scan does.
constexpr int kRouteWarps = 4;

__device__ __forceinline__ void better_of(float& best, int& arg, float c, int e) {
  // arg < 0: none yet; otherwise strictly greater wins, equal values keep the lower index
  if (e < 0) return;
  if (arg < 0 || c > best || (c == best && e < arg)) {
    best = c;
    arg = e;
  }
}

// kPerLaneExperts: experts each lane holds (the experts' count / 32, rounded up)
template <int kPerLaneExperts>
__global__ void __launch_bounds__(kRouteWarps * 32)
    route_warp_kernel(const float* logits, const float* bias, int64_t n, RouteParams p, int32_t* experts,
                      float* weights) {
  // each warp's scores and choices, computed once: the group and top-k scans read them here
  __shared__ float s_score[kRouteWarps][kPerLaneExperts * 32], s_choice[kRouteWarps][kPerLaneExperts * 32];
  const int lane = threadIdx.x % 32, wid = threadIdx.x / 32;
  const int64_t i = static_cast<int64_t>(blockIdx.x) * kRouteWarps + wid;
  if (i >= n) return;  // a whole warp leaves together: the shuffles below see full warps
  const int ne = static_cast<int>(p.experts), groups = static_cast<int>(p.groups), per_group = ne / groups;
  const int top_k = static_cast<int>(p.top_k);
  const float* lg = logits + i * ne;
  float* score = s_score[wid];
  float* choice = s_choice[wid];
  float ch[kPerLaneExperts];
  unsigned out = 0u;  // bit k: expert lane + 32 k ruled out (or absent)
#pragma unroll
  for (int k = 0; k < kPerLaneExperts; ++k) {
    const int e = lane + 32 * k;
    ch[k] = 0.0f;
    if (e < ne) {
      const float sc = 1.0f / (1.0f + expf(-lg[e]));
      ch[k] = sc + (bias ? bias[e] : 0.0f);
      score[e] = sc;
      choice[e] = ch[k];
    } else {
      out |= 1u << k;
    }
  }
  __syncwarp();
  if (groups > 1) {
    // group g's score by lanes g % 32 (groups <= 64), in the serial order
    float gs[2] = {-INFINITY, -INFINITY};
#pragma unroll
    for (int k = 0; k < 2; ++k) {
      const int g = lane + 32 * k;
      if (g >= groups) continue;
      float best = -INFINITY, second = -INFINITY;
      for (int e = g * per_group; e < (g + 1) * per_group; ++e) {
        const float c = choice[e];
        if (c > best) {
          second = best;
          best = c;
        } else if (c > second) {
          second = c;
        }
      }
      gs[k] = per_group >= 2 ? best + second : best;
    }
    // keep topk_group groups: repeated argmax, ties to the lower group
    unsigned long long keep = 0ull;
    for (int64_t r = 0; r < p.topk_group; ++r) {
      float best = 0.0f;
      int arg = -1;
#pragma unroll
      for (int k = 0; k < 2; ++k) {
        const int g = lane + 32 * k;
        if (g < groups && !((keep >> g) & 1ull)) better_of(best, arg, gs[k], g);
      }
#pragma unroll
      for (int o = 16; o > 0; o >>= 1) {
        const float ob = __shfl_xor_sync(0xffffffffu, best, o);
        const int oa = __shfl_xor_sync(0xffffffffu, arg, o);
        better_of(best, arg, ob, oa);
      }
      if (arg >= 0) keep |= 1ull << arg;
    }
#pragma unroll
    for (int k = 0; k < kPerLaneExperts; ++k) {
      const int e = lane + 32 * k;
      if (e < ne && !((keep >> (e / per_group)) & 1ull)) out |= 1u << k;
    }
  }
  float sum = 0.0f;
  for (int r = 0; r < top_k; ++r) {
    float best = 0.0f;
    int arg = -1;
#pragma unroll
    for (int k = 0; k < kPerLaneExperts; ++k)
      if (!((out >> k) & 1u)) better_of(best, arg, ch[k], lane + 32 * k);
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) {
      const float ob = __shfl_xor_sync(0xffffffffu, best, o);
      const int oa = __shfl_xor_sync(0xffffffffu, arg, o);
      better_of(best, arg, ob, oa);
    }
    if (arg < 0) arg = 0;  // only with fewer experts than top_k left; keeps the indices in range
    if (arg % 32 == lane) out |= 1u << (arg / 32);
    const float sc = score[arg];
    if (lane == 0) {
      experts[i * top_k + r] = arg;
      weights[i * top_k + r] = sc;
    }
    sum += sc;
  }
  const float norm = p.norm_topk_prob ? 1.0f / (sum + 1e-20f) : 1.0f;
  if (lane == 0)
    for (int r = 0; r < top_k; ++r) weights[i * top_k + r] = weights[i * top_k + r] * norm * p.routed_scaling_factor;
}

// One block: counts per expert, their prefix sums, then each slot's row.
__global__ void group_kernel(const int32_t* experts, int64_t slots, int64_t top_k, int64_t ne, int32_t* offsets,
                             int32_t* row_of_slot, int32_t* token_of_row, int32_t* active) {
  __shared__ int count[kMaxExperts];
  __shared__ int cursor[kMaxExperts];
  for (int64_t e = threadIdx.x; e < ne; e += blockDim.x) count[e] = 0;
  __syncthreads();
  for (int64_t s = threadIdx.x; s < slots; s += blockDim.x) atomicAdd(&count[experts[s]], 1);
  __syncthreads();
  if (threadIdx.x == 0) {
    int acc = 0, listed = 0;
    for (int64_t e = 0; e < ne; ++e) {
      offsets[e] = acc;
      cursor[e] = acc;
      acc += count[e];
      if (active && count[e] > 0) active[listed++] = static_cast<int32_t>(e);
    }
    offsets[ne] = acc;
    if (active)
      for (int64_t e = listed; e < ne; ++e) active[e] = -1;
  }
  __syncthreads();
  // the order within an expert varies from run to run; each row's result does not
  for (int64_t s = threadIdx.x; s < slots; s += blockDim.x) {
    const int r = atomicAdd(&cursor[experts[s]], 1);
    row_of_slot[s] = r;
    token_of_row[r] = static_cast<int32_t>(s / top_k);
  }
}

__global__ void gather_kernel(const float* x, const int32_t* token_of_row, int64_t rows, int64_t width, float* xs) {
  const int64_t t = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (t >= rows * width) return;
  const int64_t r = t / width, c = t % width;
  xs[t] = x[static_cast<int64_t>(token_of_row[r]) * width + c];
}

__global__ void combine_kernel(const float* ys, const int32_t* row_of_slot, const float* weights, int64_t n,
                               int64_t top_k, int64_t width, float* out) {
  const int64_t t = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (t >= n * width) return;
  const int64_t i = t / width, c = t % width;
  float acc = out[t];
  for (int64_t k = 0; k < top_k; ++k)
    acc += weights[i * top_k + k] * ys[static_cast<int64_t>(row_of_slot[i * top_k + k]) * width + c];
  out[t] = acc;
}

}  // namespace

cudaError_t launch_embed(const DMat& table, const int32_t* ids, int64_t n, float* out, cudaStream_t s) {
  if (n <= 0) return cudaSuccess;
  embed_kernel<<<static_cast<unsigned>(n), 256, 0, s>>>(table, ids, out);
  return cudaGetLastError();
}

cudaError_t launch_rmsnorm(const float* x, int64_t ldx, const float* weight, int64_t rows, int64_t cols, float eps,
                           float* out, int64_t ldo, cudaStream_t s) {
  if (rows <= 0) return cudaSuccess;
  rmsnorm_kernel<<<static_cast<unsigned>(rows), 256, 0, s>>>(x, ldx, weight, cols, eps, out, ldo);
  return cudaGetLastError();
}

cudaError_t launch_add_rmsnorm(float* x, const float* y, const float* weight, int64_t rows, int64_t cols, float eps,
                               float* out, cudaStream_t s) {
  if (rows <= 0 || cols <= 0) return cudaSuccess;
  add_rmsnorm_kernel<<<static_cast<unsigned>(rows), 256, 0, s>>>(x, y, weight, cols, eps, out);
  return cudaGetLastError();
}

cudaError_t launch_silu_mul(const float* gate, const float* up, int64_t n, float* out, cudaStream_t s) {
  if (n <= 0) return cudaSuccess;
  silu_mul_kernel<<<blocks_for(n, 256), 256, 0, s>>>(gate, up, n, out);
  return cudaGetLastError();
}

cudaError_t launch_rope(float* x, int64_t ldx, const int64_t* pos, int64_t n, const float* inv_freq, int pairs,
                        float attention_factor, cudaStream_t s) {
  if (n <= 0 || pairs <= 0) return cudaSuccess;
  rope_kernel<<<blocks_for(n * pairs, 256), 256, 0, s>>>(x, ldx, pos, n, inv_freq, pairs, attention_factor);
  return cudaGetLastError();
}

cudaError_t launch_route(const float* logits, const float* bias, int64_t n, const RouteParams& p, int32_t* experts,
                         float* weights, cudaStream_t s) {
  if (n <= 0) return cudaSuccess;
  if (p.experts > kMaxExperts || p.groups > kMaxGroups || p.groups < 1 || p.experts % p.groups != 0 ||
      p.top_k > p.experts)
    return cudaErrorInvalidValue;
  if (fast_kernels()) {
    const unsigned blocks = blocks_for(n, kRouteWarps);
    // as few per-lane slots as the experts need: the top-k scans run over them
    if (p.experts <= 64)
      route_warp_kernel<2><<<blocks, kRouteWarps * 32, 0, s>>>(logits, bias, n, p, experts, weights);
    else if (p.experts <= 256)
      route_warp_kernel<8><<<blocks, kRouteWarps * 32, 0, s>>>(logits, bias, n, p, experts, weights);
    else
      route_warp_kernel<kMaxExperts / 32><<<blocks, kRouteWarps * 32, 0, s>>>(logits, bias, n, p, experts, weights);
    return cudaGetLastError();
  }
  route_kernel<<<blocks_for(n, 64), 64, 0, s>>>(logits, bias, n, p, experts, weights);
  return cudaGetLastError();
}

cudaError_t launch_group_by_expert(const int32_t* experts, int64_t slots, int64_t top_k, int64_t n_experts,
                                   int32_t* offsets, int32_t* row_of_slot, int32_t* token_of_row, int32_t* active,
                                   cudaStream_t s) {
  if (n_experts > kMaxExperts) return cudaErrorInvalidValue;
  group_kernel<<<1, 1024, 0, s>>>(experts, slots, top_k, n_experts, offsets, row_of_slot, token_of_row, active);
  return cudaGetLastError();
}

cudaError_t launch_gather_rows(const float* x, const int32_t* token_of_row, int64_t rows, int64_t width, float* xs,
                               cudaStream_t s) {
  if (rows <= 0) return cudaSuccess;
  gather_kernel<<<blocks_for(rows * width, 256), 256, 0, s>>>(x, token_of_row, rows, width, xs);
  return cudaGetLastError();
}

cudaError_t launch_moe_combine(const float* ys, const int32_t* row_of_slot, const float* weights, int64_t n,
                               int64_t top_k, int64_t width, float* out, cudaStream_t s) {
  if (n <= 0) return cudaSuccess;
  combine_kernel<<<blocks_for(n * width, 256), 256, 0, s>>>(ys, row_of_slot, weights, n, top_k, width, out);
  return cudaGetLastError();
}

}  // namespace dsv3::cuda
