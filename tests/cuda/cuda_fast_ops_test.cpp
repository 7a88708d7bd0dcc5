// The DSV3_CUDA_FAST kernels against the CPU reference on random inputs:
// the 16-byte matvec (every dtype, token counts 1..64 across its template
// cases, odd row counts, grouped and per-expert products) and the split
// (flash-decoding) attention at several split counts and contexts. Routing
// and the absorbed queries run fast or not as the switch says: the device
// check runs the suite both ways. Skipped without a GPU.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "cuda/cuda_forward.h"
#include "cuda/cuda_ops.h"
#include "ops/attention.h"
#include "support/attention_reference.h"
#include "support/random_matrix.h"
#include "support/skip_without_gpu.h"
#include "tensor/dtype.h"

namespace dsv3::test {
namespace {

// Worst |out - ref| / sum |w x| over groups of rows x columns of x.
double grouped_error(const TestMatrix& m, int64_t rows, int64_t cols, int groups, const std::vector<float>& x,
                     int64_t n, const std::vector<float>& out) {
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
        const double got = out[(t * groups + g) * rows + r];
        if (!std::isfinite(got)) return INFINITY;
        worst = std::max(worst, std::fabs(got - ref) / (mag + 1e-30));
      }
  return worst;
}

TEST(CudaFastOps, GemvEveryDtypeAndTokenCount) {
  SKIP_WITHOUT_GPU();
  for (DType dt : {DType::F32, DType::BF16, DType::F8_E4M3})
    for (auto [rows, cols] : {std::pair<int64_t, int64_t>{1, 16}, {7, 48}, {131, 512}, {256, 1408}, {65, 2048}})
      for (int64_t n : {1, 2, 3, 4, 5, 8, 9, 16, 17, 33, 64}) {
        const TestMatrix m = random_matrix(dt, rows, cols, static_cast<uint32_t>(rows + n));
        const std::vector<float> x = random_vector(n * cols, static_cast<uint32_t>(cols + n));
        std::vector<float> out(static_cast<std::size_t>(n * rows), NAN);
        const Status st = cuda::op::gemv_fast(m.view, rows, cols, 1, x.data(), n, out.data());
        ASSERT_TRUE(st.ok()) << st.error().message;
        EXPECT_LE(grouped_error(m, rows, cols, 1, x, n, out), 2e-6)
            << dtype_name(dt) << " " << rows << "x" << cols << " n=" << n;
      }
}

// FP8 with scale blocks 16 does not divide: the per-element path.
TEST(CudaFastOps, GemvFp8OddScaleBlock) {
  SKIP_WITHOUT_GPU();
  const int64_t rows = 40, cols = 96;
  const TestMatrix m = random_matrix(DType::F8_E4M3, rows, cols, 5, 24);
  for (int64_t n : {1, 6}) {
    const std::vector<float> x = random_vector(n * cols, 6);
    std::vector<float> out(static_cast<std::size_t>(n * rows), NAN);
    const Status st = cuda::op::gemv_fast(m.view, rows, cols, 1, x.data(), n, out.data());
    ASSERT_TRUE(st.ok()) << st.error().message;
    EXPECT_LE(grouped_error(m, rows, cols, 1, x, n, out), 2e-6) << "n=" << n;
  }
}

TEST(CudaFastOps, GemvGroupedPerHead) {
  SKIP_WITHOUT_GPU();
  for (DType dt : {DType::BF16, DType::F8_E4M3})
    for (int64_t n : {1, 3, 32}) {
      const int groups = 16;
      const int64_t rows = 128, cols = 512;  // v3-mini's W_uv per head
      const TestMatrix m = random_matrix(dt, groups * rows, cols, 3);
      const std::vector<float> x = random_vector(n * groups * cols, 5);
      std::vector<float> out(static_cast<std::size_t>(n * groups * rows), NAN);
      const Status st = cuda::op::gemv_fast(m.view, rows, cols, groups, x.data(), n, out.data());
      ASSERT_TRUE(st.ok()) << st.error().message;
      EXPECT_LE(grouped_error(m, rows, cols, groups, x, n, out), 2e-6) << dtype_name(dt) << " n=" << n;
    }
}

// The tensor-core product: bf16 and FP8 (128-wide scale blocks, and 32-wide
// ones), token counts across its 64-token tiles, rows and columns that the
// tiles and its 16-byte loads do not divide, and per-head groups.
TEST(CudaFastOps, TensorCoreProductEveryShape) {
  SKIP_WITHOUT_GPU();
  using cuda::op::Kernel;
  for (DType dt : {DType::BF16, DType::F8_E4M3})
    for (auto [rows, cols] : {std::pair<int64_t, int64_t>{1, 16}, {77, 24}, {5, 33}, {130, 200}, {256, 1408}, {200, 2048}})
      for (int64_t n : {1, 16, 17, 64, 65, 300})
        for (int64_t block : {int64_t{128}, int64_t{32}})
          for (Kernel tiles : {Kernel::kTensorCores64, Kernel::kTensorCores128}) {
            if (dt == DType::BF16 && block != 128) continue;
            const TestMatrix m = random_matrix(dt, rows, cols, static_cast<uint32_t>(rows + n), block);
            const std::vector<float> x = random_vector(n * cols, static_cast<uint32_t>(cols + n));
            std::vector<float> out(static_cast<std::size_t>(n * rows), NAN);
            const Status st = cuda::op::matmul_mma(m.view, rows, cols, 1, x.data(), n, out.data(), tiles);
            ASSERT_TRUE(st.ok()) << st.error().message;
            EXPECT_LE(grouped_error(m, rows, cols, 1, x, n, out), 2e-6)
                << dtype_name(dt) << " " << rows << "x" << cols << " n=" << n << " block=" << block
                << " tile rows=" << (tiles == Kernel::kTensorCores64 ? 64 : 128);
          }
  for (DType dt : {DType::BF16, DType::F8_E4M3}) {
    const int groups = 16;
    const int64_t rows = 128, cols = 512, n = 70;  // v3-mini's W_uv per head
    const TestMatrix m = random_matrix(dt, groups * rows, cols, 3);
    const std::vector<float> x = random_vector(n * groups * cols, 5);
    std::vector<float> out(static_cast<std::size_t>(n * groups * rows), NAN);
    const Status st = cuda::op::matmul_mma(m.view, rows, cols, groups, x.data(), n, out.data());
    ASSERT_TRUE(st.ok()) << st.error().message;
    EXPECT_LE(grouped_error(m, rows, cols, groups, x, n, out), 2e-6) << dtype_name(dt) << " per head";
  }
}

// What the tensor cores cannot take exactly is refused, not approximated.
TEST(CudaFastOps, TensorCoreProductRefusesOtherDtypes) {
  SKIP_WITHOUT_GPU();
  const std::vector<float> x = random_vector(32 * 64, 2);
  std::vector<float> out(32 * 32);
  const TestMatrix f32 = random_matrix(DType::F32, 32, 64, 1);
  EXPECT_FALSE(cuda::op::matmul_mma(f32.view, 32, 64, 1, x.data(), 32, out.data()).ok());
  const TestMatrix odd = random_matrix(DType::F8_E4M3, 32, 64, 1, 24);  // scale blocks of 24 columns
  EXPECT_FALSE(cuda::op::matmul_mma(odd.view, 32, 64, 1, x.data(), 32, out.data()).ok());
}

// Gate and up in one launch: both products exact, through every kernel
// (the first kernels as two launches).
TEST(CudaFastOps, PairedProducts) {
  SKIP_WITHOUT_GPU();
  using cuda::op::Kernel;
  for (DType dt : {DType::BF16, DType::F8_E4M3})
    for (Kernel kernel : {Kernel::kPicked, Kernel::kGemvFast, Kernel::kTensorCores})
      for (int64_t n : {1, 17, 64, 70}) {
        if (kernel == Kernel::kGemvFast && n > 64) continue;
        const int64_t rows = 200, cols = 384;
        const TestMatrix w = random_matrix(dt, rows, cols, 31), w2 = random_matrix(dt, rows, cols, 32);
        const std::vector<float> x = random_vector(n * cols, 33);
        std::vector<float> out(static_cast<std::size_t>(n * rows), NAN), out2(out.size(), NAN);
        const Status st = cuda::op::matmul_pair(w.view, w2.view, x.data(), n, kernel, out.data(), out2.data());
        ASSERT_TRUE(st.ok()) << st.error().message;
        const std::string what = std::string(dtype_name(dt)) + " kernel=" + std::to_string(static_cast<int>(kernel)) +
                                 " n=" + std::to_string(n);
        EXPECT_LE(grouped_error(w, rows, cols, 1, x, n, out), 2e-6) << what << " (first)";
        EXPECT_LE(grouped_error(w2, rows, cols, 1, x, n, out2), 2e-6) << what << " (second)";
      }
}

TEST(CudaFastOps, GemvRejectsWhatItCannotRead) {
  SKIP_WITHOUT_GPU();
  const TestMatrix m = random_matrix(DType::BF16, 8, 24, 1);
  const std::vector<float> x = random_vector(24, 2);
  std::vector<float> out(8);
  EXPECT_FALSE(cuda::op::gemv_fast(m.view, 8, 24, 1, x.data(), 1, out.data()).ok());  // cols % 16 != 0
}

// Experts with uneven token counts (some none), through each kernel.
TEST(CudaFastOps, ExpertProducts) {
  SKIP_WITHOUT_GPU();
  using cuda::op::Kernel;
  for (DType dt : {DType::BF16, DType::F8_E4M3})
    for (Kernel kernel : {Kernel::kGemvFast, Kernel::kPicked, Kernel::kTensorCores})
      for (bool listed : {false, true}) {
      const int64_t rows = 176, cols = 256;
      const std::vector<int32_t> counts{0, 3, 1, 0, 17, 64, 2, 0};
      std::vector<int32_t> offsets{0};
      for (int32_t c : counts) offsets.push_back(offsets.back() + c);
      std::vector<TestMatrix> tm;
      std::vector<ops::Matrix> views;
      for (std::size_t e = 0; e < counts.size(); ++e) tm.push_back(random_matrix(dt, rows, cols, static_cast<uint32_t>(40 + e)));
      for (const TestMatrix& t : tm) views.push_back(t.view);
      const int64_t total = offsets.back();
      const std::vector<float> x = random_vector(total * cols, 9);
      std::vector<float> out(static_cast<std::size_t>(total * rows), NAN);
      const Status st = cuda::op::matmul_experts(views, offsets, x.data(), kernel, listed, out.data());
      ASSERT_TRUE(st.ok()) << st.error().message;
      double worst = 0.0;
      for (std::size_t e = 0; e < counts.size(); ++e)
        for (int64_t t = offsets[e]; t < offsets[e + 1]; ++t)
          for (int64_t r = 0; r < rows; ++r) {
            double ref = 0.0, mag = 0.0;
            for (int64_t k = 0; k < cols; ++k) {
              const double p = double(tm[e].values[r * cols + k]) * x[t * cols + k];
              ref += p;
              mag += std::fabs(p);
            }
            const double got = out[t * rows + r];
            worst = std::isfinite(got) ? std::max(worst, std::fabs(got - ref) / (mag + 1e-30)) : INFINITY;
          }
      EXPECT_LE(worst, 2e-6) << dtype_name(dt) << " kernel=" << static_cast<int>(kernel) << " listed=" << listed;
      }
}

TEST(CudaFastOps, SplitAttentionOverCache) {
  SKIP_WITHOUT_GPU();
  for (bool f16 : {false, true})
    for (int64_t n_kv : {1, 5, 300, 3001})
      for (int splits : {2, 7, 64})
        for (auto [width, dv] : {std::pair<int64_t, int64_t>{48, 32}, {576, 512}}) {
          const int64_t nq = 16;
          const std::vector<float> q = random_vector(nq * width, 4, 0.3f);
          std::vector<float> kv = random_vector(n_kv * width, 5);
          std::vector<float> got(static_cast<std::size_t>(nq * dv), NAN);
          const float scale = 0.1f;
          const Status st =
              cuda::op::attention_split(q.data(), nq, kv.data(), n_kv, width, dv, scale, f16, splits, got.data());
          ASSERT_TRUE(st.ok()) << st.error().message;
          if (f16)
            for (float& v : kv) v = f16_to_f32(f32_to_f16(v));
          const std::vector<float> want = cpu_attention(q.data(), nq, kv.data(), n_kv, width, dv, scale);
          for (std::size_t i = 0; i < got.size(); ++i)
            ASSERT_NEAR(got[i], want[i], 1e-5) << "f16=" << f16 << " n_kv=" << n_kv << " splits=" << splits
                                               << " width=" << width << " at " << i;
        }
}

}  // namespace
}  // namespace dsv3::test
