// Matrix products: dsv3's kernels (weights in f32 or bf16, as stored; exact
// or with bf16 multiplies) against OpenBLAS sgemm in the same run, and the
// machine's peak for the instructions used (f32 FMA, bf16 dot product) on
// all threads. Sizes M x N x K: M tokens, N weight rows, K the shared width.
// Run: build/bench/bench_matmul
#include <benchmark/benchmark.h>
#include <cblas.h>

#include <algorithm>
#include <random>
#include <vector>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "base/thread_pool.h"
#include "ops/matmul.h"
#include "tensor/dtype.h"
#include "tensor/ggml_blocks.h"

namespace {

dsv3::ThreadPool& pool() {
  static dsv3::ThreadPool p(0);
  return p;
}

std::vector<float> random_floats(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::vector<float> v(static_cast<std::size_t>(n));
  for (auto& x : v) x = u(rng);
  return v;
}

void set_flops(benchmark::State& state, int64_t m, int64_t n, int64_t k) {
  state.counters["GFLOP"] = benchmark::Counter(2.0 * m * n * k * state.iterations() / 1e9, benchmark::Counter::kIsRate);
}

void BM_Dsv3(benchmark::State& state, dsv3::DType dt, dsv3::ops::Precision precision) {
  const int64_t m = state.range(0), n = state.range(1), k = state.range(2);
  const auto x = random_floats(m * k, 1), wf = random_floats(n * k, 2);
  std::vector<uint16_t> wb(wf.size());
  for (std::size_t i = 0; i < wf.size(); ++i) wb[i] = dsv3::f32_to_bf16(wf[i]);
  dsv3::ops::Matrix w;
  w.dtype = dt;
  w.rows = n;
  w.cols = k;
  w.data = dt == dsv3::DType::BF16 ? static_cast<const void*>(wb.data()) : static_cast<const void*>(wf.data());
  std::vector<float> y(static_cast<std::size_t>(m * n));
  for (auto _ : state) dsv3::ops::matmul(w, x.data(), k, m, y.data(), n, &pool(), precision);
  set_flops(state, m, n, k);
}

void BM_OpenBlasSgemm(benchmark::State& state) {
  const int64_t m = state.range(0), n = state.range(1), k = state.range(2);
  const auto x = random_floats(m * k, 1), w = random_floats(n * k, 2);
  std::vector<float> y(static_cast<std::size_t>(m * n));
  openblas_set_num_threads(pool().size());
  for (auto _ : state)
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(m), static_cast<int>(n), static_cast<int>(k),
                1.0f, x.data(), static_cast<int>(k), w.data(), static_cast<int>(k), 0.0f, y.data(), static_cast<int>(n));
  set_flops(state, m, n, k);
}

void sizes(benchmark::internal::Benchmark* b) {
  // the two sizes, then v3-mini prefill shapes: an attention projection
  // (512 tokens) and a routed expert (about 64 of the 512 tokens)
  b->Args({1024, 1024, 1024})->Args({4096, 4096, 512})->Args({512, 2048, 2048})->Args({64, 1408, 2048})->Unit(benchmark::kMillisecond)->UseRealTime();
}
using dsv3::ops::Precision;
BENCHMARK_CAPTURE(BM_Dsv3, f32, dsv3::DType::F32, Precision::kExact)->Apply(sizes);
BENCHMARK_CAPTURE(BM_Dsv3, bf16, dsv3::DType::BF16, Precision::kExact)->Apply(sizes);
BENCHMARK_CAPTURE(BM_Dsv3, bf16_dot, dsv3::DType::BF16, Precision::kBf16)->Apply(sizes);
BENCHMARK(BM_OpenBlasSgemm)->Apply(sizes);

// Decode: one token against many weight rows, so the weight bytes are the
// cost. "hot": one 2048 x 512 matrix that stays in L2; "stream": a sweep over
// `mats` views of rows x k weights laid end to end in bytes (fp8 with the
// given block scales).
std::vector<dsv3::ops::Matrix> weight_views(dsv3::DType dt, int64_t rows, int64_t k, int64_t mats,
                                            const uint8_t* bytes, const std::vector<float>& scale) {
  std::vector<dsv3::ops::Matrix> ws(static_cast<std::size_t>(mats));
  for (int64_t i = 0; i < mats; ++i) {
    auto& w = ws[static_cast<std::size_t>(i)];
    w.dtype = dt;
    w.rows = rows;
    w.cols = k;
    w.data = bytes + i * rows * dsv3::dtype_row_bytes(dt, k);
    if (dt == dsv3::DType::F8_E4M3) {
      w.block_scale = scale.data();
      w.scale_cols = k / 128;
    }
  }
  return ws;
}

// 64 matrices of 2048 x 4096 (512 MiB in fp8), far past the caches, as
// decode reads the model. Reported as weight GB/s.
void BM_Matvec(benchmark::State& state, dsv3::DType dt, bool stream) {
  const int64_t k = 2048, rows = stream ? 4096 : 512, mats = stream ? 64 : 1;
  const int64_t elem = static_cast<int64_t>(dsv3::dtype_size(dt));
  std::vector<uint8_t> bytes(static_cast<std::size_t>(mats * rows * k * elem));
  std::mt19937 rng(3);
  for (auto& b : bytes) b = static_cast<uint8_t>(rng() & 0x77);  // finite in every dtype
  const auto x = random_floats(k, 1);
  std::vector<float> scale(static_cast<std::size_t>((rows / 128) * (k / 128)), 0.01f);
  std::vector<float> y(static_cast<std::size_t>(rows));
  const auto ws = weight_views(dt, rows, k, mats, bytes.data(), scale);
  for (auto _ : state)
    for (const auto& w : ws) dsv3::ops::matmul(w, x.data(), k, 1, y.data(), rows, &pool());
  state.counters["GB"] = benchmark::Counter(static_cast<double>(bytes.size()) * state.iterations() / 1e9,
                                            benchmark::Counter::kIsRate);
}
BENCHMARK_CAPTURE(BM_Matvec, fp8_hot, dsv3::DType::F8_E4M3, false)->UseRealTime();
BENCHMARK_CAPTURE(BM_Matvec, bf16_hot, dsv3::DType::BF16, false)->UseRealTime();
BENCHMARK_CAPTURE(BM_Matvec, f32_hot, dsv3::DType::F32, false)->UseRealTime();
BENCHMARK_CAPTURE(BM_Matvec, fp8_stream, dsv3::DType::F8_E4M3, true)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(BM_Matvec, bf16_stream, dsv3::DType::BF16, true)->Unit(benchmark::kMillisecond)->UseRealTime();

// Decode over a sweep of 2048 x 7168 matrices (about 256 MiB in each dtype,
// past the caches), one token, every stored format, in one run so that the
// weight GB/s compare: ggml blocks against bf16 and fp8. Block rows are
// quantised Gaussian rows (valid scales), repeated.
void BM_MatvecSweep(benchmark::State& state, dsv3::DType dt) {
  const int64_t k = 7168, rows = 2048;
  const int64_t row_bytes = dsv3::dtype_row_bytes(dt, k);
  const int64_t mat_bytes = rows * row_bytes, mats = ((int64_t{256} << 20) + mat_bytes - 1) / mat_bytes;
  std::vector<uint8_t> bytes(static_cast<std::size_t>(mats * mat_bytes));
  if (dsv3::is_block_format(dt)) {
    constexpr int64_t kDistinct = 16;
    for (int64_t r = 0; r < kDistinct; ++r) {
      const auto v = random_floats(k, static_cast<uint32_t>(r + 7));
      dsv3::quantize_blocks(dt, v.data(), bytes.data() + r * row_bytes, k);
    }
    for (int64_t r = kDistinct; r < mats * rows; ++r)
      std::copy_n(bytes.data() + (r % kDistinct) * row_bytes, row_bytes, bytes.data() + r * row_bytes);
  } else {
    std::mt19937 rng(3);
    for (auto& b : bytes) b = static_cast<uint8_t>(rng() & 0x77);  // finite in every dtype
  }
  const auto x = random_floats(k, 1);
  std::vector<float> scale(static_cast<std::size_t>((rows / 128) * (k / 128)), 0.01f);
  std::vector<float> y(static_cast<std::size_t>(rows));
  const auto ws = weight_views(dt, rows, k, mats, bytes.data(), scale);
  for (auto _ : state)
    for (const auto& w : ws) dsv3::ops::matmul(w, x.data(), k, 1, y.data(), rows, &pool());
  state.counters["GB"] = benchmark::Counter(static_cast<double>(bytes.size()) * state.iterations() / 1e9,
                                            benchmark::Counter::kIsRate);
  state.counters["rows"] = benchmark::Counter(static_cast<double>(mats * rows) * state.iterations(),
                                               benchmark::Counter::kIsRate);
}
BENCHMARK_CAPTURE(BM_MatvecSweep, bf16, dsv3::DType::BF16)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(BM_MatvecSweep, fp8, dsv3::DType::F8_E4M3)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(BM_MatvecSweep, q8_0, dsv3::DType::Q8_0)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(BM_MatvecSweep, q6_k, dsv3::DType::Q6_K)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(BM_MatvecSweep, q5_k, dsv3::DType::Q5_K)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(BM_MatvecSweep, q4_k, dsv3::DType::Q4_K)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(BM_MatvecSweep, q4_0, dsv3::DType::Q4_0)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(BM_MatvecSweep, q3_k, dsv3::DType::Q3_K)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(BM_MatvecSweep, q2_k, dsv3::DType::Q2_K)->Unit(benchmark::kMillisecond)->UseRealTime();

// The same sweep as fp8_stream with no arithmetic: a sum over 512 MiB on all
// threads, the ceiling the matvec streams are compared against in one run.
void BM_ReadStream(benchmark::State& state) {
  const int64_t n = int64_t{128} << 20;  // floats
  std::vector<float> v(static_cast<std::size_t>(n), 1.0f);
  std::vector<float> sums(static_cast<std::size_t>(pool().size()));
  for (auto _ : state)
    pool().parallel_for(n / 64, [&](int64_t b, int64_t e, int t) {
      float s[16] = {};
      for (int64_t i = b * 64; i < e * 64; i += 16)
        for (int l = 0; l < 16; ++l) s[l] += v[static_cast<std::size_t>(i + l)];
      sums[static_cast<std::size_t>(t)] = s[0] + s[15];
    });
  benchmark::DoNotOptimize(sums.data());
  state.counters["GB"] = benchmark::Counter(4.0 * n * state.iterations() / 1e9, benchmark::Counter::kIsRate);
}
BENCHMARK(BM_ReadStream)->Unit(benchmark::kMillisecond)->UseRealTime();

#if defined(__x86_64__)
// Peak rates: 12 independent accumulators per thread (enough to cover the
// instruction latency), on every thread of the pool.
constexpr int64_t kPeakIters = 1 << 22;

__attribute__((target("avx512f"))) float fma_loop(float seed) {
  __m512 acc[12];
  for (auto& a : acc) a = _mm512_set1_ps(seed);
  const __m512 m = _mm512_set1_ps(0.999999f), c = _mm512_set1_ps(1e-7f);
  for (int64_t i = 0; i < kPeakIters; ++i)
    for (auto& a : acc) a = _mm512_fmadd_ps(a, m, c);
  __m512 s = acc[0];
  for (int i = 1; i < 12; ++i) s = _mm512_add_ps(s, acc[i]);
  float lanes[16];
  _mm512_storeu_ps(lanes, s);
  return lanes[0] + lanes[15];
}

__attribute__((target("avx512f,avx512bf16"))) float dpbf16_loop(float seed) {
  __m512 acc[12];
  for (auto& a : acc) a = _mm512_set1_ps(seed);
  const __m512bh a = _mm512_cvtne2ps_pbh(_mm512_set1_ps(1e-3f), _mm512_set1_ps(1e-3f));
  for (int64_t i = 0; i < kPeakIters; ++i)
    for (auto& x : acc) x = _mm512_dpbf16_ps(x, a, a);
  __m512 s = acc[0];
  for (int i = 1; i < 12; ++i) s = _mm512_add_ps(s, acc[i]);
  float lanes[16];
  _mm512_storeu_ps(lanes, s);
  return lanes[0] + lanes[15];
}

template <float (*Loop)(float)>
void BM_Peak(benchmark::State& state, const char* feature, double flops_per_instruction) {
  if (!__builtin_cpu_supports("avx512f") || (feature[0] && !__builtin_cpu_supports("avx512bf16"))) {
    state.SkipWithError("instruction not supported on this CPU");
    return;
  }
  const int threads = pool().size();
  std::vector<float> sink(threads);
  for (auto _ : state)
    pool().parallel_for(threads, [&](int64_t b, int64_t e, int) {
      for (int64_t t = b; t < e; ++t) sink[t] = Loop(static_cast<float>(t));
    });
  benchmark::DoNotOptimize(sink.data());
  state.counters["GFLOP"] = benchmark::Counter(flops_per_instruction * 12.0 * kPeakIters * threads * state.iterations() / 1e9,
                                               benchmark::Counter::kIsRate);
}
void BM_PeakFma(benchmark::State& s, const char* f, double flops) { BM_Peak<fma_loop>(s, f, flops); }
void BM_PeakDot(benchmark::State& s, const char* f, double flops) { BM_Peak<dpbf16_loop>(s, f, flops); }
BENCHMARK_CAPTURE(BM_PeakFma, f32_fma_zmm, "", 32.0)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(BM_PeakDot, bf16_dot_zmm, "avx512bf16", 64.0)->Unit(benchmark::kMillisecond)->UseRealTime();
#endif

}  // namespace

BENCHMARK_MAIN();
