// Single GPU ops on host memory, for the per-op parity tests (each against
// the CPU reference). Each call uploads, runs on GPU 0 and downloads; slow,
// and only for tests. In a build without CUDA they return an Error.
#pragma once
#include <cstdint>
#include <vector>

#include "base/status.h"
#include "model/config.h"
#include "ops/matrix.h"
#include "ops/rope.h"

namespace dsv3::cuda::op {

// out[n][w.rows] = x[n][w.cols] W^T, through the kernel the forward pass picks for n tokens.
Status matmul(const ops::Matrix& w, const float* x, int64_t n, float* out);
// The same as `groups` products: group g uses rows [g * rows, (g + 1) * rows) of w
// and columns [g * cols, ...) of x (x: [n][groups * cols], out: [n][groups * rows]).
Status matmul_grouped(const ops::Matrix& w, int64_t rows, int64_t cols, int groups, const float* x, int64_t n,
                      float* out);
// rows of x [rows][cols] normalised with weight.
Status rmsnorm(const float* x, const float* weight, int64_t rows, int64_t cols, float eps, float* out);
// rows of x [n][rope.dim()] rotated to pos[i] (out may be x).
Status rope(const ops::Rope& rope, const float* x, const int64_t* pos, int64_t n, float* out);
// nq query rows [nq][width] against cache rows [n_kv][width]: scores over the
// whole row, values the first dv: out [nq][dv]. f16: the cache is held in f16.
Status attention(const float* q, int64_t nq, const float* kv, int64_t n_kv, int64_t width, int64_t dv, float scale,
                 bool f16, float* out);
// route_token for n tokens of logits [n][experts].
Status route(const ModelConfig& c, const float* logits, const std::vector<float>& bias, int64_t n, int32_t* experts,
             float* weights);
// The fast decode matvec (launch_gemv_fast) directly, whatever DSV3_CUDA_FAST
// says; the arguments as for matmul_grouped (cols % 16 == 0, 1 <= n <= 64).
Status gemv_fast(const ops::Matrix& w, int64_t rows, int64_t cols, int groups, const float* x, int64_t n,
                 float* out);
// MoE-style grouped product: expert e multiplies rows [offsets[e], offsets[e + 1])
// of x [offsets.back()][cols] into out [offsets.back()][rows]; fast: through
// launch_gemv_fast (each expert's count <= 64), else launch_gemm.
Status matmul_experts(const std::vector<ops::Matrix>& experts, const std::vector<int32_t>& offsets, const float* x,
                      bool fast, float* out);
// attention() through the split (flash-decoding) kernels with `splits` key ranges.
Status attention_split(const float* q, int64_t nq, const float* kv, int64_t n_kv, int64_t width, int64_t dv,
                       float scale, bool f16, int splits, float* out);
Status silu_mul(const float* gate, const float* up, int64_t n, float* out);

}  // namespace dsv3::cuda::op
