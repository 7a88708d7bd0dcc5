// The CPU backend's ops against plain references: attention over row caches
// (whole and split over the threads, f32 and f16 rows), expert mixtures
// (decode's shared batches and prefill's one-by-one runs), per-group
// products, rope over batch positions, and the errors of a bad batch.
#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <vector>

#include "base/thread_pool.h"
#include "ops/activation.h"
#include "ops/cpu_backend.h"
#include "ops/host_row_cache.h"
#include "ops/matmul.h"
#include "support/attention_reference.h"
#include "support/random_matrix.h"

namespace dsv3::test {
namespace {

double max_rel_diff(const std::vector<float>& got, const std::vector<double>& want) {
  double worst = 0.0;
  for (std::size_t i = 0; i < got.size(); ++i)
    worst = std::max(worst, std::fabs(got[i] - want[i]) / (1.0 + std::fabs(want[i])));
  return worst;
}

// Four threads, so one decode token's keys split over them (more threads than tokens).
struct Fixture {
  ThreadPool pool{4};
  ops::CpuBackend be{&pool};
};

TEST(CpuBackend, CachedAttentionMatchesDefinition) {
  Fixture f;
  const int64_t width = 40, dv = 32, heads = 3, layer = 1;
  const float scale = 0.3f;
  for (DType dt : {DType::F32, DType::F16}) {
    // decode: one token with a long cache (split path); prefill-like: three tokens of two caches
    for (const std::vector<int64_t>& positions : {std::vector<int64_t>{700}, std::vector<int64_t>{5, 6, 90}}) {
      std::vector<std::unique_ptr<ops::RowCache>> caches;
      caches.push_back(f.be.make_cache(2, width, dt));
      caches.push_back(f.be.make_cache(2, width, dt));
      std::vector<std::vector<float>> rows(2);  // what each cache holds at `layer`, as stored (rounded for f16)
      for (int c = 0; c < 2; ++c) {
        ASSERT_TRUE(caches[c]->reserve(800).ok());
        rows[c] = random_vector(800 * width, 11 + c);
        auto& host = static_cast<ops::HostRowCache&>(*caches[c]);
        for (int64_t p = 0; p < 800; ++p) host.store(layer, p, rows[c].data() + p * width);
        if (dt == DType::F16)
          for (float& v : rows[c]) v = f16_to_f32(f32_to_f16(v));
      }
      const int64_t n = static_cast<int64_t>(positions.size());
      std::vector<ops::TokenPlace> places;
      for (int64_t i = 0; i < n; ++i) places.push_back({positions[i], caches[i == n - 1 ? 1 : 0].get()});
      const std::vector<int32_t> ids(static_cast<std::size_t>(n), 0);
      ASSERT_TRUE(f.be.begin_batch(ids, places).ok());
      const std::vector<float> q = random_vector(n * heads * width, 3);
      std::vector<float> out(static_cast<std::size_t>(n * heads * dv));
      ASSERT_TRUE(f.be.cached_attention({.q = q.data(), .heads = heads, .layer = layer, .dv = dv, .scale = scale,
                                         .out = out.data()})
                      .ok());
      for (int64_t i = 0; i < n; ++i) {
        const auto& kv = rows[i == n - 1 ? 1 : 0];
        const std::vector<double> want =
            attention_reference(q.data() + i * heads * width, heads, width, kv.data(), width, positions[i] + 1, dv, scale);
        const std::vector<float> got(out.begin() + i * heads * dv, out.begin() + (i + 1) * heads * dv);
        EXPECT_LE(max_rel_diff(got, want), 1e-5) << dtype_name(dt) << " token " << i << " at " << positions[i];
      }
    }
  }
}

// shared(x) + sum_k w_k expert_{id_k}(x), in double.
std::vector<double> mixture_reference(const std::vector<TestMatrix>& gate, const std::vector<TestMatrix>& up,
                                      const std::vector<TestMatrix>& down, int64_t shared, const std::vector<float>& x,
                                      int64_t n, int64_t hidden, const std::vector<int32_t>& ids,
                                      const std::vector<float>& w, int64_t top_k) {
  std::vector<double> out(static_cast<std::size_t>(n * hidden), 0.0);
  const auto mlp = [&](std::size_t e, const float* xi, double weight, double* yi) {
    const int64_t width = gate[e].view.rows;
    std::vector<double> a(static_cast<std::size_t>(width));
    for (int64_t r = 0; r < width; ++r) {
      double g = 0, u = 0;
      for (int64_t j = 0; j < hidden; ++j) {
        g += double(gate[e].values[r * hidden + j]) * xi[j];
        u += double(up[e].values[r * hidden + j]) * xi[j];
      }
      a[r] = g / (1.0 + std::exp(-g)) * u;
    }
    for (int64_t r = 0; r < hidden; ++r) {
      double d = 0;
      for (int64_t j = 0; j < width; ++j) d += double(down[e].values[r * width + j]) * a[j];
      yi[r] += weight * d;
    }
  };
  for (int64_t i = 0; i < n; ++i) {
    if (shared >= 0) mlp(static_cast<std::size_t>(shared), x.data() + i * hidden, 1.0, out.data() + i * hidden);
    for (int64_t k = 0; k < top_k; ++k)
      mlp(static_cast<std::size_t>(ids[i * top_k + k]), x.data() + i * hidden, w[i * top_k + k], out.data() + i * hidden);
  }
  return out;
}

TEST(CpuBackend, ExpertMixtureMatchesPerTokenReference) {
  Fixture f;
  const int64_t hidden = 48, width = 32, experts = 6, top_k = 2;
  std::vector<TestMatrix> gate, up, down;  // experts, then the shared MLP last
  for (int64_t e = 0; e <= experts; ++e) {
    const DType dt = e % 2 ? DType::BF16 : DType::F32;
    gate.push_back(random_matrix(dt, width, hidden, 100 + e));
    up.push_back(random_matrix(dt, width, hidden, 200 + e));
    down.push_back(random_matrix(dt, hidden, width, 300 + e));
  }
  std::vector<ops::GatedMlp> mlps;
  for (int64_t e = 0; e <= experts; ++e) mlps.push_back({gate[e].view, up[e].view, down[e].view});
  const std::span<const ops::GatedMlp> routed(mlps.data(), static_cast<std::size_t>(experts));
  // 1 and 3 tokens: decode's shared batch; 30 tokens: experts with more rows run alone
  for (int64_t n : {1, 3, 30}) {
    for (bool with_shared : {true, false}) {
      const std::vector<float> x = random_vector(n * hidden, 7 + n, 0.2f);
      std::vector<int32_t> ids(static_cast<std::size_t>(n * top_k));
      std::vector<float> w(ids.size());
      for (int64_t s = 0; s < n * top_k; ++s) {
        ids[s] = static_cast<int32_t>((s * 5 + s / top_k) % experts);
        if (s % top_k == 1 && ids[s] == ids[s - 1]) ids[s] = (ids[s] + 1) % experts;
        w[s] = 0.25f + 0.1f * static_cast<float>(s % 3);
      }
      std::vector<float> out(static_cast<std::size_t>(n * hidden), 99.0f);
      const ops::ExpertMix mix{.experts = routed, .shared = with_shared ? &mlps[experts] : nullptr, .x = x.data(),
                               .n = n, .top_k = top_k, .ids = ids.data(), .weights = w.data(), .out = out.data()};
      ASSERT_TRUE(f.be.experts(mix, ops::Precision::kExact).ok());
      const auto want = mixture_reference(gate, up, down, with_shared ? experts : -1, x, n, hidden, ids, w, top_k);
      EXPECT_LE(max_rel_diff(out, want), 1e-4) << n << " tokens, shared " << with_shared;
    }
  }
  // an id out of range is an error, not a wild read
  const std::vector<float> x = random_vector(hidden, 1);
  const int32_t bad[2] = {0, static_cast<int32_t>(experts)};
  const float w[2] = {0.5f, 0.5f};
  std::vector<float> out(static_cast<std::size_t>(hidden));
  const ops::ExpertMix mix{.experts = routed, .x = x.data(), .n = 1, .top_k = 2, .ids = bad, .weights = w,
                           .out = out.data()};
  EXPECT_FALSE(f.be.experts(mix, ops::Precision::kExact).ok());
}

TEST(CpuBackend, GroupedProductsPerHead) {
  Fixture f;
  const int64_t groups = 4, rows = 8, skip = 3, cols = 24, n = 5;  // group g: rows [skip + g * (rows + skip), + rows)
  const TestMatrix m = random_matrix(DType::BF16, groups * (rows + skip) + skip, cols, 9);
  for (bool transposed : {false, true}) {
    const int64_t in = transposed ? rows : cols, outw = transposed ? cols : rows;
    const std::vector<float> x = random_vector(n * groups * in, 4);
    std::vector<float> y(static_cast<std::size_t>(n * groups * outw));
    const ops::GroupedProduct g{.w = m.view, .groups = groups, .row0 = skip, .row_step = rows + skip, .rows = rows,
                                .transposed = transposed, .x = x.data(), .ldx = groups * in, .x_step = in,
                                .y = y.data(), .ldy = groups * outw, .y_step = outw, .n = n};
    ASSERT_TRUE(f.be.grouped_matmul(g, ops::Precision::kExact).ok());
    std::vector<double> want(y.size(), 0.0);
    for (int64_t i = 0; i < n; ++i)
      for (int64_t h = 0; h < groups; ++h)
        for (int64_t r = 0; r < rows; ++r)
          for (int64_t c = 0; c < cols; ++c) {
            const double wv = m.values[(skip + h * (rows + skip) + r) * cols + c];
            if (transposed)
              want[i * groups * cols + h * cols + c] += wv * x[i * groups * rows + h * rows + r];
            else
              want[i * groups * rows + h * rows + r] += wv * x[i * groups * cols + h * cols + c];
          }
    EXPECT_LE(max_rel_diff(y, want), 1e-5) << "transposed " << transposed;
  }
}

// The same per-group products on a column slice of a wider weight (the
// backend row-slices it per group; the slice keeps the wider row stride),
// bf16 and fp8 (the slice at a 128-column scale block), exact and bf16
// precision, one token and a prefill batch.
TEST(CpuBackend, GroupedProductsOnColumnSlice) {
  Fixture f;
  for (DType dt : {DType::BF16, DType::F8_E4M3}) {
    const bool fp8 = dt == DType::F8_E4M3;
    const int64_t groups = 3, rows = 16, skip = 16, wide = fp8 ? 400 : 70, begin = fp8 ? 128 : 9, cols = fp8 ? 200 : 24;
    const TestMatrix m = random_matrix(dt, groups * (rows + skip) + skip, wide, 12);
    ASSERT_TRUE(m.view.col_slice_ok(begin, cols));
    const ops::Matrix w = m.view.col_slice(begin, cols);
    for (ops::Precision prec : {ops::Precision::kExact, ops::Precision::kBf16})
      for (int64_t n : {int64_t{1}, int64_t{37}})
        for (bool transposed : {false, true}) {
          const int64_t in = transposed ? rows : cols, outw = transposed ? cols : rows;
          const std::vector<float> x = random_vector(n * groups * in, 5);
          std::vector<float> y(static_cast<std::size_t>(n * groups * outw));
          const ops::GroupedProduct g{.w = w, .groups = groups, .row0 = skip, .row_step = rows + skip, .rows = rows,
                                      .transposed = transposed, .x = x.data(), .ldx = groups * in, .x_step = in,
                                      .y = y.data(), .ldy = groups * outw, .y_step = outw, .n = n};
          ASSERT_TRUE(f.be.grouped_matmul(g, prec).ok());
          std::vector<double> want(y.size(), 0.0), mag(y.size(), 0.0);  // mag: sum of |w x|
          for (int64_t i = 0; i < n; ++i)
            for (int64_t h = 0; h < groups; ++h)
              for (int64_t r = 0; r < rows; ++r)
                for (int64_t c = 0; c < cols; ++c) {
                  const double wv = m.values[(skip + h * (rows + skip) + r) * wide + begin + c];
                  const int64_t o = transposed ? i * groups * cols + h * cols + c : i * groups * rows + h * rows + r;
                  const double p = wv * (transposed ? x[i * groups * rows + h * rows + r] : x[i * groups * cols + h * cols + c]);
                  want[o] += p;
                  mag[o] += std::fabs(p);
                }
          // bf16 precision rounds x to bf16 (prefill products only)
          const double tol = prec == ops::Precision::kBf16 && n >= ops::kBf16MinRows && !transposed ? 1e-2 : 1e-5;
          for (std::size_t o = 0; o < y.size(); ++o)
            ASSERT_NEAR(y[o], want[o], tol * mag[o] + 1e-6) << dtype_name(dt) << " n=" << n << " transposed " << transposed
                                                            << " bf16 " << (prec == ops::Precision::kBf16) << " at " << o;
        }
  }
}

TEST(CpuBackend, RopeRotatesEachTokenToItsPosition) {
  Fixture f;
  const ops::Rope rope(16, 10000.0);
  auto cache = f.be.make_cache(1, 4, DType::F32);
  ASSERT_TRUE(cache->reserve(5000).ok());
  // enough rows (tokens x per_token) that they split over the threads
  std::vector<int32_t> ids;
  std::vector<ops::TokenPlace> places;
  for (int64_t i = 0; i < 40; ++i) {
    ids.push_back(0);
    places.push_back({i * 97 % 4999, cache.get()});
  }
  ASSERT_TRUE(f.be.begin_batch(ids, places).ok());
  const int64_t per_token = 5, ld = 20;
  std::vector<float> x = random_vector(40 * per_token * ld, 8), want = x;
  ASSERT_TRUE(f.be.rope(rope, x.data() + 2, ld, per_token).ok());
  for (int64_t i = 0; i < 40; ++i)
    for (int64_t r = 0; r < per_token; ++r) rope.apply(want.data() + (i * per_token + r) * ld + 2, places[i].pos);
  EXPECT_EQ(x, want);
}

TEST(CpuBackend, ABadBatchIsRefused) {
  Fixture f;
  Fixture other;
  auto mine = f.be.make_cache(1, 4, DType::F32);
  auto theirs = other.be.make_cache(1, 4, DType::F32);
  ASSERT_TRUE(mine->reserve(4).ok());
  ASSERT_TRUE(theirs->reserve(4).ok());
  const std::vector<int32_t> one{0}, two{0, 0};
  const std::vector<ops::TokenPlace> at_4{{4, mine.get()}}, foreign{{0, theirs.get()}}, ok{{3, mine.get()}};
  EXPECT_FALSE(f.be.begin_batch(one, at_4).ok());     // past the reserved rows
  EXPECT_FALSE(f.be.begin_batch(one, foreign).ok());  // another backend's cache
  EXPECT_FALSE(f.be.begin_batch(two, ok).ok());       // ids and places disagree
  EXPECT_TRUE(f.be.begin_batch(one, ok).ok());
  EXPECT_FALSE(f.be.scratch(-1, 4).ok());
}

}  // namespace
}  // namespace dsv3::test
