#include "benchkit/membw.h"

#include <algorithm>
#include <chrono>
#include <vector>

#include "base/thread_pool.h"

namespace dsv3 {

double measure_triad_gbps(ThreadPool& pool, int64_t bytes_per_array, int reps) {
  const int64_t n = bytes_per_array / static_cast<int64_t>(sizeof(float));
  std::vector<float> a(n), b(n), c(n);
  // first touch from the threads that will use each part
  pool.parallel_for(n, [&](int64_t lo, int64_t hi, int) {
    for (int64_t i = lo; i < hi; ++i) {
      a[i] = 0.0f;
      b[i] = 1.0f;
      c[i] = 2.0f;
    }
  });
  double best = 0.0;
  for (int r = 0; r < reps; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    pool.parallel_for(n, [&](int64_t lo, int64_t hi, int) {
      float* __restrict pa = a.data();
      const float* __restrict pb = b.data();
      const float* __restrict pc = c.data();
      for (int64_t i = lo; i < hi; ++i) pa[i] = pb[i] + 3.0f * pc[i];
    });
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    best = std::max(best, 3.0 * static_cast<double>(n) * sizeof(float) / s / 1e9);
  }
  return best;
}

double measure_read_gbps(ThreadPool& pool, int64_t bytes, int reps) {
  constexpr int64_t kLanes = 16;  // independent sums, so the adds keep up with the loads
  const int64_t n = bytes / static_cast<int64_t>(sizeof(float)) / kLanes * kLanes;
  std::vector<float> a(n);
  pool.parallel_for(n / kLanes, [&](int64_t lo, int64_t hi, int) {
    for (int64_t i = lo * kLanes; i < hi * kLanes; ++i) a[i] = 1.0f;
  });
  std::vector<float> sink(static_cast<std::size_t>(pool.size()));
  double best = 0.0;
  for (int r = 0; r < reps; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    pool.parallel_for(n / kLanes, [&](int64_t lo, int64_t hi, int t) {
      float s[kLanes] = {};
      const float* __restrict pa = a.data();
      for (int64_t i = lo * kLanes; i < hi * kLanes; i += kLanes)
        for (int64_t l = 0; l < kLanes; ++l) s[l] += pa[i + l];
      sink[static_cast<std::size_t>(t)] = s[0] + s[kLanes - 1];
    });
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    best = std::max(best, static_cast<double>(n) * sizeof(float) / s / 1e9);
  }
  volatile float keep = sink[0];  // the sums are used
  (void)keep;
  return best;
}

}  // namespace dsv3
