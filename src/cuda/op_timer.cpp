#include "cuda/op_timer.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace dsv3::cuda {

OpTimer::OpTimer() {
  const char* v = std::getenv("DSV3_CUDA_PROFILE");
  on_ = v != nullptr && std::strcmp(v, "") != 0 && std::strcmp(v, "0") != 0;
}

OpTimer::~OpTimer() {
  for (cudaEvent_t e : events_) cudaEventDestroy(e);
  if (!on_ || totals_.empty()) return;
  std::string out = "DSV3_CUDA_PROFILE: GPU time per pass, by op (events between ops, no graph replay)\n";
  for (const auto& [pass, ops] : totals_) {
    const double passes = static_cast<double>(std::max<int64_t>(passes_[pass], 1));
    std::vector<std::pair<std::string, Total>> sorted(ops.begin(), ops.end());
    std::sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) { return a.second.ms > b.second.ms; });
    double sum = 0.0;
    int64_t calls = 0;
    for (const auto& [name, t] : sorted) {
      sum += t.ms;
      calls += t.calls;
    }
    out += fmt::format("  {}: {} passes, {:.1f} us per pass, {:.0f} ops\n", pass, passes_[pass],
                       sum / passes * 1e3, static_cast<double>(calls) / passes);
    for (const auto& [name, t] : sorted)
      out += fmt::format("    {:10.1f} us {:5.1f} %  {:4.0f} x  {}\n", t.ms / passes * 1e3, 100.0 * t.ms / sum,
                         static_cast<double>(t.calls) / passes, name);
  }
  std::fputs(out.c_str(), stderr);
}

void OpTimer::mark(const char* name, cudaStream_t s) {
  if (!on_) return;
  if (names_.size() == events_.size()) {
    cudaEvent_t e = nullptr;
    if (cudaEventCreate(&e) != cudaSuccess) return;
    events_.push_back(e);
  }
  cudaEventRecord(events_[names_.size()], s);
  names_.push_back(name);
}

void OpTimer::finish(const std::string& pass, cudaStream_t s) {
  if (!on_ || names_.empty()) return;
  mark("", s);  // the end of the last op
  cudaStreamSynchronize(s);
  auto& ops = totals_[pass];
  for (std::size_t i = 0; i + 1 < names_.size(); ++i) {
    float ms = 0.0f;
    if (cudaEventElapsedTime(&ms, events_[i], events_[i + 1]) != cudaSuccess) continue;
    Total& t = ops[names_[i]];
    t.ms += ms;
    t.calls += 1;
  }
  passes_[pass] += 1;
  names_.clear();
}

}  // namespace dsv3::cuda
