// Matrix products with weights in their stored dtype.
#pragma once
#include <cstdint>
#include <span>

#include "ops/matrix.h"

namespace dsv3 {
class ThreadPool;
}

namespace dsv3::ops {

// How products over many activation rows (prefill) multiply: exactly in f32,
// or with x and w rounded to bf16 and f32 sums (twice the arithmetic rate
// where the CPU has a bf16 dot product; exact elsewhere). Products over a few
// rows (decode) are bound by reading the weights and always exact.
enum class Precision { kExact, kBf16 };
constexpr int64_t kBf16MinRows = 8;

// y[i][r] = sum_j x[i][j] * w[r][j] for i < n, r < w.rows (y = x W^T).
// x rows are ldx floats apart, y rows ldy. pool may be null (one thread).
void matmul(const Matrix& w, const float* x, int64_t ldx, int64_t n, float* y, int64_t ldy, ThreadPool* pool,
            Precision precision = Precision::kExact);

// Up to this many rows of x, a product is a pass over the weights (decode).
constexpr int64_t kMatvecRows = 4;

// One product of matmul_batch: y = x W^T as above.
struct MatmulJob {
  Matrix w;
  const float* x = nullptr;
  int64_t ldx = 0, n = 0;
  float* y = nullptr;
  int64_t ldy = 0;
};

// Independent products, each as matmul() computes it. Those over a few rows
// (decode) share one pass over the threads, their rows split evenly, so
// small matrices (MoE experts) cost one dispatch together, not one each;
// the others run one after another.
void matmul_batch(std::span<const MatmulJob> jobs, ThreadPool* pool, Precision precision = Precision::kExact);

// The same product through the plain per-element decoder: what the fast
// kernels are tested against.
void matmul_reference(const Matrix& w, const float* x, int64_t ldx, int64_t n, float* y, int64_t ldy);

// y[i][c] = sum_r x[i][r] * w[r][c] for i < n, c < w.cols (y = x W), one thread.
// Used to push vectors through the transpose of a weight (MLA absorption).
void matmul_transposed(const Matrix& w, const float* x, int64_t ldx, int64_t n, float* y, int64_t ldy);

}  // namespace dsv3::ops
