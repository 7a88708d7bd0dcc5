// Every SIMD kernel table this CPU can run, against the plain reference, per
// stored dtype, for the decode (n <= 4) and prefill (staged) paths.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>

#include "base/thread_pool.h"
#include "ops/attention.h"
#include "ops/cpu/kernels.h"
#include "ops/matmul.h"
#include "support/attention_reference.h"
#include "support/random_matrix.h"

namespace dsv3::test {
namespace {

struct KernelCase {
  std::string isa;
  DType dtype;
};

void PrintTo(const KernelCase& c, std::ostream* os) { *os << c.isa << " " << dtype_name(c.dtype); }

class KernelsVsReference : public testing::TestWithParam<KernelCase> {
 protected:
  void SetUp() override {
    if (!ops::cpu::force_isa(GetParam().isa)) GTEST_SKIP() << GetParam().isa << " is not available on this CPU";
  }
  void TearDown() override { ops::cpu::force_isa(ops::cpu::available_isas().front()); }
};

TEST_P(KernelsVsReference, MatmulAllBatchSizes) {
  ThreadPool pool(2);
  for (auto [rows, cols] : {std::pair{37, 300}, {256, 256}, {130, 129}, {5, 7}, {64, 1000}}) {
    const TestMatrix w = random_matrix(GetParam().dtype, rows, cols, rows + cols);
    for (int64_t n : {1, 2, 3, 4, 5, 9, 17}) {
      std::mt19937 rng(n);
      std::normal_distribution<float> nd;
      std::vector<float> x(n * cols);
      for (auto& v : x) v = nd(rng);
      std::vector<float> ref(n * rows), got(n * rows);
      ops::matmul_reference(w.view, x.data(), cols, n, ref.data(), rows);
      ops::matmul(w.view, x.data(), cols, n, got.data(), rows, &pool);
      double scale = 0;
      for (float v : ref) scale = std::max(scale, std::fabs(double(v)));
      for (int64_t i = 0; i < n * rows; ++i)
        ASSERT_NEAR(got[i], ref[i], 1e-5 * (scale + 1)) << rows << "x" << cols << " n=" << n << " at " << i;
    }
  }
}

TEST_P(KernelsVsReference, DecodeRowAndSlices) {
  const TestMatrix w = random_matrix(GetParam().dtype, 300, 200, 3);
  const ops::Matrix slice = w.view.row_slice(120, 50);  // crosses a 128-row scale block
  std::vector<float> a(200), b(200);
  for (int64_t r = 0; r < slice.rows; ++r) {
    ops::dequantize_row(slice, r, a.data());
    ops::cpu::kernels().decode_row(slice, r, b.data());
    for (int j = 0; j < 200; ++j) ASSERT_NEAR(b[j], a[j], 1e-6f * std::fabs(a[j]) + 1e-30f) << r << "," << j;
  }
  std::vector<float> x(3 * 50), ref(3 * 200), got(3 * 200);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = std::sin(float(i));
  ops::matmul_transposed(slice, x.data(), 50, 3, got.data(), 200);
  for (int64_t i = 0; i < 3; ++i)
    for (int64_t c = 0; c < 200; ++c) {
      double s = 0;
      for (int64_t r = 0; r < 50; ++r) {
        ops::dequantize_row(slice, r, a.data());
        s += double(x[i * 50 + r]) * a[c];
      }
      ASSERT_NEAR(got[i * 200 + c], s, 1e-4 * (1 + std::fabs(s)));
    }
}

// The bf16 prefill product against the same arithmetic in double: x rounded
// to bf16 (for fp8: x times the block scale), w exact (f32 weights rounded).
TEST(Bf16Matmul, MatchesRoundedReference) {
  if (!ops::cpu::bf16_kernels()) GTEST_SKIP() << "no AVX512-BF16 on this CPU: the bf16 mode runs exactly";
  ThreadPool pool(2);
  for (DType dt : {DType::F32, DType::BF16, DType::F8_E4M3})
    for (auto [rows, cols] : {std::pair{37, 300}, {256, 256}, {130, 129}, {64, 1000}, {16, 64}}) {
      const TestMatrix w = random_matrix(dt, rows, cols, rows * 7 + cols);
      for (int64_t n : {1, 8, 9, 17, 33}) {
        std::mt19937 rng(n);
        std::normal_distribution<float> nd;
        std::vector<float> x(n * cols);
        for (auto& v : x) v = nd(rng);
        std::vector<float> got(n * rows);
        ops::matmul(w.view, x.data(), cols, n, got.data(), rows, &pool, ops::Precision::kBf16);
        const bool rounded = n >= ops::kBf16MinRows;
        auto r16 = [&](float v) { return rounded ? bf16_to_f32(f32_to_bf16(v)) : v; };
        const int64_t sc = (cols + 127) / 128;
        for (int64_t i = 0; i < n; ++i)
          for (int64_t r = 0; r < rows; ++r) {
            double s = 0, mag = 0;
            for (int64_t j = 0; j < cols; ++j) {
              double p;
              if (dt == DType::F8_E4M3 && rounded) {
                const float scale = w.scales[(r / 128) * sc + j / 128];
                p = double(r16(x[i * cols + j] * scale)) * fp8_e4m3_to_f32(w.bytes[r * cols + j]);
              } else {
                p = double(r16(x[i * cols + j])) * r16(w.values[r * cols + j]);
              }
              s += p;
              mag += std::fabs(p);
            }
            ASSERT_NEAR(got[i * rows + r], s, 1e-5 * mag + 1e-6)
                << dtype_name(dt) << " " << rows << "x" << cols << " n=" << n << " at " << i << "," << r;
          }
      }
    }
}

std::vector<KernelCase> cases() {
  std::vector<KernelCase> v;
  for (const char* isa : {"avx512", "avx2", "generic"})
    for (DType d : {DType::F32, DType::BF16, DType::F8_E4M3}) v.push_back({isa, d});
  return v;
}
INSTANTIATE_TEST_SUITE_P(Ops, KernelsVsReference, testing::ValuesIn(cases()), [](const auto& info) {
  return info.param.isa + "_" + std::string(dtype_name(info.param.dtype));
});

// ggml block formats: each ISA's decoders against the per-element reference,
// decode (n <= 4) and prefill, on a row slice whose row count is not a
// multiple of the 16-row thread blocks, within 1e-5 of each row's |w|.|x|.
struct BlockCase {
  std::string isa;
  DType dtype;
};
void PrintTo(const BlockCase& c, std::ostream* os) { *os << c.isa << " " << dtype_name(c.dtype); }

class BlockKernels : public testing::TestWithParam<BlockCase> {
 protected:
  void SetUp() override {
    if (!ops::cpu::force_isa(GetParam().isa)) GTEST_SKIP() << GetParam().isa << " is not available on this CPU";
  }
  void TearDown() override { ops::cpu::force_isa(ops::cpu::available_isas().front()); }
};

TEST_P(BlockKernels, MatmulVsReference) {
  const DType dt = GetParam().dtype;
  const int64_t qk = dtype_block(dt);
  ThreadPool pool(2);
  for (int64_t blocks : {1, 3, 8}) {
    const int64_t cols = qk * blocks, all_rows = 90;
    const TestMatrix m = random_matrix(dt, all_rows, cols, static_cast<uint32_t>(blocks * 7 + qk));
    const ops::Matrix w = m.view.row_slice(5, 71);  // 71 rows from row 5: 4 blocks of 16 and 7
    for (int64_t n : {1, 2, 3, 4, 37}) {
      std::vector<float> x = random_vector(n * cols, static_cast<uint32_t>(n + 100));
      std::vector<float> ref(n * w.rows), got(n * w.rows), one(n * w.rows);
      ops::matmul_reference(w, x.data(), cols, n, ref.data(), w.rows);
      ops::matmul(w, x.data(), cols, n, got.data(), w.rows, &pool);
      ops::matmul(w, x.data(), cols, n, one.data(), w.rows, nullptr);
      for (int64_t i = 0; i < n; ++i)
        for (int64_t r = 0; r < w.rows; ++r) {
          double mag = 0;
          for (int64_t j = 0; j < cols; ++j) mag += std::fabs(double(m.values[(5 + r) * cols + j]) * x[i * cols + j]);
          const double tol = 1e-5 * mag + 1e-30;
          ASSERT_NEAR(got[i * w.rows + r], ref[i * w.rows + r], tol) << cols << " cols, n=" << n << " row " << r;
          ASSERT_NEAR(one[i * w.rows + r], ref[i * w.rows + r], tol) << cols << " cols, n=" << n << " row " << r;
        }
    }
  }
}

TEST_P(BlockKernels, DecodeRowIsExact) {
  const DType dt = GetParam().dtype;
  const int64_t cols = dtype_block(dt) * 4;
  const TestMatrix m = random_matrix(dt, 20, cols, 11);
  const ops::Matrix w = m.view.row_slice(3, 15);
  std::vector<float> got(cols), ref(cols);
  for (int64_t r = 0; r < w.rows; ++r) {
    ops::cpu::kernels().decode_row(w, r, got.data());
    ops::dequantize_row(w, r, ref.data());
    for (int64_t j = 0; j < cols; ++j) {
      ASSERT_EQ(got[j], ref[j]) << r << "," << j;
      ASSERT_EQ(ref[j], m.values[(3 + r) * cols + j]) << r << "," << j;
    }
  }
}

// y = x W through decoded rows (MLA absorption), and the bf16-multiply
// prefill mode (exact where the CPU has no bf16 dot product), on block rows.
TEST_P(BlockKernels, TransposedAndBf16Prefill) {
  const DType dt = GetParam().dtype;
  const int64_t cols = dtype_block(dt) * 2, rows = 40;
  const TestMatrix m = random_matrix(dt, rows, cols, 13);
  const std::vector<float> x = random_vector(3 * rows, 17);
  std::vector<float> got(3 * cols);
  ops::matmul_transposed(m.view, x.data(), rows, 3, got.data(), cols);
  for (int64_t i = 0; i < 3; ++i)
    for (int64_t c = 0; c < cols; ++c) {
      double s = 0, mag = 0;
      for (int64_t r = 0; r < rows; ++r) {
        s += double(x[i * rows + r]) * m.values[r * cols + c];
        mag += std::fabs(double(x[i * rows + r]) * m.values[r * cols + c]);
      }
      ASSERT_NEAR(got[i * cols + c], s, 1e-5 * mag + 1e-30) << i << "," << c;
    }
  ThreadPool pool(2);
  const int64_t n = 12;
  const std::vector<float> xp = random_vector(n * cols, 19);
  std::vector<float> ref(n * rows), bf(n * rows);
  ops::matmul_reference(m.view, xp.data(), cols, n, ref.data(), rows);
  ops::matmul(m.view, xp.data(), cols, n, bf.data(), rows, &pool, ops::Precision::kBf16);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t r = 0; r < rows; ++r) {
      double mag = 0;
      for (int64_t j = 0; j < cols; ++j) mag += std::fabs(double(m.values[r * cols + j]) * xp[i * cols + j]);
      ASSERT_NEAR(bf[i * rows + r], ref[i * rows + r], 1e-2 * mag) << i << "," << r;  // x rounded to bf16
    }
}

std::vector<BlockCase> block_cases() {
  std::vector<BlockCase> v;
  for (const char* isa : {"avx512", "avx2", "generic"})
    for (DType d : {DType::Q8_0, DType::Q4_0, DType::Q2_K, DType::Q3_K, DType::Q4_K, DType::Q5_K, DType::Q6_K,
                    // IQ formats: random blocks (no quantiser), through the generic dequantiser
                    DType::IQ4_XS, DType::IQ4_NL, DType::IQ2_XXS, DType::IQ1_S, DType::IQ3_XXS, DType::IQ2_XS,
                    DType::IQ1_M, DType::IQ2_S, DType::IQ3_S})
      v.push_back({isa, d});
  return v;
}
INSTANTIATE_TEST_SUITE_P(Ops, BlockKernels, testing::ValuesIn(block_cases()), [](const auto& info) {
  return info.param.isa + "_" + std::string(dtype_name(info.param.dtype));
});

// Column slices (ops::Matrix::col_slice): a view of columns [begin, begin +
// count) that keeps the wider matrix's row stride must give bit for bit what
// the same sub-matrix stored packed gives, on every ISA and path (decode n <=
// 4, prefill, threaded or not, exact and bf16 precision), and stay within the
// usual tolerance of the reference. Row slices are taken of the column slice
// (from row 16: whole 16-row blocks, as the fp8 bf16 path needs).
struct SliceCase {
  std::string isa;
  DType dtype;
};
void PrintTo(const SliceCase& c, std::ostream* os) { *os << c.isa << " " << dtype_name(c.dtype); }

class ColumnSlices : public testing::TestWithParam<SliceCase> {
 protected:
  void SetUp() override {
    if (!ops::cpu::force_isa(GetParam().isa)) GTEST_SKIP() << GetParam().isa << " is not available on this CPU";
  }
  void TearDown() override { ops::cpu::force_isa(ops::cpu::available_isas().front()); }
};

// Columns [begin, begin + count) of the packed matrix m, copied into a packed matrix.
TestMatrix packed_columns(const TestMatrix& m, int64_t begin, int64_t count) {
  const ops::Matrix& v = m.view;
  TestMatrix p;
  p.view = v;
  p.view.cols = count;
  const int64_t rb = dtype_row_bytes(v.dtype, count), off = dtype_row_bytes(v.dtype, begin);
  p.bytes.resize(static_cast<std::size_t>(v.rows * rb));
  for (int64_t r = 0; r < v.rows; ++r)
    std::memcpy(p.bytes.data() + r * rb, m.bytes.data() + r * v.row_bytes() + off, static_cast<std::size_t>(rb));
  p.values.resize(static_cast<std::size_t>(v.rows * count));
  for (int64_t r = 0; r < v.rows; ++r)
    std::copy_n(m.values.begin() + r * v.cols + begin, count, p.values.begin() + r * count);
  if (v.block_scale != nullptr) {
    const int64_t sr = (v.rows + v.block - 1) / v.block, sc = (count + v.block - 1) / v.block;
    p.scales.resize(static_cast<std::size_t>(sr * sc));
    for (int64_t i = 0; i < sr; ++i)
      for (int64_t c = 0; c < sc; ++c) p.scales[i * sc + c] = m.scales[i * v.scale_cols + begin / v.block + c];
    p.view.block_scale = p.scales.data();
    p.view.scale_cols = sc;
  }
  p.view.data = p.bytes.data();
  return p;
}

struct SliceShape {
  int64_t wide, begin, count;
};
std::vector<SliceShape> slice_shapes(DType dt) {
  if (dt == DType::F8_E4M3) return {{640, 128, 384}, {520, 256, 263}, {300, 128, 172}};  // slices at 128s
  if (is_block_format(dt)) {
    const int64_t qk = dtype_block(dt);
    return {{9 * qk, 3 * qk, 5 * qk}, {4 * qk, qk, qk}, {3 * qk, 2 * qk, qk}};
  }
  return {{301, 37, 200}, {300, 1, 129}, {64, 17, 40}};  // odd starts: unaligned rows
}

void expect_same_view(const ops::Matrix& a, const ops::Matrix& b) {
  EXPECT_EQ(a.data, b.data);
  EXPECT_EQ(a.rows, b.rows);
  EXPECT_EQ(a.cols, b.cols);
  EXPECT_EQ(a.row0, b.row0);
  EXPECT_EQ(a.row_stride(), b.row_stride());
  EXPECT_EQ(a.block_scale, b.block_scale);
  EXPECT_EQ(a.scale_cols, b.scale_cols);
}

TEST_P(ColumnSlices, MatmulSameAsPacked) {
  const DType dt = GetParam().dtype;
  ThreadPool pool(2);
  const int64_t all_rows = 160, row0 = 16;
  for (const SliceShape& sh : slice_shapes(dt)) {
    const TestMatrix m = random_matrix(dt, all_rows, sh.wide, static_cast<uint32_t>(sh.wide + sh.begin));
    const TestMatrix p = packed_columns(m, sh.begin, sh.count);
    const int64_t k = sh.count;
    ASSERT_TRUE(m.view.col_slice_ok(sh.begin, k));
    const ops::Matrix cs = m.view.col_slice(sh.begin, k);
    ASSERT_FALSE(cs.packed());
    ASSERT_EQ(cs.row_stride(), m.view.row_bytes());
    ASSERT_EQ(cs.stored_bytes(), all_rows * dtype_row_bytes(dt, k));
    for (int64_t rows : {1, 7, 37, 130}) {
      const ops::Matrix w = cs.row_slice(row0, rows), wp = p.view.row_slice(row0, rows);
      expect_same_view(w, m.view.row_slice(row0, rows).col_slice(sh.begin, k));  // either order
      for (int64_t n : {1, 2, 3, 4, 37}) {
        const std::vector<float> x = random_vector(n * k, static_cast<uint32_t>(n * 31 + rows));
        std::vector<float> ref(n * rows), ref_slice(n * rows), got(n * rows), want(n * rows);
        ops::matmul_reference(wp, x.data(), k, n, ref.data(), rows);
        ops::matmul_reference(w, x.data(), k, n, ref_slice.data(), rows);
        ASSERT_EQ(ref_slice, ref) << sh.wide << " wide, [" << sh.begin << ", +" << k << ") rows " << rows << " n=" << n;
        std::vector<double> mag(n * rows);
        for (int64_t i = 0; i < n; ++i)
          for (int64_t r = 0; r < rows; ++r)
            for (int64_t j = 0; j < k; ++j)
              mag[i * rows + r] += std::fabs(double(p.values[(row0 + r) * k + j]) * x[i * k + j]);
        for (ops::Precision prec : {ops::Precision::kExact, ops::Precision::kBf16})
          for (ThreadPool* tp : {&pool, static_cast<ThreadPool*>(nullptr)}) {
            ops::matmul(w, x.data(), k, n, got.data(), rows, tp, prec);
            ops::matmul(wp, x.data(), k, n, want.data(), rows, tp, prec);
            const double tol = prec == ops::Precision::kBf16 ? 1e-2 : 1e-5;
            for (int64_t i = 0; i < n * rows; ++i) {
              ASSERT_EQ(got[i], want[i]) << sh.wide << " wide, [" << sh.begin << ", +" << k << ") rows " << rows
                                         << " n=" << n << " bf16 " << (prec == ops::Precision::kBf16) << " pool "
                                         << (tp != nullptr) << " at " << i;
              ASSERT_NEAR(got[i], ref[i], tol * mag[i] + 1e-30) << rows << " rows n=" << n << " at " << i;
            }
          }
      }
    }
  }
}

TEST_P(ColumnSlices, DecodeRowsAndTransposed) {
  const DType dt = GetParam().dtype;
  for (const SliceShape& sh : slice_shapes(dt)) {
    const int64_t all_rows = 150, k = sh.count;
    const TestMatrix m = random_matrix(dt, all_rows, sh.wide, static_cast<uint32_t>(sh.begin + 5));
    const TestMatrix p = packed_columns(m, sh.begin, k);
    // row slice crossing the 128-row fp8 scale block, composed both ways
    const ops::Matrix w = m.view.col_slice(sh.begin, k).row_slice(120, 25);
    const ops::Matrix wp = p.view.row_slice(120, 25);
    expect_same_view(w, m.view.row_slice(120, 25).col_slice(sh.begin, k));
    std::vector<float> a(k), b(k);
    for (int64_t r = 0; r < w.rows; ++r) {
      ops::dequantize_row(w, r, a.data());
      ops::dequantize_row(wp, r, b.data());
      ASSERT_EQ(a, b) << "dequantize_row " << r;
      for (int64_t j = 0; j < k; ++j) ASSERT_EQ(a[j], m.values[(120 + r) * sh.wide + sh.begin + j]) << r << "," << j;
      ops::cpu::kernels().decode_row(w, r, a.data());
      ops::cpu::kernels().decode_row(wp, r, b.data());
      ASSERT_EQ(a, b) << "decode_row " << r;
      for (int64_t j = 0; j < k; ++j)
        ASSERT_NEAR(a[j], m.values[(120 + r) * sh.wide + sh.begin + j], 1e-6f * std::fabs(a[j]) + 1e-30f) << r << "," << j;
    }
    // y = x W through decoded rows
    const std::vector<float> x = random_vector(3 * w.rows, 23);
    std::vector<float> got(3 * k), want(3 * k);
    ops::matmul_transposed(w, x.data(), w.rows, 3, got.data(), k);
    ops::matmul_transposed(wp, x.data(), w.rows, 3, want.data(), k);
    ASSERT_EQ(got, want);
  }
}

// A slice of a slice is the slice of the sum of the offsets; row and column
// slices commute; granules and alignment checks per dtype.
TEST_P(ColumnSlices, NestedSlicesAndGranules) {
  const DType dt = GetParam().dtype;
  const SliceShape sh = slice_shapes(dt).front();
  const TestMatrix m = random_matrix(dt, 40, sh.wide, 29);
  const int64_t g = m.view.col_granule();
  EXPECT_EQ(g, dt == DType::F8_E4M3 ? 128 : dtype_block(dt));
  EXPECT_TRUE(m.view.packed());
  EXPECT_EQ(m.view.row_stride(), m.view.row_bytes());
  EXPECT_TRUE(m.view.col_slice_ok(0, sh.wide));
  EXPECT_FALSE(m.view.col_slice_ok(g, sh.wide));  // past the end
  if (g > 1) {
    EXPECT_FALSE(m.view.col_slice_ok(g / 2, g));
  }
  if (is_block_format(dt)) {
    EXPECT_FALSE(m.view.col_slice_ok(g, g + g / 2));
  }
  // [begin, begin + count) as [g, ...) of [begin - g, ...)
  const ops::Matrix outer = m.view.col_slice(sh.begin - g, sh.count + g);
  const ops::Matrix inner = outer.col_slice(g, sh.count);
  expect_same_view(inner, m.view.col_slice(sh.begin, sh.count));
  expect_same_view(inner.row_slice(3, 30).row_slice(2, 20), m.view.row_slice(5, 20).col_slice(sh.begin, sh.count));
  const TestMatrix p = packed_columns(m, sh.begin, sh.count);
  const ops::Matrix w = inner.row_slice(5, 20), wp = p.view.row_slice(5, 20);
  for (int64_t n : {1, 37}) {
    const std::vector<float> x = random_vector(n * sh.count, 41);
    std::vector<float> got(n * 20), want(n * 20);
    ops::matmul(w, x.data(), sh.count, n, got.data(), 20, nullptr);
    ops::matmul(wp, x.data(), sh.count, n, want.data(), 20, nullptr);
    ASSERT_EQ(got, want) << "n=" << n;
  }
}

std::vector<SliceCase> slice_cases() {
  std::vector<SliceCase> v;
  for (const char* isa : {"avx512", "avx2", "generic"})
    for (DType d : {DType::F32, DType::BF16, DType::F16, DType::F8_E4M3, DType::Q8_0, DType::Q4_0, DType::Q2_K,
                    DType::Q3_K, DType::Q4_K, DType::Q5_K, DType::Q6_K, DType::IQ4_XS, DType::IQ4_NL, DType::IQ2_XXS,
                    DType::IQ3_S})
      v.push_back({isa, d});
  return v;
}
INSTANTIATE_TEST_SUITE_P(Ops, ColumnSlices, testing::ValuesIn(slice_cases()), [](const auto& info) {
  return info.param.isa + "_" + std::string(dtype_name(info.param.dtype));
});

// Every fp8 byte (but the two NaNs) in every column position of a vector
// chunk, one token and four: each ISA's decoders must agree on each value.
class KernelsPerIsa : public testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (!ops::cpu::force_isa(GetParam())) GTEST_SKIP() << GetParam() << " is not available on this CPU";
  }
  void TearDown() override { ops::cpu::force_isa(ops::cpu::available_isas().front()); }
};

TEST_P(KernelsPerIsa, EveryByte) {
  TestMatrix w = random_matrix(DType::F8_E4M3, 64, 256, 5);
  for (int64_t r = 0; r < 64; ++r)
    for (int64_t j = 0; j < 256; ++j) {
      const auto b = static_cast<uint8_t>((j + 37 * r) % 256);
      w.bytes[r * 256 + j] = (b & 0x7f) == 0x7f ? 0 : b;
    }
  ThreadPool pool(2);
  for (int64_t n : {1, 4}) {
    std::vector<float> x(n * 256), ref(n * 64), got(n * 64);
    for (std::size_t i = 0; i < x.size(); ++i) x[i] = std::cos(float(i) * 0.7f) * 3.0f;
    ops::matmul_reference(w.view, x.data(), 256, n, ref.data(), 64);
    ops::matmul(w.view, x.data(), 256, n, got.data(), 64, &pool);
    for (int64_t i = 0; i < n * 64; ++i) ASSERT_NEAR(got[i], ref[i], 1e-5 * (std::fabs(ref[i]) + 1)) << "n=" << n << " at " << i;
  }
}
INSTANTIATE_TEST_SUITE_P(Ops, KernelsPerIsa, testing::Values("avx512", "avx2", "generic"),
                         [](const auto& info) { return info.param; });

// MLA decode shapes (16 heads and 5 more, 576-wide rows, values the first
// 512) on each ISA's attention blocks, f32 and f16 caches, against double
// arithmetic; and the same keys split in three parts and merged.
TEST_P(KernelsPerIsa, AttentionBlocksAndSplitKeys) {
  for (DType dt : {DType::F32, DType::F16})
    for (int64_t nq : {16, 5}) {
      const int64_t dk = 576, dv = 512, n_kv = 300;
      std::mt19937 rng(static_cast<uint32_t>(nq));
      std::normal_distribution<float> nd;
      std::vector<float> q(nq * dk), kv(n_kv * dk);
      for (auto& v : q) v = nd(rng) * 0.2f;
      for (auto& v : kv) v = nd(rng);
      std::vector<uint16_t> kv16(kv.size());
      if (dt == DType::F16)
        for (std::size_t i = 0; i < kv.size(); ++i) kv[i] = f16_to_f32(kv16[i] = f32_to_f16(kv[i]));
      std::vector<float> got(nq * dv), scratch(ops::shared_kv_attention_scratch(nq));
      const void* rows = dt == DType::F16 ? static_cast<const void*>(kv16.data()) : static_cast<const void*>(kv.data());
      const ops::SharedKvAttention a{q.data(), dk, nq, rows, dk, n_kv, dk, dv, 0.05f, got.data(), dv, dt};
      ops::shared_kv_attention(a, scratch.data());
      // three parts of the keys, then merged
      const int64_t cuts[] = {0, 100, 229, n_kv};
      std::vector<float> parts(3 * nq * dv), maxes(3 * nq), sums(3 * nq), merged(nq * dv);
      for (int p = 0; p < 3; ++p) {
        ops::SharedKvAttention part = a;
        part.kv = static_cast<const char*>(a.kv) + cuts[p] * dk * static_cast<int64_t>(dtype_size(dt));
        part.n_kv = cuts[p + 1] - cuts[p];
        part.out = parts.data() + p * nq * dv;
        ops::shared_kv_attention_partial(part, scratch.data(), maxes.data() + p * nq, sums.data() + p * nq);
      }
      ops::merge_attention_partials(nq, dv, 3, parts.data(), nq * dv, maxes.data(), sums.data(), merged.data(), dv);
      const std::vector<double> ref = attention_reference(q.data(), nq, dk, kv.data(), dk, n_kv, dv, 0.05);
      for (int64_t i = 0; i < nq * dv; ++i) {
        ASSERT_NEAR(got[i], ref[i], 2e-5) << dtype_name(dt) << " nq " << nq << " head " << i / dv << " col " << i % dv;
        ASSERT_NEAR(merged[i], ref[i], 2e-5) << "merged, " << dtype_name(dt) << " nq " << nq;
      }
    }
}

TEST(Kernels, Fp8EncodeRoundTrips) {
  for (int v = 0; v < 256; ++v) {
    if ((v & 0x7f) == 0x7f) continue;  // NaN
    const float f = fp8_e4m3_to_f32(static_cast<uint8_t>(v));
    EXPECT_EQ(fp8_e4m3_to_f32(f32_to_fp8_e4m3(f)), f) << v;
  }
  EXPECT_EQ(f32_to_fp8_e4m3(1000.0f), 0x7e);  // saturates
  EXPECT_EQ(f32_to_fp8_e4m3(-1000.0f), 0xfe);
  EXPECT_EQ(fp8_e4m3_to_f32(f32_to_fp8_e4m3(1.0625f)), 1.0f);   // tie to even
  EXPECT_EQ(fp8_e4m3_to_f32(f32_to_fp8_e4m3(1.1875f)), 1.25f);  // tie to even (up)
}

TEST(Kernels, IsaListAndForcing) {
  const auto isas = ops::cpu::available_isas();
  ASSERT_FALSE(isas.empty());
  EXPECT_EQ(isas.back(), "generic");
  EXPECT_FALSE(ops::cpu::force_isa("sve2048"));
  EXPECT_TRUE(ops::cpu::force_isa("generic"));
  EXPECT_STREQ(ops::cpu::kernels().name, "generic");
  ops::cpu::force_isa(isas.front());
}

}  // namespace
}  // namespace dsv3::test

namespace dsv3::test {
namespace {
TEST(Kernels, F16EncodeRoundTrips) {
  for (uint32_t h = 0; h < 0x10000; ++h) {
    if ((h & 0x7c00) == 0x7c00) continue;  // inf / NaN are never stored
    const float f = f16_to_f32(static_cast<uint16_t>(h));
    ASSERT_EQ(f16_to_f32(f32_to_f16(f)), f) << h;
  }
  EXPECT_EQ(f32_to_f16(1e9f), 0x7bff);
  EXPECT_EQ(f16_to_f32(f32_to_f16(1.0f + 1.0f / 4096.0f)), 1.0f);  // tie to even
}
}  // namespace
}  // namespace dsv3::test
