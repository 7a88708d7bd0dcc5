// Host-side launchers of the CUDA kernels (kernels_*.cu). Plain C++: the
// forward pass (cuda_forward.cpp) and the op tests call these. Every pointer
// is device memory; every launcher enqueues on `s` and returns the launch's
// error (cudaGetLastError), so callers can turn it into a Status.
#pragma once
#include <cuda_runtime_api.h>

#include <cstdint>

namespace dsv3::cuda {

enum WType : int { kF32 = 0, kBF16 = 1, kFP8 = 2, kF16 = 3 };

// A weight matrix on the device in its stored dtype (mirrors ops::Matrix):
// element (r, c) is stored at row row0 + r; FP8 rows carry block scales
// scale[(row0 + r) / block][c / block] (or none: scale 1).
struct DMat {
  int dtype = kF32;
  int64_t rows = 0, cols = 0;
  const void* data = nullptr;
  const float* scale = nullptr;
  int64_t scale_cols = 0, block = 128, row0 = 0;
};

// out = x W^T for `groups` independent products (groups = 1: one matmul).
// Group g uses matrix wtab[g] (device array) or w with its rows shifted by
// g * w_row_step; its inputs start at x + g * x_group_step and its outputs at
// out + g * out_group_step. Tokens: n rows of x (ldx apart) and of out (ldo
// apart), or, with `offsets` (device, groups + 1 entries), rows
// [offsets[g], offsets[g + 1]) for group g, with n their largest possible count.
struct GemmArgs {
  DMat w;
  const DMat* wtab = nullptr;
  int64_t rows = 0, cols = 0, w_row_step = 0;
  const float* x = nullptr;
  int64_t ldx = 0, x_group_step = 0;
  float* out = nullptr;
  int64_t ldo = 0, out_group_step = 0;
  int64_t n = 0;
  const int32_t* offsets = nullptr;
  int groups = 1;
  // Optional, with offsets: the groups that have rows, listed on the device
  // (active[j], -1 past the last); the launch then covers active_slots
  // entries of the list instead of every group (MoE decode: the chosen
  // experts, not all of them).
  const int32_t* active = nullptr;
  int active_slots = 0;
  // Optional: a second product of the same shape over the same x in the same
  // launch (SwiGLU's gate and up), with w2 (or wtab2) into out2.
  DMat w2;
  const DMat* wtab2 = nullptr;
  float* out2 = nullptr;
};
// How many groups a launch covers.
inline int launch_groups(const GemmArgs& a) { return a.active ? a.active_slots : a.groups; }
// How many products a launch computes (1, or 2 with out2).
inline int launch_products(const GemmArgs& a) { return a.out2 ? 2 : 1; }
// Picks the kernel: the tensor-core product (launch_gemm_mma) for
// tc_min_tokens() tokens or more (switches.h), or from 17 tokens where its
// grid fills the GPU without experts' offsets (the lm_head of a decode
// batch: 0.65 against 2.36 ms for 32 rows on an H200) where it fits and DSV3_CUDA_TC is on; else
// launch_gemv_fast where it fits and DSV3_CUDA_FAST is on; else the first
// kernels (one warp per row for n <= 16, else 64x64 tiles).
cudaError_t launch_gemm(const GemmArgs& a, cudaStream_t s);
// The tensor-core product (kernels_mma.cu): W in bf16 or FP8 (block scales a
// multiple of 32 columns), exact to f32 (x split into three bf16 terms). With
// a table (wtab), a.w's dtype, scale (null or not) and block describe every entry.
bool gemm_mma_fits(const GemmArgs& a);
cudaError_t launch_gemm_mma(const GemmArgs& a, cudaStream_t s);
// Whether the tensor-core product of one dense matrix (no offsets) has
// blocks enough to fill every multiprocessor twice in 128-row tiles.
bool mma_grid_is_full(const GemmArgs& a);
// The same with the tile's weight rows chosen: 128, 64, or 0 (by the grid's size).
cudaError_t launch_gemm_mma(const GemmArgs& a, int tile_rows, cudaStream_t s);
// The fast decode matvec (kernels_gemv.cu), for 1..64 tokens with cols % 16 == 0
// and x 16-byte aligned (gemv_fast_fits); cudaErrorInvalidValue otherwise.
bool gemv_fast_fits(const GemmArgs& a);
cudaError_t launch_gemv_fast(const GemmArgs& a, cudaStream_t s);

// Where one token of a batch lives: its sequence's device cache ([layer][cap][width]).
struct TokenSlot {
  void* cache = nullptr;
  int64_t capacity = 0, pos = 0;
  int32_t f16 = 0;  // cache rows in f16, else f32
  int32_t pad = 0;
};

// out[i] = table row ids[i] as f32.
cudaError_t launch_embed(const DMat& table, const int32_t* ids, int64_t n, float* out, cudaStream_t s);
// out[i][:] = x[i][:] / rms * weight, over `cols` of rows ldx / ldo apart.
cudaError_t launch_rmsnorm(const float* x, int64_t ldx, const float* weight, int64_t rows, int64_t cols, float eps,
                           float* out, int64_t ldo, cudaStream_t s);
// The residual step and the next norm in one pass: per row of cols floats,
// x += y, then out = x / rms * weight (x, y and out rows cols apart).
cudaError_t launch_add_rmsnorm(float* x, const float* y, const float* weight, int64_t rows, int64_t cols, float eps,
                               float* out, cudaStream_t s);
// out = silu(gate) * up (n floats; out may alias gate).
cudaError_t launch_silu_mul(const float* gate, const float* up, int64_t n, float* out, cudaStream_t s);
// Rotates rows of x (n rows of 2 * pairs floats at x + i * ldx) for positions pos[i].
cudaError_t launch_rope(float* x, int64_t ldx, const int64_t* pos, int64_t n, const float* inv_freq, int pairs,
                        float attention_factor, cudaStream_t s);

// The new cache rows: for token i, kv[i] = [latent | k_pe]; normalise the
// latent (lora values, weight norm_w), rotate k_pe, store the row at
// slots[i]'s position of cache layer `layer`. With q (non-null), also each
// head's q_pe (q [n][heads][nope + rope], the last rope values of a head)
// rotated into q_abs [n][heads][lora + rope] after the head's lora values.
struct QRope {
  const float* q = nullptr;
  int64_t heads = 0, nope = 0;
  float* q_abs = nullptr;
};
cudaError_t launch_kv_store(float* kv, int64_t n, int64_t lora, int64_t width, const float* norm_w, float eps,
                            const float* inv_freq, float attention_factor, const TokenSlot* slots, int64_t layer,
                            const QRope& q_rope, cudaStream_t s);
// Attention of each (token, head) over its cache rows 0..pos: scores against
// the whole row [latent | k_pe], values from the latent. out [n][heads][lora].
cudaError_t launch_mla_attention(const float* q_abs, int64_t n, int64_t heads, int64_t width, int64_t lora,
                                 float scale, const TokenSlot* slots, int64_t layer, float* out, cudaStream_t s);
// The same with each (token, head)'s keys split into `splits` ranges (flash
// decoding), their softmax partials merged after: scratch holds
// attention_split_scratch_floats floats. attention_splits picks the count
// that fills `sms` multiprocessors; it depends on n and heads only, so a
// captured graph stays valid as the context grows.
int attention_splits(int64_t n, int64_t heads, int sms);
int64_t attention_split_scratch_floats(int64_t n, int64_t heads, int64_t lora, int splits);
cudaError_t launch_mla_attention_split(const float* q_abs, int64_t n, int64_t heads, int64_t width, int64_t lora,
                                       float scale, const TokenSlot* slots, int64_t layer, int splits, float* scratch,
                                       int64_t scratch_floats, float* out, cudaStream_t s);

// MoE routing (ops::route_top_k per token): logits [n][experts] ->
// experts/weights [n][top_k]. bias may be null. The kernels keep per-expert
// and per-group state on chip, which bounds both counts.
constexpr int kRouteMaxExperts = 1024;
constexpr int kRouteMaxGroups = 64;
struct RouteParams {
  int64_t experts = 0, groups = 1, topk_group = 1, top_k = 1;
  int32_t norm_topk_prob = 1;
  float routed_scaling_factor = 1.0f;
};
cudaError_t launch_route(const float* logits, const float* bias, int64_t n, const RouteParams& p, int32_t* experts,
                         float* weights, cudaStream_t s);
// Groups the n * top_k slots by expert: offsets[experts + 1], the gathered
// row of each slot (row_of_slot) and the token of each gathered row; and
// (active, n_experts entries) the experts with rows in order, then -1s.
cudaError_t launch_group_by_expert(const int32_t* experts, int64_t slots, int64_t top_k, int64_t n_experts,
                                   int32_t* offsets, int32_t* row_of_slot, int32_t* token_of_row, int32_t* active,
                                   cudaStream_t s);
// xs[r] = x[token_of_row[r]] for r < rows (width floats each).
cudaError_t launch_gather_rows(const float* x, const int32_t* token_of_row, int64_t rows, int64_t width, float* xs,
                               cudaStream_t s);
// out[i] += sum_k weights[i][k] * ys[row_of_slot[i * top_k + k]].
cudaError_t launch_moe_combine(const float* ys, const int32_t* row_of_slot, const float* weights, int64_t n,
                               int64_t top_k, int64_t width, float* out, cudaStream_t s);

}  // namespace dsv3::cuda
