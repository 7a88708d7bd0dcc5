// MLA decode attention over the latent cache, one layer: 16 absorbed query
// heads (v3-mini) of width 576 (kv_lora 512 + rope 64) against n_kv cached
// rows, values the first 512 of each row. Reported per cached row and as
// GFLOP/s (scores and values: heads x (576 + 512) x 2 per row).
// Run: build/bench/bench_attention
#include <benchmark/benchmark.h>

#include <cmath>
#include <vector>

#include "ops/attention.h"
#include "tensor/dtype.h"

namespace {

void BM_SharedKvAttention(benchmark::State& state, dsv3::DType dt) {
  const int64_t heads = 16, dk = 576, dv = 512, n_kv = state.range(0);
  std::vector<float> q(heads * dk), out(heads * dv), kv(n_kv * dk);
  for (std::size_t i = 0; i < q.size(); ++i) q[i] = std::sin(0.37f * static_cast<float>(i));
  for (std::size_t i = 0; i < kv.size(); ++i) kv[i] = std::cos(0.11f * static_cast<float>(i));
  std::vector<uint16_t> kv16(kv.size());
  for (std::size_t i = 0; i < kv.size(); ++i) kv16[i] = dsv3::f32_to_f16(kv[i]);
  std::vector<float> scratch(static_cast<std::size_t>(dsv3::ops::shared_kv_attention_scratch(heads)));
  dsv3::ops::SharedKvAttention a;
  a.q = q.data();
  a.ldq = dk;
  a.nq = heads;
  a.kv = dt == dsv3::DType::F16 ? static_cast<const void*>(kv16.data()) : static_cast<const void*>(kv.data());
  a.kv_dtype = dt;
  a.ldkv = dk;
  a.n_kv = n_kv;
  a.dk = dk;
  a.dv = dv;
  a.scale = 0.07f;
  a.out = out.data();
  a.ldo = dv;
  for (auto _ : state) dsv3::ops::shared_kv_attention(a, scratch.data());
  benchmark::DoNotOptimize(out.data());
  state.counters["GFLOP"] = benchmark::Counter(2.0 * heads * (dk + dv) * n_kv * state.iterations() / 1e9,
                                               benchmark::Counter::kIsRate);
  state.counters["ns_per_row"] = benchmark::Counter(static_cast<double>(n_kv) * state.iterations(),
                                                    benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}
BENCHMARK_CAPTURE(BM_SharedKvAttention, f32, dsv3::DType::F32)->Arg(512)->Arg(4096)->Arg(16384)->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK_CAPTURE(BM_SharedKvAttention, f16, dsv3::DType::F16)->Arg(4096)->Unit(benchmark::kMicrosecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
