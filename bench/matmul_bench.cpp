// Matrix products: dsv3's kernels (weights in f32 or bf16, as stored) against
// OpenBLAS sgemm in the same run. Sizes M x N x K: M tokens, N weight rows,
// K the shared width. Run: build/bench/bench_matmul
#include <benchmark/benchmark.h>
#include <cblas.h>

#include <random>
#include <vector>

#include "base/thread_pool.h"
#include "ops/matmul.h"
#include "tensor/dtype.h"

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

void BM_Dsv3(benchmark::State& state, dsv3::DType dt) {
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
  for (auto _ : state) dsv3::ops::matmul(w, x.data(), k, m, y.data(), n, &pool());
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
  b->Args({1024, 1024, 1024})->Args({4096, 4096, 512})->Unit(benchmark::kMillisecond)->UseRealTime();
}
BENCHMARK_CAPTURE(BM_Dsv3, f32, dsv3::DType::F32)->Apply(sizes);
BENCHMARK_CAPTURE(BM_Dsv3, bf16, dsv3::DType::BF16)->Apply(sizes);
BENCHMARK(BM_OpenBlasSgemm)->Apply(sizes);

}  // namespace

BENCHMARK_MAIN();
