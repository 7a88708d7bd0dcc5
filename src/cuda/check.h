// CUDA runtime errors as dsv3::Error: the failing call, where, and CUDA's words.
#pragma once
#include <cuda_runtime_api.h>

#include "base/status.h"

namespace dsv3::cuda {

inline Status cuda_status(cudaError_t e, const char* call, const char* file, int line) {
  if (e == cudaSuccess) return {};
  return make_error("CUDA error at {}:{}: {}: {} ({})", file, line, call, cudaGetErrorString(e), cudaGetErrorName(e));
}

}  // namespace dsv3::cuda

// Returns the Error from the enclosing function (which returns Status or Result) on failure.
#define DSV3_CUDA_TRY(call) DSV3_RETURN_IF_ERROR(::dsv3::cuda::cuda_status((call), #call, __FILE__, __LINE__))
// After a kernel launch: launch-configuration errors surface here, faults at the next sync.
#define DSV3_CUDA_LAUNCHED(what) DSV3_RETURN_IF_ERROR(::dsv3::cuda::cuda_status(cudaGetLastError(), what, __FILE__, __LINE__))
