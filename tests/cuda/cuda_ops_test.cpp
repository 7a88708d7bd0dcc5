// Each GPU op against the CPU reference on random inputs (the pattern of
// llama.cpp's test-backend-ops): matmul per dtype and token count (both the
// decode and the tiled kernel), RMSNorm, RoPE/YaRN, attention over a cache,
// MoE routing, SwiGLU. Skipped where this binary has no CUDA or no GPU.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "cuda/cuda_forward.h"
#include "cuda/cuda_ops.h"
#include "model/moe.h"
#include "ops/activation.h"
#include "ops/attention.h"
#include "ops/norm.h"
#include "ops/rope.h"
#include "support/attention_reference.h"
#include "support/random_matrix.h"
#include "support/skip_without_gpu.h"

namespace dsv3::test {
namespace {

TEST(CudaEntry, SaysWhyWhenUnavailable) {
  std::string why;
  if (cuda::available(&why)) GTEST_SKIP() << "a GPU is present: nothing to report";
  EXPECT_FALSE(why.empty());
  std::vector<float> out(4);
  const std::vector<float> g{1, 2, 3, 4};
  const Status st = cuda::op::silu_mul(g.data(), g.data(), 4, out.data());
  EXPECT_FALSE(st.ok());
}

struct MatmulCase {
  DType dtype;
  int64_t rows, cols, n;
};

class CudaMatmul : public testing::TestWithParam<MatmulCase> {};

TEST_P(CudaMatmul, MatchesExactProduct) {
  SKIP_WITHOUT_GPU();
  const MatmulCase c = GetParam();
  const TestMatrix m = random_matrix(c.dtype, c.rows, c.cols, 7);
  const std::vector<float> x = random_vector(c.n * c.cols, 11);
  std::vector<float> out(static_cast<std::size_t>(c.n * c.rows));
  const Status st = cuda::op::matmul(m.view, x.data(), c.n, out.data());
  ASSERT_TRUE(st.ok()) << st.error().message;
  double worst = 0.0;
  for (int64_t t = 0; t < c.n; ++t)
    for (int64_t r = 0; r < c.rows; ++r) {
      double ref = 0.0, mag = 0.0;
      for (int64_t k = 0; k < c.cols; ++k) {
        const double p = double(m.values[r * c.cols + k]) * x[t * c.cols + k];
        ref += p;
        mag += std::fabs(p);
      }
      worst = std::max(worst, std::fabs(out[t * c.rows + r] - ref) / (mag + 1e-30));
    }
  EXPECT_LE(worst, 2e-6) << "relative to sum |w x|";
}

std::vector<MatmulCase> matmul_cases() {
  std::vector<MatmulCase> v;
  for (DType dt : {DType::F32, DType::BF16, DType::F8_E4M3})
    for (int64_t n : {1, 3, 17, 64})
      for (auto [rows, cols] : {std::pair<int64_t, int64_t>{256, 512}, {130, 200}, {77, 24}, {5, 33}})
        v.push_back({dt, rows, cols, n});
  return v;
}

INSTANTIATE_TEST_SUITE_P(Cuda, CudaMatmul, testing::ValuesIn(matmul_cases()), [](const auto& info) {
  const MatmulCase& c = info.param;
  return std::string(dtype_name(c.dtype)) + "_" + std::to_string(c.rows) + "x" + std::to_string(c.cols) + "_n" +
         std::to_string(c.n);
});

// The per-head W_uv product: groups of rows against groups of columns.
TEST(CudaOps, GroupedMatmulPerHead) {
  SKIP_WITHOUT_GPU();
  for (DType dt : {DType::BF16, DType::F8_E4M3}) {
    for (int64_t n : {1, 20}) {
      const int groups = 4;
      const int64_t rows = 32, cols = 160;
      const TestMatrix m = random_matrix(dt, groups * rows, cols, 3);
      const std::vector<float> x = random_vector(n * groups * cols, 5);
      std::vector<float> out(static_cast<std::size_t>(n * groups * rows));
      const Status st = cuda::op::matmul_grouped(m.view, rows, cols, groups, x.data(), n, out.data());
      ASSERT_TRUE(st.ok()) << st.error().message;
      double worst = 0.0;
      for (int64_t t = 0; t < n; ++t)
        for (int g = 0; g < groups; ++g)
          for (int64_t r = 0; r < rows; ++r) {
            double ref = 0.0, mag = 0.0;
            for (int64_t k = 0; k < cols; ++k) {
              const double p = double(m.values[(g * rows + r) * cols + k]) * x[(t * groups + g) * cols + k];
              ref += p;
              mag += std::fabs(p);
            }
            worst = std::max(worst, std::fabs(out[(t * groups + g) * rows + r] - ref) / (mag + 1e-30));
          }
      EXPECT_LE(worst, 2e-6) << dtype_name(dt) << " n=" << n;
    }
  }
}

TEST(CudaOps, RmsNorm) {
  SKIP_WITHOUT_GPU();
  for (int64_t cols : {32, 160, 2048, 7168}) {
    const int64_t rows = 5;
    const std::vector<float> x = random_vector(rows * cols, 1, 3.0f), w = random_vector(cols, 2);
    std::vector<float> got(x.size()), want(x.size());
    const Status st = cuda::op::rmsnorm(x.data(), w.data(), rows, cols, 1e-6f, got.data());
    ASSERT_TRUE(st.ok()) << st.error().message;
    for (int64_t r = 0; r < rows; ++r) ops::rmsnorm(x.data() + r * cols, w.data(), cols, 1e-6f, want.data() + r * cols);
    for (std::size_t i = 0; i < x.size(); ++i) ASSERT_NEAR(got[i], want[i], 1e-5 * (1 + std::fabs(want[i]))) << i;
  }
}

TEST(CudaOps, RopePlainAndYarn) {
  SKIP_WITHOUT_GPU();
  ops::YarnParams y;
  y.factor = 40;
  y.original_max_positions = 4096;
  y.mscale = 1.0;
  y.mscale_all_dim = 1.0;
  for (const ops::Rope& r : {ops::Rope(64, 10000.0), ops::Rope(64, 10000.0, y), ops::Rope(16, 10000.0, y)}) {
    const int64_t n = 6;
    const std::vector<int64_t> pos{0, 1, 17, 4095, 4096, 150000};
    const std::vector<float> x = random_vector(n * r.dim(), 9);
    std::vector<float> got(x.size()), want = x;
    const Status st = cuda::op::rope(r, x.data(), pos.data(), n, got.data());
    ASSERT_TRUE(st.ok()) << st.error().message;
    for (int64_t i = 0; i < n; ++i) r.apply(want.data() + i * r.dim(), pos[i]);
    for (std::size_t i = 0; i < x.size(); ++i) ASSERT_NEAR(got[i], want[i], 1e-5) << i;
  }
}

TEST(CudaOps, AttentionOverCache) {
  SKIP_WITHOUT_GPU();
  for (bool f16 : {false, true}) {
    for (int64_t n_kv : {1, 7, 300}) {
      for (auto [width, dv] : {std::pair<int64_t, int64_t>{48, 32}, {176, 160}, {576, 512}})
        for (int64_t nq : {4, 21}) {  // 21: a second block of heads, and a warp with one
        const std::vector<float> q = random_vector(nq * width, 4, 0.3f);
        std::vector<float> kv = random_vector(n_kv * width, 5);
        std::vector<float> got(static_cast<std::size_t>(nq * dv));
        const float scale = 0.1f;
        const Status st = cuda::op::attention(q.data(), nq, kv.data(), n_kv, width, dv, scale, f16, got.data());
        ASSERT_TRUE(st.ok()) << st.error().message;
        if (f16)
          for (float& v : kv) v = f16_to_f32(f32_to_f16(v));
        const std::vector<float> want = cpu_attention(q.data(), nq, kv.data(), n_kv, width, dv, scale);
        for (std::size_t i = 0; i < got.size(); ++i)
          ASSERT_NEAR(got[i], want[i], 1e-5) << "f16=" << f16 << " n_kv=" << n_kv << " width=" << width << " nq=" << nq
                                             << " at " << i;
      }
    }
  }
}

TEST(CudaOps, RoutingTopK) {
  SKIP_WITHOUT_GPU();
  struct Shape {
    int64_t experts, groups, topk_group, top_k;
    bool norm;
  };
  for (const Shape s : {Shape{16, 4, 2, 4, true}, Shape{8, 2, 1, 2, true}, Shape{64, 8, 4, 8, true},
                        Shape{256, 8, 4, 8, true}, Shape{32, 1, 1, 6, false}, Shape{300, 10, 3, 8, true},
                        Shape{1024, 64, 8, 8, true}}) {
    ModelConfig c;
    c.n_routed_experts = s.experts;
    c.n_group = s.groups;
    c.topk_group = s.topk_group;
    c.num_experts_per_tok = s.top_k;
    c.norm_topk_prob = s.norm;
    c.routed_scaling_factor = 2.5;
    const int64_t n = 33;
    const std::vector<float> logits = random_vector(n * s.experts, 21, 2.0f);
    const std::vector<float> bias = random_vector(s.experts, 22, 0.1f);
    std::vector<int32_t> got_e(static_cast<std::size_t>(n * s.top_k)), want_e(got_e.size());
    std::vector<float> got_w(got_e.size()), want_w(got_e.size());
    const Status st = cuda::op::route(c, logits.data(), bias, n, got_e.data(), got_w.data());
    ASSERT_TRUE(st.ok()) << st.error().message;
    for (int64_t i = 0; i < n; ++i)
      route_token(c, logits.data() + i * s.experts, bias, want_e.data() + i * s.top_k, want_w.data() + i * s.top_k);
    EXPECT_EQ(got_e, want_e) << s.experts << " experts";
    for (std::size_t i = 0; i < got_w.size(); ++i) ASSERT_NEAR(got_w[i], want_w[i], 1e-5) << i;
  }
}

TEST(CudaOps, SwiGluProduct) {
  SKIP_WITHOUT_GPU();
  const int64_t n = 1000;
  const std::vector<float> g = random_vector(n, 31, 4.0f), u = random_vector(n, 32);
  std::vector<float> got(n), want(n);
  const Status st = cuda::op::silu_mul(g.data(), u.data(), n, got.data());
  ASSERT_TRUE(st.ok()) << st.error().message;
  ops::silu_mul(g.data(), u.data(), n, want.data());
  for (int64_t i = 0; i < n; ++i) ASSERT_NEAR(got[i], want[i], 1e-5 * (1 + std::fabs(want[i]))) << i;
}

}  // namespace
}  // namespace dsv3::test
