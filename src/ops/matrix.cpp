#include "ops/matrix.h"

#include <cstring>

#include "tensor/ggml_blocks.h"

namespace dsv3::ops {

void dequantize_row(const Matrix& w, int64_t r, float* out) {
  const int64_t row = w.row0 + r;  // stored row (for the FP8 block scales)
  const int64_t n = w.cols;
  const uint8_t* at = w.row_at(r);
  switch (w.dtype) {
    case DType::F32:
      std::memcpy(out, reinterpret_cast<const float*>(at), n * sizeof(float));
      return;
    case DType::BF16: {
      const uint16_t* p = reinterpret_cast<const uint16_t*>(at);
      for (int64_t j = 0; j < n; ++j) out[j] = bf16_to_f32(p[j]);
      return;
    }
    case DType::F16: {
      const uint16_t* p = reinterpret_cast<const uint16_t*>(at);
      for (int64_t j = 0; j < n; ++j) out[j] = f16_to_f32(p[j]);
      return;
    }
    case DType::F8_E4M3: {
      const uint8_t* p = at;
      if (w.block_scale == nullptr) {
        for (int64_t j = 0; j < n; ++j) out[j] = fp8_e4m3_to_f32(p[j]);
        return;
      }
      const float* s = w.block_scale + (row / w.block) * w.scale_cols;
      for (int64_t j = 0; j < n; ++j) out[j] = fp8_e4m3_to_f32(p[j]) * s[j / w.block];
      return;
    }
    default:
      if (is_block_format(w.dtype)) {  // ggml's formats: scales inside each row's blocks
        dequantize_blocks(w.dtype, at, out, n);
        return;
      }
      std::memset(out, 0, n * sizeof(float));  // integer types are not weights
      return;
  }
}

}  // namespace dsv3::ops
