// The CUDA backend's entry point, callable from plain C++: a ForwardPass that
// keeps the weights (in their stored dtype) and the latent caches on a GPU.
// In a build without CUDA (DSV3_CUDA off) both functions say so.
#pragma once
#include <memory>
#include <string>

#include "base/status.h"
#include "model/forward_pass.h"
#include "model/model.h"

namespace dsv3::cuda {

// Whether this binary has the backend and a usable GPU; if not, why.
bool available(std::string* why = nullptr);

// Uploads `model` to GPU `device`. The Model must outlive the result.
Result<std::unique_ptr<ForwardPass>> make_forward(const Model& model, int device = 0);

// Device-to-device copy bandwidth of GPU `device` (bytes read + written per
// second, in GB/s) over buffers of `bytes`: the ceiling for decode.
Result<double> copy_bandwidth_gbps(int device, int64_t bytes = int64_t{1} << 30);

}  // namespace dsv3::cuda
