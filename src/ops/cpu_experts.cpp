// CpuBackend::experts. Experts over a few rows each (decode) run together,
// one batch of products for all; an expert over many rows (prefill) runs
// alone. The sum keeps one order: the shared MLP writes out, then the routed
// experts add to it in expert order.
#include <algorithm>
#include <cstring>

#include "base/thread_pool.h"
#include "ops/activation.h"
#include "ops/cpu_backend.h"
#include "ops/vec.h"

namespace dsv3::ops {

void CpuBackend::run_mlps(std::span<const MlpRun> runs, Precision precision) {
  int64_t total = 0;  // gate/up floats over all runs
  for (const MlpRun& r : runs) total += r.m * r.w->gate.rows;
  float* g = buffer(gate_, total);
  float* u = buffer(up_, total);
  jobs_.clear();
  int64_t at = 0;
  for (const MlpRun& r : runs) {
    const int64_t width = r.w->gate.rows, hidden = r.w->gate.cols;
    jobs_.push_back({r.w->gate, r.x, hidden, r.m, g + at, width});
    jobs_.push_back({r.w->up, r.x, hidden, r.m, u + at, width});
    at += r.m * width;
  }
  matmul_batch(jobs_, pool_, precision);
  ops::silu_mul(g, u, total, g);
  jobs_.clear();
  at = 0;
  for (const MlpRun& r : runs) {
    const int64_t width = r.w->gate.rows, hidden = r.w->gate.cols;
    jobs_.push_back({r.w->down, g + at, width, r.m, r.out, hidden});
    at += r.m * width;
  }
  matmul_batch(jobs_, pool_, precision);
}

Status CpuBackend::experts(const ExpertMix& mix, Precision precision) {
  const int64_t n = mix.n, top_k = mix.top_k, ne = static_cast<int64_t>(mix.experts.size());
  if (n == 0) return {};
  const int64_t first = mix.first, end = mix.end < 0 ? ne : mix.end;
  const int64_t hidden = mix.hidden > 0 ? mix.hidden : first < end ? mix.experts[first].gate.cols : mix.shared->gate.cols;
  if (static_cast<int64_t>(by_expert_.size()) < ne) by_expert_.resize(static_cast<std::size_t>(ne));
  for (auto& list : by_expert_) list.clear();
  for (int64_t s = 0; s < n * top_k; ++s) {
    const int32_t e = mix.ids[s];
    if (e < 0 || e >= ne) return make_error("experts: routed to expert {} of {}", e, ne);
    if (e < first || e >= end) continue;  // another rank's
    by_expert_[static_cast<std::size_t>(e)].push_back(s);
  }

  runs_.clear();
  run_experts_.clear();
  int64_t gathered = 0;  // rows gathered for the pending runs
  const auto flush = [&] {
    run_mlps(runs_, precision);
    for (std::size_t k = 0; k < runs_.size(); ++k) {
      if (run_experts_[k] < 0) continue;
      const auto& slots = by_expert_[static_cast<std::size_t>(run_experts_[k])];
      for (std::size_t r = 0; r < slots.size(); ++r)
        axpy(mix.weights[slots[r]], runs_[k].out + static_cast<int64_t>(r) * hidden, mix.out + slots[r] / top_k * hidden,
             hidden);
    }
    runs_.clear();
    run_experts_.clear();
    gathered = 0;
  };
  if (mix.shared) {
    runs_.push_back({mix.shared, mix.x, n, mix.out});
    run_experts_.push_back(-1);
    if (n > kMatvecRows) flush();
  } else {
    std::memset(mix.out, 0, static_cast<std::size_t>(n * hidden) * sizeof(float));
  }
  // room for every routed slot, so gathered rows stay put until their flush
  float* xs = buffer(gathered_, n * top_k * hidden);
  float* ys = buffer(expert_out_, n * top_k * hidden);
  for (int64_t e = 0; e < ne; ++e) {
    const auto& slots = by_expert_[static_cast<std::size_t>(e)];
    if (slots.empty()) continue;
    const int64_t m = static_cast<int64_t>(slots.size());
    if (m > kMatvecRows && !runs_.empty()) flush();
    float* xe = xs + gathered * hidden;
    for (int64_t r = 0; r < m; ++r)
      std::copy(mix.x + slots[r] / top_k * hidden, mix.x + (slots[r] / top_k + 1) * hidden, xe + r * hidden);
    runs_.push_back({&mix.experts[static_cast<std::size_t>(e)], xe, m, ys + gathered * hidden});
    run_experts_.push_back(e);
    gathered += m;
    if (m > kMatvecRows) flush();
  }
  if (!runs_.empty()) flush();
  return {};
}

}  // namespace dsv3::ops
