#include "tensor/dtype.h"

#include <array>
#include <cmath>
#include <limits>

namespace dsv3 {

namespace {
struct Entry {
  DType type;
  std::string_view name;
  int64_t block, bytes;  // elements and bytes per block
};
constexpr Entry kTypes[] = {
    {DType::F32, "F32", 1, 4},      {DType::F16, "F16", 1, 2},      {DType::BF16, "BF16", 1, 2},
    {DType::F8_E4M3, "F8_E4M3", 1, 1}, {DType::I32, "I32", 1, 4},   {DType::I64, "I64", 1, 8},
    {DType::U8, "U8", 1, 1},        {DType::Q4_0, "Q4_0", 32, 18},  {DType::Q8_0, "Q8_0", 32, 34},
    {DType::Q2_K, "Q2_K", 256, 84}, {DType::Q3_K, "Q3_K", 256, 110}, {DType::Q4_K, "Q4_K", 256, 144},
    {DType::Q5_K, "Q5_K", 256, 176}, {DType::Q6_K, "Q6_K", 256, 210},
    // IQ formats, sizes as ggml's block_iq* structs
    {DType::IQ4_XS, "IQ4_XS", 256, 136}, {DType::IQ4_NL, "IQ4_NL", 32, 18}, {DType::IQ2_XXS, "IQ2_XXS", 256, 66},
    {DType::IQ1_S, "IQ1_S", 256, 50},    {DType::IQ3_XXS, "IQ3_XXS", 256, 98}, {DType::IQ2_XS, "IQ2_XS", 256, 74},
    {DType::IQ1_M, "IQ1_M", 256, 56},    {DType::IQ2_S, "IQ2_S", 256, 82},    {DType::IQ3_S, "IQ3_S", 256, 110},
};
const Entry* entry(DType t) {
  for (const auto& e : kTypes)
    if (e.type == t) return &e;
  return nullptr;
}

std::array<float, 256> make_fp8_table() {
  std::array<float, 256> t{};
  for (int v = 0; v < 256; ++v) {
    const int sign = v >> 7, exp = (v >> 3) & 0xf, man = v & 7;
    float mag;
    if (exp == 0xf && man == 7) {
      mag = std::numeric_limits<float>::quiet_NaN();
    } else if (exp == 0) {
      mag = std::ldexp(static_cast<float>(man) / 8.0f, -6);  // subnormal
    } else {
      mag = std::ldexp(1.0f + static_cast<float>(man) / 8.0f, exp - 7);
    }
    t[v] = sign ? -mag : mag;
  }
  return t;
}
}  // namespace

const std::array<float, 256> kFp8E4M3ToF32 = make_fp8_table();

std::string_view dtype_name(DType t) {
  const Entry* e = entry(t);
  return e ? e->name : "?";
}

std::optional<DType> dtype_from_name(std::string_view s) {
  for (const auto& e : kTypes)
    if (e.name == s) return e.type;
  return std::nullopt;
}

std::size_t dtype_size(DType t) {
  const Entry* e = entry(t);
  return e && e->block == 1 ? static_cast<std::size_t>(e->bytes) : 0;
}

bool is_block_format(DType t) { return dtype_block(t) > 1; }
bool is_iq_format(DType t) { return t >= DType::IQ4_XS && t <= DType::IQ3_S; }
int64_t dtype_block(DType t) {
  const Entry* e = entry(t);
  return e ? e->block : 1;
}
int64_t dtype_block_bytes(DType t) {
  const Entry* e = entry(t);
  return e ? e->bytes : 0;
}

uint8_t f32_to_fp8_e4m3(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  const uint8_t sign = static_cast<uint8_t>((bits >> 24) & 0x80);
  const float a = std::fabs(f);
  if (std::isnan(f)) return static_cast<uint8_t>(sign | 0x7f);
  if (a >= 448.0f) return static_cast<uint8_t>(sign | 0x7e);
  if (a < std::ldexp(1.0f, -6)) {
    // subnormal range: multiples of 2^-9, rounded half to even
    const float q = std::nearbyint(a * 512.0f);
    return static_cast<uint8_t>(sign | static_cast<uint8_t>(q));  // q == 8 is the smallest normal, 0x08
  }
  std::memcpy(&bits, &a, 4);
  // keep 3 mantissa bits, round to nearest even; a carry bumps the exponent
  bits += 0x7FFFFu + ((bits >> 20) & 1u);
  const int exp = static_cast<int>(bits >> 23) - 127 + 7;
  const uint32_t man = (bits >> 20) & 7u;
  if (exp > 15 || (exp == 15 && man == 7)) return static_cast<uint8_t>(sign | 0x7e);
  return static_cast<uint8_t>(sign | (exp << 3) | man);
}

uint16_t f32_to_f16(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  const uint16_t sign = static_cast<uint16_t>((bits >> 16) & 0x8000);
  const float a = std::fabs(f);
  if (std::isnan(f)) return static_cast<uint16_t>(sign | 0x7e00);
  if (a >= 65504.0f) return static_cast<uint16_t>(sign | 0x7bff);
  if (a < std::ldexp(1.0f, -14)) {  // subnormal: multiples of 2^-24
    return static_cast<uint16_t>(sign | static_cast<uint16_t>(std::nearbyint(a * 16777216.0f)));
  }
  std::memcpy(&bits, &a, 4);
  bits += 0xFFFu + ((bits >> 13) & 1u);  // round the 13 dropped bits to even
  const uint32_t exp = (bits >> 23) - 127 + 15, man = (bits >> 13) & 0x3ffu;
  if (exp >= 31) return static_cast<uint16_t>(sign | 0x7bff);
  return static_cast<uint16_t>(sign | (exp << 10) | man);
}

float f16_to_f32(uint16_t h) {
  const uint32_t sign = (h >> 15) & 1, exp = (h >> 10) & 0x1f, man = h & 0x3ff;
  float mag;
  if (exp == 0) {
    mag = std::ldexp(static_cast<float>(man), -24);
  } else if (exp == 31) {
    mag = man ? std::numeric_limits<float>::quiet_NaN() : std::numeric_limits<float>::infinity();
  } else {
    mag = std::ldexp(1.0f + static_cast<float>(man) / 1024.0f, static_cast<int>(exp) - 15);
  }
  return sign ? -mag : mag;
}

}  // namespace dsv3
