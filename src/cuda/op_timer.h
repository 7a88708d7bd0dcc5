// Where a forward pass spends its GPU time, op by op (DSV3_CUDA_PROFILE=1):
// an event is recorded on the stream before each op, the intervals between
// them are summed per (token count, op) when the pass ends, and the table
// goes to stderr when the forward pass is destroyed. Off by default, then
// every call is a no-op; on, decode steps run without graph replay.
#pragma once
#include <cuda_runtime_api.h>

#include <map>
#include <string>
#include <utility>
#include <vector>

namespace dsv3::cuda {

class OpTimer {
 public:
  OpTimer();
  OpTimer(const OpTimer&) = delete;
  OpTimer& operator=(const OpTimer&) = delete;
  ~OpTimer();

  bool on() const { return on_; }
  // The op `name` starts now on s (it lasts until the next mark or finish).
  void mark(const char* name, cudaStream_t s);
  // The pass ends (`pass` names its kind and size): waits for s and adds up its ops.
  void finish(const std::string& pass, cudaStream_t s);

 private:
  struct Total {
    double ms = 0.0;
    int64_t calls = 0;
  };
  bool on_ = false;
  std::vector<cudaEvent_t> events_;  // a pool, reused pass after pass
  std::vector<const char*> names_;   // the op of each recorded event
  std::map<std::string, std::map<std::string, Total>> totals_;
  std::map<std::string, int64_t> passes_;
};

}  // namespace dsv3::cuda
