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
// Which kernel a product test runs: the one launch_gemm picks, or one
// directly (the tensor cores with their tile chosen by size, or 64 or 128 rows).
enum class Kernel { kPicked, kGemvFast, kTensorCores, kTensorCores64, kTensorCores128 };
// The tensor-core product (launch_gemm_mma) directly, whatever the switches
// say; the arguments as for matmul_grouped (W in bf16 or FP8).
Status matmul_mma(const ops::Matrix& w, int64_t rows, int64_t cols, int groups, const float* x, int64_t n,
                  float* out, Kernel tiles = Kernel::kTensorCores);
// MoE-style grouped product: expert e multiplies rows [offsets[e], offsets[e + 1])
// of x [offsets.back()][cols] into out [offsets.back()][rows], through
// `kernel` (kGemvFast: each expert's count <= 64). listed: the launch covers
// only the experts with rows, through a device list of them (GemmArgs.active).
Status matmul_experts(const std::vector<ops::Matrix>& experts, const std::vector<int32_t>& offsets, const float* x,
                      Kernel kernel, bool listed, float* out);
// Two products over the same x in one launch (GemmArgs.w2/out2, SwiGLU's
// gate and up): out = x W^T, out2 = x W2^T, W and W2 of one shape.
Status matmul_pair(const ops::Matrix& w, const ops::Matrix& w2, const float* x, int64_t n, Kernel kernel, float* out,
                   float* out2);
// x += y; out = rmsnorm(x) * weight, for rows x cols (x updated in place).
Status add_rmsnorm(float* x, const float* y, const float* weight, int64_t rows, int64_t cols, float eps, float* out);
// attention() through the split (flash-decoding) kernels with `splits` key ranges.
Status attention_split(const float* q, int64_t nq, const float* kv, int64_t n_kv, int64_t width, int64_t dv,
                       float scale, bool f16, int splits, float* out);
Status silu_mul(const float* gate, const float* up, int64_t n, float* out);

}  // namespace dsv3::cuda::op
