#pragma once
#include <cstdint>

namespace dsv3::ops {

// out = x / sqrt(mean(x^2) + eps) * weight. out may alias x.
void rmsnorm(const float* x, const float* weight, int64_t n, float eps, float* out);

}  // namespace dsv3::ops
