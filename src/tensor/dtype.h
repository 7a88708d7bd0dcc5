// Element types of stored tensors and their scalar conversions to f32.
#pragma once
#include <array>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string_view>

namespace dsv3 {

enum class DType : uint8_t { F32, F16, BF16, F8_E4M3, I32, I64, U8 };

std::string_view dtype_name(DType t);  // safetensors spelling: "F32", "BF16", ...
std::optional<DType> dtype_from_name(std::string_view s);
std::size_t dtype_size(DType t);

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
