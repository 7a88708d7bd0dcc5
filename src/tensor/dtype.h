// Element types of stored tensors and their scalar conversions to f32.
#pragma once
#include <array>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string_view>

namespace dsv3 {

// The plain types, then ggml's block formats (as GGUF files store them): a
// block of dtype_block() elements takes dtype_block_bytes() bytes, and a row
// is a whole number of blocks.
enum class DType : uint8_t { F32, F16, BF16, F8_E4M3, I32, I64, U8, Q4_0, Q8_0, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K,
                          // ggml's IQ formats: read (dequantised) only, never written
                          IQ4_XS, IQ4_NL, IQ2_XXS, IQ1_S, IQ3_XXS, IQ2_XS, IQ1_M, IQ2_S, IQ3_S };

std::string_view dtype_name(DType t);  // safetensors spelling: "F32", "BF16", ...; ggml's "Q4_K", ...
std::optional<DType> dtype_from_name(std::string_view s);
// Bytes per element of a plain type; 0 for a block format (use dtype_row_bytes).
std::size_t dtype_size(DType t);
bool is_block_format(DType t);
// ggml's IQ (lattice / non-linear) formats: dsv3 dequantises them exactly but has no quantiser.
bool is_iq_format(DType t);
int64_t dtype_block(DType t);        // elements per block: 1 for plain types
int64_t dtype_block_bytes(DType t);  // bytes per block: dtype_size for plain types
// Bytes of `cols` consecutive elements; cols must be a multiple of dtype_block(t).
inline int64_t dtype_row_bytes(DType t, int64_t cols) { return cols / dtype_block(t) * dtype_block_bytes(t); }

inline float bf16_to_f32(uint16_t v) {
  uint32_t bits = static_cast<uint32_t>(v) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

// Round-to-nearest-even, NaN kept quiet.
inline uint16_t f32_to_bf16(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  if ((bits & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((bits >> 16) | 0x40);
  bits += 0x7fffu + ((bits >> 16) & 1u);
  return static_cast<uint16_t>(bits >> 16);
}

float f16_to_f32(uint16_t v);
// Nearest half (ties to even), saturating at +-65504 (no infinities made).
uint16_t f32_to_f16(float f);

// OCP FP8 E4M3 ("e4m3fn"): bias 7, no infinities, 0x7f/0xff are NaN.
extern const std::array<float, 256> kFp8E4M3ToF32;
inline float fp8_e4m3_to_f32(uint8_t v) { return kFp8E4M3ToF32[v]; }

// Nearest e4m3 value (ties to even), saturating at +-448; NaN stays NaN.
uint8_t f32_to_fp8_e4m3(float f);

}  // namespace dsv3
