// --head-dtype: the output projection (lm_head, the largest matrix a decode
// step reads: vocab x hidden) re-stored in a smaller ggml type at load time,
// as GGUF files store it. The checkpoint's other weights are untouched.
#pragma once
#include "base/status.h"
#include "model/model.h"

namespace dsv3 {

// Re-stores model.weights.lm_head as `type` (Q8_0 or Q6_K), in memory the
// model owns. No-op when the head already has that type.
Status restore_head(Model& model, DType type, ThreadPool* pool);

}  // namespace dsv3
