// ggml's IQ formats: hand-built blocks decoded to values worked out from the
// format's definition, and golden hashes of ggml's own dequantize_row_iq*
// output on random blocks (ours must give the same bits).
#include <gtest/gtest.h>

#include <cstring>
#include <stdexcept>
#include <vector>

#include "support/iq_blocks.h"
#include "tensor/ggml_blocks.h"
#include "tensor/ggml_iq_grids.h"

namespace dsv3 {
namespace {

constexpr DType kIqTypes[] = {DType::IQ4_XS, DType::IQ4_NL, DType::IQ2_XXS, DType::IQ1_S, DType::IQ3_XXS,
                              DType::IQ2_XS, DType::IQ1_M,  DType::IQ2_S,   DType::IQ3_S};

void put16(uint8_t* p, uint16_t v) { std::memcpy(p, &v, 2); }
void put32(uint8_t* p, uint32_t v) { std::memcpy(p, &v, 4); }

std::vector<float> decode(DType t, const std::vector<uint8_t>& b) {
  const int64_t n = static_cast<int64_t>(b.size()) / dtype_block_bytes(t) * dtype_block(t);
  std::vector<float> y(n);
  dequantize_blocks(t, b.data(), y.data(), n);
  return y;
}

TEST(GgmlIqBlocks, SizesAndNames) {
  const struct { DType t; const char* name; int64_t qk, bytes; } want[] = {
      {DType::IQ4_XS, "IQ4_XS", 256, 136}, {DType::IQ4_NL, "IQ4_NL", 32, 18}, {DType::IQ2_XXS, "IQ2_XXS", 256, 66},
      {DType::IQ1_S, "IQ1_S", 256, 50},    {DType::IQ3_XXS, "IQ3_XXS", 256, 98}, {DType::IQ2_XS, "IQ2_XS", 256, 74},
      {DType::IQ1_M, "IQ1_M", 256, 56},    {DType::IQ2_S, "IQ2_S", 256, 82},    {DType::IQ3_S, "IQ3_S", 256, 110}};
  for (const auto& w : want) {
    EXPECT_EQ(dtype_name(w.t), w.name);
    EXPECT_EQ(dtype_from_name(w.name), w.t);
    EXPECT_EQ(dtype_block(w.t), w.qk);
    EXPECT_EQ(dtype_block_bytes(w.t), w.bytes);
    EXPECT_TRUE(is_block_format(w.t));
    EXPECT_TRUE(is_iq_format(w.t));
    EXPECT_FALSE(can_quantize(w.t));
  }
  EXPECT_FALSE(is_iq_format(DType::Q6_K));
  EXPECT_TRUE(can_quantize(DType::Q6_K));
}

TEST(GgmlIqBlocks, QuantiseIsRefused) {
  float x[256] = {};
  uint8_t b[136];
  EXPECT_THROW(quantize_blocks(DType::IQ4_XS, x, b, 256), std::invalid_argument);
}

TEST(GgmlIqBlocks, SignTableHasEvenParity) {  // ksigns_iq2xs[i]: i plus a bit 7 that makes the count even
  for (int i = 0; i < 128; ++i) EXPECT_EQ(ggml::ksigns_iq2xs[i], i | ((__builtin_popcount(i) & 1) << 7)) << i;
}

TEST(GgmlIqBlocks, Iq4NlBlock) {
  std::vector<uint8_t> b(18, 0);
  put16(b.data(), 0x3C00);  // 1
  b[2] = 0xF0;
  b[3] = 0x87;
  const auto y = decode(DType::IQ4_NL, b);
  EXPECT_EQ(y[0], -127.0f);  // level 0
  EXPECT_EQ(y[16], 113.0f);  // level 15
  EXPECT_EQ(y[1], -10.0f);   // level 7
  EXPECT_EQ(y[17], 1.0f);    // level 8
}

TEST(GgmlIqBlocks, Iq4XsBlock) {
  std::vector<uint8_t> b(136, 0x88);  // level 8 (= 1) everywhere
  put16(b.data() + 0, 0x3800);        // d = 0.5
  put16(b.data() + 2, 2 << 2);        // sub-block 1: high scale bits 2
  std::memset(b.data() + 4, 0, 4);
  b[4] = 0x30;                        // sub-block 1: low nibble 3 -> scale 35 - 32 = 3; sub-block 0: 0 - 32
  b[8 + 16] = 0x0F;                   // sub-block 1, element 0 level 15, element 16 level 0
  const auto y = decode(DType::IQ4_XS, b);
  EXPECT_EQ(y[0], -16.0f);            // 0.5 * -32 * 1
  EXPECT_EQ(y[31], -16.0f);
  EXPECT_EQ(y[32], 169.5f);           // 0.5 * 3 * 113
  EXPECT_EQ(y[48], -190.5f);          // 0.5 * 3 * -127
  EXPECT_EQ(y[33], 1.5f);
  EXPECT_EQ(y[64], -16.0f);           // sub-block 2: scale 0 - 32
}

TEST(GgmlIqBlocks, Iq2XxsBlock) {
  std::vector<uint8_t> b(66, 0);
  put16(b.data(), 0x3C00);
  b[2 + 1] = 1;                       // group 1: grid entry 1 (first byte 0x2b = 43, the rest 8)
  put32(b.data() + 2 + 4, (3u << 28) | 1u);  // scale 3 -> (0.5 + 3) / 4; group 0 signs 1 -> elements 0 and 7
  const auto y = decode(DType::IQ2_XXS, b);
  EXPECT_EQ(y[0], -7.0f);             // 0.875 * 8
  EXPECT_EQ(y[1], 7.0f);
  EXPECT_EQ(y[7], -7.0f);
  EXPECT_EQ(y[8], 37.625f);           // 0.875 * 43
  EXPECT_EQ(y[9], 7.0f);
  EXPECT_EQ(y[32], 1.0f);             // scale 0 -> 0.125 * 8
}

TEST(GgmlIqBlocks, Iq2XsBlock) {
  std::vector<uint8_t> b(74, 0);
  put16(b.data(), 0x3C00);
  put16(b.data() + 2, 3 << 9);        // group 0: grid 0, signs 3 -> elements 0 and 1
  put16(b.data() + 2 + 4, 1);         // group 2: grid 1
  b[66] = 0x21;                       // groups 0-1: (0.5 + 1) / 4, groups 2-3: (0.5 + 2) / 4
  const auto y = decode(DType::IQ2_XS, b);
  EXPECT_EQ(y[0], -3.0f);             // 0.375 * 8
  EXPECT_EQ(y[1], -3.0f);
  EXPECT_EQ(y[2], 3.0f);
  EXPECT_EQ(y[16], 26.875f);          // 0.625 * 43
  EXPECT_EQ(y[17], 5.0f);
}

TEST(GgmlIqBlocks, Iq2SBlock) {
  std::vector<uint8_t> b(82, 0);
  put16(b.data(), 0x3C00);
  b[34] = 0x80;                       // group 0 signs: element 7
  b[66] = 1 << 2;                     // group 1: grid index 256 + qs
  b[74] = 0x10;                       // groups 0-1: 0.125, groups 2-3: 0.375
  const auto y = decode(DType::IQ2_S, b);
  EXPECT_EQ(y[0], 1.0f);
  EXPECT_EQ(y[7], -1.0f);
  const uint64_t g = ggml::iq2s_grid[256];
  EXPECT_EQ(y[8], 0.125f * ggml::grid_byte(g, 0));
  EXPECT_EQ(y[16], 3.0f);
}

TEST(GgmlIqBlocks, Iq3XxsBlock) {
  std::vector<uint8_t> b(98, 0);
  put16(b.data(), 0x3C00);
  b[2 + 1] = 1;                       // elements 4-7 from grid 1 (0x04040414: 20, 4, 4, 4)
  put32(b.data() + 66, (1u << 28) | 2u);  // scale (0.5 + 1) / 2; signs 2 -> elements 1 and 7
  const auto y = decode(DType::IQ3_XXS, b);
  EXPECT_EQ(y[0], 3.0f);              // 0.75 * 4
  EXPECT_EQ(y[1], -3.0f);
  EXPECT_EQ(y[4], 15.0f);             // 0.75 * 20
  EXPECT_EQ(y[7], -3.0f);
  EXPECT_EQ(y[32], 1.0f);             // scale 0: 0.25 * 4
}

TEST(GgmlIqBlocks, Iq3SBlock) {
  std::vector<uint8_t> b(110, 0);
  put16(b.data(), 0x3C00);
  b[66] = 1;                          // elements 0-3: grid 256 (0x05090507: 7, 5, 9, 5)
  b[74] = 0x01;                       // sign of element 0
  b[106] = 0x21;                      // sub-block 0: 1 + 2 * 1, sub-block 1: 1 + 2 * 2
  const auto y = decode(DType::IQ3_S, b);
  EXPECT_EQ(y[0], -21.0f);
  EXPECT_EQ(y[1], 15.0f);
  EXPECT_EQ(y[2], 27.0f);
  EXPECT_EQ(y[4], 3.0f);              // grid 0: 1s
  EXPECT_EQ(y[32], 5.0f);
  EXPECT_EQ(y[64], 1.0f);             // scale nibble 0: 1
}

TEST(GgmlIqBlocks, Iq1SBlock) {
  std::vector<uint8_t> b(50, 0);
  put16(b.data(), 0x3C00);
  put16(b.data() + 34, 2 << 12);              // sub-block 0: scale 2 * 2 + 1, delta +1/8
  put16(b.data() + 36, 0x8000 | (1 << 3));    // sub-block 1: scale 1, delta -1/8; group 1 grid 256 + qs
  const auto y = decode(DType::IQ1_S, b);
  EXPECT_EQ(y[0], -4.375f);                   // 5 * (-1 + 0.125)
  EXPECT_EQ(y[32], -1.125f);                  // 1 * (-1 - 0.125)
  const uint64_t g = ggml::iq1s_grid[256];
  EXPECT_EQ(y[40], static_cast<float>(static_cast<int8_t>(ggml::grid_byte(g, 0))) - 0.125f);
}

TEST(GgmlIqBlocks, Iq1MBlock) {
  std::vector<uint8_t> b(56, 0);
  // scale words: f16 1.0 = 0x3C00 in the top nibbles (0, 0, 0xC, 0x3); word 0
  // holds sub-block 0's two 3-bit scales: 1 -> 3 and 2 -> 5
  put16(b.data() + 48, 1 | (2 << 3));
  put16(b.data() + 50, 0);
  put16(b.data() + 52, 0xC000);
  put16(b.data() + 54, 0x3000);
  b[32 + 1] = 0x08;                           // group 2: delta -1/8
  const auto y = decode(DType::IQ1_M, b);
  EXPECT_EQ(y[0], -2.625f);                   // 3 * (-1 + 0.125)
  EXPECT_EQ(y[16], -5.625f);                  // 5 * (-1 - 0.125)
  EXPECT_EQ(y[24], -4.375f);                  // 5 * (-1 + 0.125)
  EXPECT_EQ(y[32], -0.875f);                  // sub-block 1: scale 0 -> 1
}

// FNV-1a of the f32 bits ggml's dequantize_row_iq* (llama.cpp's
// ggml/src/ggml-quants.c, built on its own) wrote for 64 random blocks
// per type, random_iq_blocks(t, 1000 + index in kIqTypes): any finite f16
// scale, subnormals included.
TEST(GgmlIqBlocks, GoldenHashesFromGgml) {
  const std::pair<DType, uint64_t> expected[] = {
      {DType::IQ4_XS, 0x0306a24af675f823ull},  {DType::IQ4_NL, 0x156ea13d9f849f72ull},
      {DType::IQ2_XXS, 0x2b8472e5358a61d3ull}, {DType::IQ1_S, 0xb7e049da54b84d3aull},
      {DType::IQ3_XXS, 0x45038728cedccdf0ull}, {DType::IQ2_XS, 0x536b19a328eb6794ull},
      {DType::IQ1_M, 0x5f9aec3cf2d99709ull},   {DType::IQ2_S, 0xf908c6e49c00d510ull},
      {DType::IQ3_S, 0xaa9591d64608453cull},
  };
  ASSERT_EQ(std::size(expected), std::size(kIqTypes));
  for (std::size_t k = 0; k < std::size(kIqTypes); ++k) {
    const DType t = kIqTypes[k];
    ASSERT_EQ(expected[k].first, t);
    const int64_t nb = 64, n = nb * dtype_block(t);
    std::vector<uint8_t> b(nb * dtype_block_bytes(t));
    test::random_iq_blocks(t, b.data(), nb, 1000 + k);
    std::vector<float> y(n);
    dequantize_blocks(t, b.data(), y.data(), n);
    uint64_t h = 1469598103934665603ull;
    const auto* p = reinterpret_cast<const uint8_t*>(y.data());
    for (int64_t i = 0; i < n * 4; ++i) h = (h ^ p[i]) * 1099511628211ull;
    EXPECT_EQ(h, expected[k].second) << dtype_name(t);
  }
}

}  // namespace
}  // namespace dsv3
