// Instantiated CUDA graphs of decode steps, one per token count: a step's
// kernels are captured once and replayed with one launch. Everything that
// changes between steps (token ids, positions, cache pointers) is read by
// the kernels from device buffers written before the launch, so a graph
// stays valid until a buffer it uses is reallocated (then: clear()).
#pragma once
#include <cuda_runtime_api.h>

#include <cstdint>
#include <functional>
#include <map>

#include "base/status.h"

namespace dsv3::cuda {

class GraphCache {
 public:
  GraphCache() = default;
  GraphCache(const GraphCache&) = delete;
  GraphCache& operator=(const GraphCache&) = delete;
  ~GraphCache() { clear(); }

  // Launches the graph for `key` on s, capturing `enqueue` (which must only
  // enqueue work on s) the first time.
  Status run(int64_t key, cudaStream_t s, const std::function<Status()>& enqueue);
  void clear();
  std::size_t size() const { return graphs_.size(); }

 private:
  static constexpr std::size_t kMaxGraphs = 64;
  std::map<int64_t, cudaGraphExec_t> graphs_;
};

}  // namespace dsv3::cuda
