// Matrix products with weights in their stored dtype.
#pragma once
#include <cstdint>

#include "ops/matrix.h"

namespace dsv3 {
class ThreadPool;
}

namespace dsv3::ops {

// y[i][r] = sum_j x[i][j] * w[r][j] for i < n, r < w.rows (y = x W^T).
// x rows are ldx floats apart, y rows ldy. pool may be null (one thread).
void matmul(const Matrix& w, const float* x, int64_t ldx, int64_t n, float* y, int64_t ldy, ThreadPool* pool);

// The same product through the plain per-element decoder: what the fast
// kernels are tested against.
void matmul_reference(const Matrix& w, const float* x, int64_t ldx, int64_t n, float* y, int64_t ldy);

// y[i][c] = sum_r x[i][r] * w[r][c] for i < n, c < w.cols (y = x W), one thread.
// Used to push vectors through the transpose of a weight (MLA absorption).
void matmul_transposed(const Matrix& w, const float* x, int64_t ldx, int64_t n, float* y, int64_t ldy);

}  // namespace dsv3::ops
