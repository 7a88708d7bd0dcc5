// A weight matrix viewed in its stored dtype (never converted in memory).
// FP8 matrices carry block multipliers: w[i][j] = q[i][j] * scale[i/B][j/B].
// Block formats (Q8_0, Q4_K, ...) hold their scales inside each row's blocks.
//
// Rows are stored `row_stride()` bytes apart: packed (stride 0 means
// row_bytes()) unless the view is a column slice of a wider matrix, which
// keeps the wider matrix's stride. Row r of the view starts at row_at(r).
#pragma once
#include <cassert>
#include <cstdint>

#include "tensor/dtype.h"

namespace dsv3::ops {

struct Matrix {
  DType dtype = DType::F32;
  int64_t rows = 0, cols = 0;
  const void* data = nullptr;         // row 0 of the stored tensor (a column slice: at its first column)
  int64_t row0 = 0;                   // this view's first row inside the stored tensor
  const float* block_scale = nullptr; // F8_E4M3 only: [ceil(R/B), ceil(C/B)], row-major (a column slice: at its first block)
  int64_t scale_cols = 0;             // the scale rows' stride (a column slice keeps the wider matrix's)
  int64_t block = 128;
  int64_t stride = 0;                 // bytes between stored rows; 0: packed (row_bytes())

  // Rows [begin, begin + count) of this view.
  Matrix row_slice(int64_t begin, int64_t count) const {
    Matrix m = *this;
    m.row0 = row0 + begin;
    m.rows = count;
    return m;
  }
  // Columns [begin, begin + count) of every row of this view, without copying:
  // the view keeps this one's row stride. begin must be a multiple of
  // col_granule() and count a multiple of dtype_block(dtype) (col_slice_ok).
  Matrix col_slice(int64_t begin, int64_t count) const {
    assert(col_slice_ok(begin, count));
    Matrix m = *this;
    m.stride = row_stride();
    m.data = static_cast<const uint8_t*>(data) + dtype_row_bytes(dtype, begin);
    if (dtype == DType::F8_E4M3 && block_scale != nullptr) m.block_scale = block_scale + begin / block;
    m.cols = count;
    return m;
  }
  // The column alignment col_slice needs: 1 for F32/BF16/F16 (and unscaled
  // FP8), `block` for FP8 with block scales, dtype_block() for ggml formats.
  int64_t col_granule() const {
    if (dtype == DType::F8_E4M3 && block_scale != nullptr) return block;
    return dtype_block(dtype);
  }
  bool col_slice_ok(int64_t begin, int64_t count) const {
    const int64_t g = col_granule();
    return begin >= 0 && count >= 0 && begin + count <= cols && begin % g == 0 && count % dtype_block(dtype) == 0;
  }
  int64_t row_bytes() const { return dtype_row_bytes(dtype, cols); }  // bytes of one row of the view
  int64_t row_stride() const { return stride != 0 ? stride : row_bytes(); }
  bool packed() const { return stride == 0 || stride == row_bytes(); }
  // Row r of the view (stored row row0 + r).
  const uint8_t* row_at(int64_t r) const { return static_cast<const uint8_t*>(data) + (row0 + r) * row_stride(); }
  int64_t stored_bytes() const { return rows * row_bytes(); }  // bytes of the view's elements
};

// Writes row r of the view as f32 (out[cols]).
void dequantize_row(const Matrix& w, int64_t r, float* out);

// One row of a 1-D or 2-D table (e.g. an embedding) as f32.
inline void gather_row(const Matrix& table, int64_t r, float* out) { dequantize_row(table, r, out); }

}  // namespace dsv3::ops
