// Random weight matrices in a stored dtype (f32, bf16, f16, fp8 with block
// scales, ggml block formats) with their exact f32 values, for the kernel tests.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "ops/matrix.h"
#include "tensor/dtype.h"
#include "tensor/ggml_blocks.h"
#include "support/iq_blocks.h"

namespace dsv3::test {

// n values from a normal distribution with standard deviation `scale`.
inline std::vector<float> random_vector(int64_t n, uint32_t seed, float scale = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.0f, scale);
  std::vector<float> v(static_cast<std::size_t>(n));
  for (auto& x : v) x = nd(rng);
  return v;
}

// A random matrix in a stored dtype plus its exact f32 values.
struct TestMatrix {
  ops::Matrix view;
  std::vector<uint8_t> bytes;
  std::vector<float> scales;
  std::vector<float> values;  // dequantised, row-major
};

inline TestMatrix random_matrix(DType dt, int64_t rows, int64_t cols, uint32_t seed, int64_t block = 128) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  TestMatrix m;
  m.view.dtype = dt;
  m.view.rows = rows;
  m.view.cols = cols;
  m.values.resize(rows * cols);
  if (is_iq_format(dt)) {  // no quantiser: random blocks, scales below 1 (f16 exponent < 15)
    const int64_t rb = dtype_row_bytes(dt, cols);
    m.bytes.resize(rows * rb);
    random_iq_blocks(dt, m.bytes.data(), rows * rb / dtype_block_bytes(dt), seed, 15);
    for (int64_t r = 0; r < rows; ++r)
      dequantize_blocks(dt, m.bytes.data() + r * rb, m.values.data() + r * cols, cols);
    m.view.data = m.bytes.data();
    return m;
  }
  if (is_block_format(dt)) {  // gaussian rows through the reference quantiser (cols: whole blocks)
    const int64_t rb = dtype_row_bytes(dt, cols);
    m.bytes.resize(rows * rb);
    std::vector<float> row(cols);
    for (int64_t r = 0; r < rows; ++r) {
      for (auto& v : row) v = nd(rng);
      quantize_blocks(dt, row.data(), m.bytes.data() + r * rb, cols);
      dequantize_blocks(dt, m.bytes.data() + r * rb, m.values.data() + r * cols, cols);
    }
    m.view.data = m.bytes.data();
    return m;
  }
  m.bytes.resize(rows * cols * dtype_size(dt));
  const int64_t sr = (rows + block - 1) / block, sc = (cols + block - 1) / block;
  if (dt == DType::F8_E4M3) {
    m.scales.resize(sr * sc);
    for (auto& s : m.scales) s = std::exp2(nd(rng)) * 0.01f;
  }
  for (int64_t i = 0; i < rows * cols; ++i) {
    const float v = nd(rng);
    switch (dt) {
      case DType::F32:
        std::memcpy(&m.bytes[i * 4], &v, 4);
        m.values[i] = v;
        break;
      case DType::BF16: {
        const uint16_t b = f32_to_bf16(v);
        std::memcpy(&m.bytes[i * 2], &b, 2);
        m.values[i] = bf16_to_f32(b);
        break;
      }
      case DType::F16: {
        const uint16_t h = f32_to_f16(v);
        std::memcpy(&m.bytes[i * 2], &h, 2);
        m.values[i] = f16_to_f32(h);
        break;
      }
      case DType::F8_E4M3: {
        const uint8_t q = static_cast<uint8_t>(rng() & 0xff);
        const uint8_t safe = (q & 0x7f) == 0x7f ? q - 1 : q;  // skip NaN codes
        m.bytes[i] = safe;
        m.values[i] = fp8_e4m3_to_f32(safe) * m.scales[(i / cols / block) * sc + (i % cols) / block];
        break;
      }
      default:
        break;
    }
  }
  m.view.data = m.bytes.data();
  if (dt == DType::F8_E4M3) {
    m.view.block_scale = m.scales.data();
    m.view.scale_cols = sc;
    m.view.block = block;
  }
  return m;
}

}  // namespace dsv3::test
