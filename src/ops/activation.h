#pragma once
#include <cstdint>

namespace dsv3::ops {

// out[i] = silu(gate[i]) * up[i] (SwiGLU). out may alias gate.
void silu_mul(const float* gate, const float* up, int64_t n, float* out);
float sigmoid(float x);

}  // namespace dsv3::ops
