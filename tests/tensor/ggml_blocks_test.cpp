// ggml block formats: hand-built blocks decoded to hand-computed values,
// the Q4_0/Q8_0 quantisers' exact bytes, and round-trip error per type.
#include "tensor/ggml_blocks.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

namespace dsv3 {
namespace {

constexpr DType kTypes[] = {DType::Q4_0, DType::Q8_0, DType::Q2_K, DType::Q3_K,
                            DType::Q4_K, DType::Q5_K, DType::Q6_K};

void put16(uint8_t* p, uint16_t v) { std::memcpy(p, &v, 2); }

std::vector<float> decode(DType t, const std::vector<uint8_t>& b) {
  const int64_t n = static_cast<int64_t>(b.size()) / dtype_block_bytes(t) * dtype_block(t);
  std::vector<float> y(n);
  dequantize_blocks(t, b.data(), y.data(), n);
  return y;
}

TEST(GgmlBlocks, HalfMatchesScalarConversion) {
  for (uint32_t h = 0; h < 65536; ++h) {
    uint8_t p[2];
    put16(p, static_cast<uint16_t>(h));
    const float a = ggml::half_at(p), b = f16_to_f32(static_cast<uint16_t>(h));
    if (std::isnan(b)) ASSERT_TRUE(std::isnan(a)) << h;
    else ASSERT_EQ(a, b) << h;
  }
}

TEST(GgmlBlocks, Q8_0Block) {
  std::vector<uint8_t> b(34, 0);
  put16(b.data(), 0x3800);  // 0.5
  b[2] = static_cast<uint8_t>(int8_t{-128});
  b[3] = 127;
  b[33] = static_cast<uint8_t>(int8_t{-3});
  const auto y = decode(DType::Q8_0, b);
  EXPECT_EQ(y[0], -64.0f);
  EXPECT_EQ(y[1], 63.5f);
  EXPECT_EQ(y[2], 0.0f);
  EXPECT_EQ(y[31], -1.5f);
}

TEST(GgmlBlocks, Q4_0Block) {
  std::vector<uint8_t> b(18, 0x88);  // every nibble 8: zero
  put16(b.data(), 0x4000);           // 2
  b[2] = 0x1F;
  const auto y = decode(DType::Q4_0, b);
  EXPECT_EQ(y[0], 14.0f);    // (15 - 8) * 2
  EXPECT_EQ(y[16], -14.0f);  // (1 - 8) * 2
  EXPECT_EQ(y[5], 0.0f);
}

TEST(GgmlBlocks, Q2_KBlock) {
  std::vector<uint8_t> b(84, 0);
  b[0] = 0x37;  // sub-block 0: scale 7, min 3
  b[1] = 0x10;  // sub-block 1: scale 0, min 1
  b[16] = 0x02; // element 0: level 2
  put16(b.data() + 80, 0x3C00);  // d = 1
  put16(b.data() + 82, 0x4000);  // dmin = 2
  const auto y = decode(DType::Q2_K, b);
  EXPECT_EQ(y[0], 8.0f);   // 7 * 2 - 2 * 3
  EXPECT_EQ(y[1], -6.0f);  // level 0
  EXPECT_EQ(y[17], -2.0f);
  EXPECT_EQ(y[255], 0.0f);
}

TEST(GgmlBlocks, Q3_KBlock) {
  std::vector<uint8_t> b(110, 0);
  b[96 + 0] = 5;  // scale 0: low nibble 5, top bits 2 -> 37 - 32 = 5
  b[96 + 8] = 2;
  b[32 + 0] = 3;  // element 0: level 3, high bit set -> 3
  b[0] = 1;
  b[32 + 1] = 1;  // element 1: level 1, high bit clear -> 1 - 4
  put16(b.data() + 108, 0x3C00);
  const auto y = decode(DType::Q3_K, b);
  EXPECT_EQ(y[0], 15.0f);
  EXPECT_EQ(y[1], -15.0f);
  EXPECT_EQ(y[32], 128.0f);  // scale 2 is 0 - 32, level 0 - 4
}

TEST(GgmlBlocks, Q4_KBlock) {
  std::vector<uint8_t> b(144, 0);
  put16(b.data(), 0x3C00);      // d = 1
  put16(b.data() + 2, 0x3800);  // dmin = 0.5
  uint8_t* s = b.data() + 4;
  s[0] = 10;  // sub-block 0: scale 10, min 4
  s[4] = 4;
  // sub-block 5: scale 37, min 50 (high bits in bytes 1 and 5)
  s[9] = static_cast<uint8_t>((37 & 0xF) | ((50 & 0xF) << 4));
  s[1] |= (37 >> 4) << 6;
  s[5] |= (50 >> 4) << 6;
  b[16 + 0] = 0x07;       // element 0: low nibble of qs[0]
  b[16 + 64 + 3] = 0xB0;  // element 163: high nibble of qs[67]
  const auto y = decode(DType::Q4_K, b);
  EXPECT_EQ(y[0], 68.0f);    // 10 * 7 - 0.5 * 4
  EXPECT_EQ(y[1], -2.0f);
  EXPECT_EQ(y[32], 0.0f);    // sub-block 1: scale 0, min 0 (bytes 1, 5 hold only top bits)
  EXPECT_EQ(y[163], 382.0f); // 37 * 11 - 0.5 * 50
  EXPECT_EQ(y[160], -25.0f);
}

TEST(GgmlBlocks, Q5_KBlock) {
  std::vector<uint8_t> b(176, 0);
  put16(b.data(), 0x3C00);
  put16(b.data() + 2, 0x3C00);
  b[4 + 0] = 3;  // sub-block 0: scale 3, min 1
  b[4 + 4] = 1;
  b[4 + 1] = 2;  // sub-block 1: scale 2, min 0
  b[16 + 0] = 0x01;  // qh[0]: bit 0 (element 0 + 16)
  b[48 + 0] = 0xF5;
  const auto y = decode(DType::Q5_K, b);
  EXPECT_EQ(y[0], 62.0f);  // 3 * (5 + 16) - 1
  EXPECT_EQ(y[32], 30.0f); // 2 * 15
  EXPECT_EQ(y[1], -1.0f);
}

TEST(GgmlBlocks, Q6_KBlock) {
  std::vector<uint8_t> b(210, 0);
  put16(b.data() + 208, 0x3400);  // 0.25
  b[192 + 3] = static_cast<uint8_t>(int8_t{-5});
  b[192 + 5] = 2;
  b[50] = 0x0A;       // element 50: low nibble of ql[50]
  b[128 + 18] = 0x08; // its high bits: bits 2-3 of qh[18] = 2
  const auto y = decode(DType::Q6_K, b);
  EXPECT_EQ(y[50], -12.5f);  // 0.25 * -5 * (42 - 32)
  EXPECT_EQ(y[82], -16.0f);  // 0.25 * 2 * (0 - 32)
  EXPECT_EQ(y[0], 0.0f);     // scale 0
}

TEST(GgmlBlocks, Q8_0QuantiserBytes) {
  float x[32];
  for (int j = 0; j < 32; ++j) x[j] = static_cast<float>(j - 10);
  uint8_t b[34];
  quantize_blocks(DType::Q8_0, x, b, 32);
  uint16_t d;
  std::memcpy(&d, b, 2);
  EXPECT_EQ(d, f32_to_f16(21.0f / 127.0f));
  EXPECT_EQ(static_cast<int8_t>(b[2 + 31]), 127);
  EXPECT_EQ(static_cast<int8_t>(b[2 + 0]), -60);  // round(-10 * 127 / 21)
  EXPECT_EQ(static_cast<int8_t>(b[2 + 10]), 0);
  EXPECT_EQ(static_cast<int8_t>(b[2 + 20]), 60);
}

TEST(GgmlBlocks, Q4_0QuantiserBytes) {
  float x[32];
  for (int j = 0; j < 32; ++j) x[j] = static_cast<float>(j - 20);
  uint8_t b[18];
  quantize_blocks(DType::Q4_0, x, b, 32);
  uint16_t d;
  std::memcpy(&d, b, 2);
  EXPECT_EQ(d, 0x4100);       // -20 / -8 = 2.5
  EXPECT_EQ(b[2 + 0], 0x60);  // -20 -> 0, -4 -> 6
  EXPECT_EQ(b[2 + 15], 0xC6); // -5 -> 6, 11 -> 12 (truncated 12.9)
}

// The bytes ggml's own reference quantisers (quantize_row_*_ref, ggml-org/ggml
// at d99724f2) write for this row, as FNV-1a hashes: ours write the same.
TEST(GgmlBlocks, QuantiserBytesMatchGgml) {
  const int64_t n = 256 * 8;
  std::vector<float> x(n);
  for (int64_t i = 0; i < n; ++i)
    x[i] = static_cast<float>((static_cast<uint32_t>(i) * 2654435761u) % 2001u) / 1000.0f - 1.0f;
  const std::pair<DType, uint64_t> expected[] = {
      {DType::Q4_0, 0x18efe8aba372d9d2ull}, {DType::Q8_0, 0x2c7f7c84c88763afull}, {DType::Q2_K, 0xb7b00ba4c6cecd0aull},
      {DType::Q3_K, 0x66f007344c13edc3ull}, {DType::Q4_K, 0xba9c3bbe8809ded8ull}, {DType::Q5_K, 0xe00817d420b70b66ull},
      {DType::Q6_K, 0x1c4d2818171983a6ull}};
  for (auto [t, hash] : expected) {
    std::vector<uint8_t> b(dtype_row_bytes(t, n));
    quantize_blocks(t, x.data(), b.data(), n);
    uint64_t h = 1469598103934665603ull;
    for (uint8_t v : b) h = (h ^ v) * 1099511628211ull;
    EXPECT_EQ(h, hash) << dtype_name(t);
  }
}

double relative_rms(DType t, const std::vector<float>& x) {
  std::vector<uint8_t> b(dtype_row_bytes(t, static_cast<int64_t>(x.size())));
  std::vector<float> y(x.size());
  quantize_blocks(t, x.data(), b.data(), static_cast<int64_t>(x.size()));
  dequantize_blocks(t, b.data(), y.data(), static_cast<int64_t>(x.size()));
  double e = 0, s = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    e += (double(x[i]) - y[i]) * (double(x[i]) - y[i]);
    s += double(x[i]) * x[i];
  }
  return std::sqrt(e / s);
}

TEST(GgmlBlocks, RoundTripErrorOfGaussianRows) {
  std::mt19937 rng(7);
  std::normal_distribution<float> nd;
  std::vector<float> x(256 * 64);
  for (auto& v : x) v = nd(rng);
  // the best single scalar quantisers of a Gaussian with 16, 8 and 4 levels
  // (Lloyd-Max) reach 9.7 %, 18.6 % and 34 %: per-block scales do better
  const std::pair<DType, double> bounds[] = {{DType::Q8_0, 0.006}, {DType::Q6_K, 0.02}, {DType::Q5_K, 0.04},
                                             {DType::Q4_K, 0.08},  {DType::Q4_0, 0.095}, {DType::Q3_K, 0.17},
                                             {DType::Q2_K, 0.32}};
  for (auto [t, bound] : bounds) {
    const double e = relative_rms(t, x);
    RecordProperty(std::string(dtype_name(t)), std::to_string(e));
    std::printf("%s relative rms error %.4f\n", std::string(dtype_name(t)).c_str(), e);
    EXPECT_LT(e, bound) << dtype_name(t);
  }
}

TEST(GgmlBlocks, EdgeRows) {
  for (DType t : kTypes) {
    const int64_t qk = dtype_block(t);
    for (int64_t blocks : {1, 3}) {
      const int64_t n = qk * blocks;
      std::vector<float> zero(n, 0.0f), y(n, 1.0f);
      std::vector<uint8_t> b(dtype_row_bytes(t, n));
      quantize_blocks(t, zero.data(), b.data(), n);
      dequantize_blocks(t, b.data(), y.data(), n);
      for (float v : y) ASSERT_EQ(v, 0.0f) << dtype_name(t);
      // large, tiny and constant blocks side by side: each keeps its own scale
      std::vector<float> x(n);
      for (int64_t i = 0; i < n; ++i) {
        const float base = std::sin(float(i) * 0.7f);
        x[i] = i / qk == 0 ? 3000.0f * base : i / qk == 1 ? 1e-3f * base : 0.75f;
      }
      quantize_blocks(t, x.data(), b.data(), n);
      dequantize_blocks(t, b.data(), y.data(), n);
      for (int64_t blk = 0; blk < blocks; ++blk) {
        double e = 0, s = 0;
        for (int64_t i = blk * qk; i < (blk + 1) * qk; ++i) {
          ASSERT_TRUE(std::isfinite(y[i]));
          e += (double(x[i]) - y[i]) * (double(x[i]) - y[i]);
          s += double(x[i]) * x[i];
        }
        EXPECT_LT(std::sqrt(e / s), t == DType::Q2_K ? 0.35 : 0.2) << dtype_name(t) << " block " << blk;
      }
    }
  }
}

TEST(GgmlBlocks, RejectsPartialBlocks) {
  std::vector<float> x(40);
  std::vector<uint8_t> b(64);
  EXPECT_THROW(quantize_blocks(DType::Q8_0, x.data(), b.data(), 40), std::invalid_argument);
  EXPECT_THROW(dequantize_blocks(DType::F32, b.data(), x.data(), 8), std::invalid_argument);
}

}  // namespace
}  // namespace dsv3
