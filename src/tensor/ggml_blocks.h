// ggml's block formats (as GGUF files store them): exact dequantisation to
// f32, matching ggml's dequantize_row_* bit for bit, and reference quantisers
// that search scales as ggml's do (make_qkx2_quants, make_q3_quants,
// make_qx_quants); compared with ggml's quantize_row_*_ref they wrote the
// same bytes (tests/tensor pins one row per type). ggml's IQ formats
// (is_iq_format) are read-only here: dequantised exactly as ggml's
// dequantize_row_iq*, but with no quantiser.
#pragma once
#include <cstdint>
#include <cstring>

#include "tensor/dtype.h"

namespace dsv3 {

// One row of n elements (n a multiple of dtype_block(t)) of a block type.
void dequantize_blocks(DType t, const void* src, float* dst, int64_t n);
// Not for IQ formats (throws std::invalid_argument): see can_quantize.
void quantize_blocks(DType t, const float* src, void* dst, int64_t n);
inline bool can_quantize(DType t) { return is_block_format(t) && !is_iq_format(t); }

namespace ggml {

// Block layouts, in bytes from the start of a block.
struct Q4_0 { static constexpr int d = 0, qs = 2; };
struct Q8_0 { static constexpr int d = 0, qs = 2; };
struct Q2_K { static constexpr int scales = 0, qs = 16, d = 80, dmin = 82; };
struct Q3_K { static constexpr int hmask = 0, qs = 32, scales = 96, d = 108; };
struct Q4_K { static constexpr int d = 0, dmin = 2, scales = 4, qs = 16; };
struct Q5_K { static constexpr int d = 0, dmin = 2, scales = 4, qh = 16, qs = 48; };
struct Q6_K { static constexpr int ql = 0, qh = 128, scales = 192, d = 208; };
struct IQ2_XXS { static constexpr int d = 0, qs = 2; };
struct IQ2_XS { static constexpr int d = 0, qs = 2, scales = 66; };
struct IQ2_S { static constexpr int d = 0, qs = 2, signs = 34, qh = 66, scales = 74; };
struct IQ3_XXS { static constexpr int d = 0, qs = 2, scales_signs = 66; };
struct IQ3_S { static constexpr int d = 0, qs = 2, qh = 66, signs = 74, scales = 106; };
struct IQ1_S { static constexpr int d = 0, qs = 2, qh = 34; };
struct IQ1_M { static constexpr int qs = 0, qh = 32, scales = 48; };  // f16 scale in the scales' top nibbles
struct IQ4_NL { static constexpr int d = 0, qs = 2; };
struct IQ4_XS { static constexpr int d = 0, scales_h = 2, scales_l = 4, qs = 8; };

// One block of an IQ format to f32 (ggml_iq_blocks.cpp); nullptr for other types.
using DequantizeBlock = void (*)(const uint8_t* block, float* y);
DequantizeBlock iq_dequantizer(DType t);

// IQ4_XS: the 6-bit scale (biased by 32) of sub-block ib (0..7): low nibble
// from scales_l[ib / 2], top two bits from scales_h.
inline int iq4xs_scale(uint8_t scales_l, uint16_t scales_h, int ib) {
  return ((scales_l >> (4 * (ib % 2))) & 0xF) | (((scales_h >> (2 * ib)) & 3) << 4);
}

// An f16 stored at p (any alignment), exactly as f32.
inline float half_at(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  // the half's bits moved into an f32 and rescaled by 2^-112 (normals), or
  // its mantissa read as a fraction of 2^-24 (subnormals)
  const uint32_t w = static_cast<uint32_t>(h) << 16, sign = w & 0x80000000u, two_w = w + w;
  uint32_t bits;
  if (two_w < (1u << 27)) {
    const uint32_t b = (two_w >> 17) | (126u << 23);
    float f;
    std::memcpy(&f, &b, 4);
    f -= 0.5f;
    std::memcpy(&bits, &f, 4);
  } else {
    const uint32_t b = (two_w >> 4) + (0xE0u << 23);
    float f;
    std::memcpy(&f, &b, 4);
    f *= 0x1.0p-112f;
    std::memcpy(&bits, &f, 4);
  }
  bits |= sign;
  float out;
  std::memcpy(&out, &bits, 4);
  return out;
}

// Q4_K/Q5_K: the 6-bit scale and min of sub-block j (0..7) from the 12
// packed bytes: j < 4 in the low 6 bits of bytes j and j+4; j >= 4 in the
// nibbles of byte j+4 with their top two bits in bytes j-4 and j.
inline void k4_scale_min(const uint8_t* s, int j, int& sc, int& m) {
  if (j < 4) {
    sc = s[j] & 63;
    m = s[j + 4] & 63;
  } else {
    sc = (s[j + 4] & 0xF) | ((s[j - 4] >> 6) << 4);
    m = (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
  }
}

// Q3_K: the signed 6-bit scale of sub-block j (0..15): low nibble from byte
// j (j < 8, low half) or j - 8 (high half), top two bits from byte 8 + j % 4.
inline int q3k_scale(const uint8_t* s, int j) {
  const int lo = j < 8 ? s[j] & 0xF : s[j - 8] >> 4;
  return (lo | (((s[8 + j % 4] >> (2 * (j / 4))) & 3) << 4)) - 32;
}

}  // namespace ggml
}  // namespace dsv3
