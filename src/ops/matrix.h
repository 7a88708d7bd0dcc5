// A weight matrix viewed in its stored dtype (never converted in memory).
// FP8 matrices carry block multipliers: w[i][j] = q[i][j] * scale[i/B][j/B].
// Block formats (Q8_0, Q4_K, ...) hold their scales inside each row's blocks.
#pragma once
#include <cstdint>

#include "tensor/dtype.h"

namespace dsv3::ops {

struct Matrix {
  DType dtype = DType::F32;
  int64_t rows = 0, cols = 0;
  const void* data = nullptr;         // row 0 of the stored tensor
  int64_t row0 = 0;                   // this view's first row inside the stored tensor
  const float* block_scale = nullptr; // F8_E4M3 only: [ceil(R/B), ceil(C/B)], row-major
  int64_t scale_cols = 0;
  int64_t block = 128;

  // Rows [begin, begin + count) of this view.
  Matrix row_slice(int64_t begin, int64_t count) const {
    Matrix m = *this;
    m.row0 = row0 + begin;
    m.rows = count;
    return m;
  }
  int64_t row_bytes() const { return dtype_row_bytes(dtype, cols); }
  int64_t stored_bytes() const { return rows * row_bytes(); }
};

// Writes row r of the view as f32 (out[cols]).
void dequantize_row(const Matrix& w, int64_t r, float* out);

// One row of a 1-D or 2-D table (e.g. an embedding) as f32.
inline void gather_row(const Matrix& table, int64_t r, float* out) { dequantize_row(table, r, out); }

}  // namespace dsv3::ops
