// Each kernel against a plain double-precision reference written here, per
// stored dtype (the pattern of llama.cpp's test-backend-ops).
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "base/thread_pool.h"
#include "ops/activation.h"
#include "ops/attention.h"
#include "ops/matmul.h"
#include "ops/norm.h"
#include "ops/rope.h"
#include "support/attention_reference.h"
#include "support/random_matrix.h"
#include "tensor/dtype.h"

namespace dsv3::test {
namespace {

class MatmulByDtype : public testing::TestWithParam<DType> {};

TEST_P(MatmulByDtype, MatchesReference) {
  ThreadPool pool(2);
  for (auto [rows, cols, n] : {std::tuple{1, 1, 1}, {37, 300, 3}, {160, 96, 70}, {257, 129, 2}}) {
    const TestMatrix w = random_matrix(GetParam(), rows, cols, rows * 7 + cols);
    const auto x = random_vector(n * cols, 5);
    std::vector<float> y(n * rows), y1(n * rows);
    ops::matmul(w.view, x.data(), cols, n, y.data(), rows, &pool);
    ops::matmul(w.view, x.data(), cols, n, y1.data(), rows, nullptr);
    for (int64_t i = 0; i < n; ++i)
      for (int64_t r = 0; r < rows; ++r) {
        double ref = 0.0;
        for (int64_t j = 0; j < cols; ++j) ref += double(x[i * cols + j]) * w.values[r * cols + j];
        ASSERT_NEAR(y[i * rows + r], ref, 1e-4 * (1.0 + std::fabs(ref))) << rows << "x" << cols << " i=" << i << " r=" << r;
        ASSERT_EQ(y[i * rows + r], y1[i * rows + r]);  // threads do not change the result
      }
  }
}

TEST_P(MatmulByDtype, TransposedAndRowSliceMatchReference) {
  const int64_t rows = 200, cols = 150, n = 3;
  const TestMatrix w = random_matrix(GetParam(), rows, cols, 11);
  const int64_t r0 = 130, nr = 40;  // crosses a 128-row scale block
  const ops::Matrix slice = w.view.row_slice(r0, nr);
  const auto x = random_vector(n * nr, 3);
  std::vector<float> y(n * cols);
  ops::matmul_transposed(slice, x.data(), nr, n, y.data(), cols);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t c = 0; c < cols; ++c) {
      double ref = 0.0;
      for (int64_t r = 0; r < nr; ++r) ref += double(x[i * nr + r]) * w.values[(r0 + r) * cols + c];
      ASSERT_NEAR(y[i * cols + c], ref, 1e-4 * (1.0 + std::fabs(ref)));
    }
}

INSTANTIATE_TEST_SUITE_P(Ops, MatmulByDtype, testing::Values(DType::F32, DType::BF16, DType::F8_E4M3),
                         [](const auto& info) { return std::string(dtype_name(info.param)); });

TEST(Dtype, Fp8E4M3Decoding) {
  EXPECT_EQ(fp8_e4m3_to_f32(0x00), 0.0f);
  EXPECT_EQ(fp8_e4m3_to_f32(0x38), 1.0f);        // exponent 7 = bias
  EXPECT_EQ(fp8_e4m3_to_f32(0x7e), 448.0f);      // largest finite
  EXPECT_EQ(fp8_e4m3_to_f32(0xfe), -448.0f);
  EXPECT_EQ(fp8_e4m3_to_f32(0x01), std::ldexp(1.0f, -9));  // smallest subnormal
  EXPECT_EQ(fp8_e4m3_to_f32(0x08), std::ldexp(1.0f, -6));  // smallest normal
  EXPECT_TRUE(std::isnan(fp8_e4m3_to_f32(0x7f)));
  EXPECT_TRUE(std::isnan(fp8_e4m3_to_f32(0xff)));
}

TEST(Dtype, Bf16AndF16) {
  EXPECT_EQ(bf16_to_f32(0x3f80), 1.0f);
  EXPECT_EQ(bf16_to_f32(f32_to_bf16(-2.5f)), -2.5f);
  EXPECT_EQ(f32_to_bf16(1.00390625f), 0x3f80);  // ties to even
  EXPECT_EQ(f16_to_f32(0x3c00), 1.0f);
  EXPECT_EQ(f16_to_f32(0xc000), -2.0f);
  EXPECT_EQ(f16_to_f32(0x0001), std::ldexp(1.0f, -24));
  EXPECT_TRUE(std::isinf(f16_to_f32(0x7c00)));
  EXPECT_EQ(dtype_from_name("F8_E4M3"), DType::F8_E4M3);
  EXPECT_FALSE(dtype_from_name("F8_E5M2").has_value());
}

TEST(Ops, RmsNorm) {
  const auto x = random_vector(100, 1), w = random_vector(100, 2);
  std::vector<float> y(100);
  ops::rmsnorm(x.data(), w.data(), 100, 1e-6f, y.data());
  double ss = 0;
  for (float v : x) ss += double(v) * v;
  const double inv = 1.0 / std::sqrt(ss / 100 + 1e-6);
  for (int i = 0; i < 100; ++i) EXPECT_NEAR(y[i], w[i] * x[i] * inv, 1e-5);
}

TEST(Ops, SiluMul) {
  const std::vector<float> g{-3.0f, 0.0f, 2.0f}, u{1.0f, 5.0f, -1.5f};
  std::vector<float> y(3);
  ops::silu_mul(g.data(), u.data(), 3, y.data());
  for (int i = 0; i < 3; ++i) EXPECT_NEAR(y[i], g[i] / (1.0 + std::exp(-g[i])) * u[i], 1e-6);
}

TEST(Ops, RopeRotatesInterleavedPairs) {
  const ops::Rope rope(8, 10000.0);
  std::vector<float> x = random_vector(8, 9), y = x;
  rope.apply(y.data(), 7);
  for (int i = 0; i < 4; ++i) {
    const double f = std::pow(10000.0, -2.0 * i / 8.0), a = 7 * f;
    EXPECT_NEAR(y[2 * i], x[2 * i] * std::cos(a) - x[2 * i + 1] * std::sin(a), 1e-5);
    EXPECT_NEAR(y[2 * i + 1], x[2 * i + 1] * std::cos(a) + x[2 * i] * std::sin(a), 1e-5);
  }
}

TEST(Ops, YarnFrequencies) {
  // DeepSeek-V3's settings on a 64-dim rope: the fastest dimensions keep their
  // frequency, the slowest are divided by the factor, the ramp lies between.
  ops::YarnParams y;
  y.factor = 40;
  y.original_max_positions = 4096;
  y.beta_fast = 32;
  y.beta_slow = 1;
  y.mscale = 1;
  y.mscale_all_dim = 1;
  const ops::Rope rope(64, 10000.0, y);
  const ops::Rope plain(64, 10000.0);
  const double low = std::floor(64 * std::log(4096 / (32 * 2 * M_PI)) / (2 * std::log(10000.0)));
  const double high = std::ceil(64 * std::log(4096 / (1 * 2 * M_PI)) / (2 * std::log(10000.0)));
  for (int i = 0; i < 32; ++i) {
    const double ramp = std::clamp((i - low) / (high - low), 0.0, 1.0);
    const double base = plain.inv_freq()[i];
    const double want = base / 40 * ramp + base * (1 - ramp);
    EXPECT_NEAR(rope.inv_freq()[i], want, 1e-6 * want) << i;
  }
  EXPECT_EQ(rope.attention_factor(), 1.0f);
  EXPECT_NEAR(ops::yarn_mscale(40, 1.0), 0.1 * std::log(40.0) + 1, 1e-12);
  EXPECT_EQ(ops::yarn_mscale(1.0, 1.0), 1.0);
}

TEST(Ops, SharedKvAttentionMatchesSoftmaxReference) {
  const int64_t nq = 3, dk = 20, dv = 12, ldkv = 24;
  for (int64_t n_kv : {1, 5, 128, 300}) {
    const auto q = random_vector(nq * dk, 1), kv = random_vector(n_kv * ldkv, 2);
    std::vector<float> out(nq * dv), scratch(ops::shared_kv_attention_scratch(nq));
    ops::SharedKvAttention a{q.data(), dk, nq, kv.data(), ldkv, n_kv, dk, dv, 0.3f, out.data(), dv};
    ops::shared_kv_attention(a, scratch.data());
    const std::vector<double> ref = attention_reference(q.data(), nq, dk, kv.data(), ldkv, n_kv, dv, 0.3);
    for (int64_t i = 0; i < nq * dv; ++i) ASSERT_NEAR(out[i], ref[i], 1e-5) << "n_kv " << n_kv;
  }
}

TEST(Ops, SharedKvAttentionReadsF16Cache) {
  const int64_t nq = 5, dk = 44, dv = 36, n_kv = 300;
  const auto q = random_vector(nq * dk, 3), kv = random_vector(n_kv * dk, 4);
  std::vector<uint16_t> kv16(kv.size());
  std::vector<float> kv_rounded(kv.size());
  for (std::size_t i = 0; i < kv.size(); ++i) {
    kv16[i] = f32_to_f16(i % 50 == 0 ? kv[i] * 1e-6f : kv[i]);  // some subnormal halves too
    kv_rounded[i] = f16_to_f32(kv16[i]);
  }
  std::vector<float> want(nq * dv), got(nq * dv), scratch(ops::shared_kv_attention_scratch(nq));
  ops::SharedKvAttention a{q.data(), dk, nq, kv_rounded.data(), dk, n_kv, dk, dv, 0.2f, want.data(), dv};
  ops::shared_kv_attention(a, scratch.data());
  a.kv = kv16.data();
  a.kv_dtype = DType::F16;
  a.out = got.data();
  ops::shared_kv_attention(a, scratch.data());
  for (int64_t i = 0; i < nq * dv; ++i) ASSERT_NEAR(got[i], want[i], 1e-5) << i;
}

TEST(ThreadPool, CoversRangeOnce) {
  ThreadPool pool(3);
  for (int64_t n : {1, 2, 3, 7, 1000}) {
    std::vector<int> hits(n, 0);
    pool.parallel_for(n, [&](int64_t b, int64_t e, int t) {
      ASSERT_GE(t, 0);
      ASSERT_LT(t, 3);
      for (int64_t i = b; i < e; ++i) hits[i] += 1;
    });
    for (int h : hits) ASSERT_EQ(h, 1);
  }
}

}  // namespace
}  // namespace dsv3::test
