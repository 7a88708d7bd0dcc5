#include "cuda/graph_cache.h"

#include "cuda/check.h"

namespace dsv3::cuda {

void GraphCache::clear() {
  for (auto& [key, exec] : graphs_) cudaGraphExecDestroy(exec);  // nothing to do with an error while freeing
  graphs_.clear();
}

Status GraphCache::run(int64_t key, cudaStream_t s, const std::function<Status()>& enqueue) {
  auto it = graphs_.find(key);
  if (it == graphs_.end()) {
    if (graphs_.size() >= kMaxGraphs) clear();
    // thread-local: another thread's allocations (a cache growing) stay legal meanwhile
    DSV3_CUDA_TRY(cudaStreamBeginCapture(s, cudaStreamCaptureModeThreadLocal));
    const Status body = enqueue();
    cudaGraph_t graph = nullptr;
    const cudaError_t ended = cudaStreamEndCapture(s, &graph);
    if (!body) {
      if (graph) cudaGraphDestroy(graph);
      cudaGetLastError();  // the capture's own error, if any, is not the first cause
      return body;
    }
    DSV3_CUDA_TRY(ended);
    cudaGraphExec_t exec = nullptr;
    const cudaError_t made = cudaGraphInstantiate(&exec, graph, 0);
    cudaGraphDestroy(graph);
    DSV3_CUDA_TRY(made);
    it = graphs_.emplace(key, exec).first;
  }
  DSV3_CUDA_TRY(cudaGraphLaunch(it->second, s));
  return {};
}

}  // namespace dsv3::cuda
