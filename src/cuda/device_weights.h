// Every weight of a Model copied once to the GPU in its stored dtype (FP8
// with its f32 block scales), in one allocation, as DMat views.
#pragma once
#include <memory>
#include <vector>

#include "base/status.h"
#include "cuda/device_buffer.h"
#include "cuda/kernels.h"
#include "model/model.h"
#include "ops/matrix.h"

namespace dsv3::cuda {

struct DeviceSwiGlu {
  DMat gate, up, down;
};

struct DeviceLayer {
  const float* attn_norm = nullptr;
  const float* mlp_norm = nullptr;
  bool q_lora = false;
  DMat q_a, q_b, q, kv_a, kv_b, o;
  // W_uk(h)^T for every head h, [heads * lora][nope]: the absorbed queries'
  // latent parts are then a grouped product like any other (kv_b's dtype;
  // f32 where FP8 scale blocks do not survive the transposition)
  DMat uk_t;
  const float* q_a_norm = nullptr;
  const float* kv_a_norm = nullptr;
  bool is_moe = false;
  DeviceSwiGlu mlp;                     // dense layers
  DMat router;                          // MoE layers
  const float* router_bias = nullptr;   // null when absent
  const DMat* gate_tab = nullptr;       // per expert, device arrays
  const DMat* up_tab = nullptr;
  const DMat* down_tab = nullptr;
  DMat expert_like;                     // the experts' common dtype and scale block (GemmArgs.w with a table)
  bool has_shared = false;
  DeviceSwiGlu shared;
};

struct DeviceWeights {
  DeviceBuffer arena;
  DMat embed, lm_head;
  const float* final_norm = nullptr;
  std::vector<DeviceLayer> layers;
  int64_t bytes = 0;

  static Result<std::unique_ptr<DeviceWeights>> upload(const Model& model);
};

// One matrix in its own buffers (for the op tests).
Result<DMat> upload_matrix(const ops::Matrix& m, DeviceBuffer& data, DeviceBuffer& scale);

}  // namespace dsv3::cuda
