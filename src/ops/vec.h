// f32 vector primitives written so the compiler vectorises them (independent
// accumulators, no aliasing). The SIMD-dispatched versions live beside them.
#pragma once
#include <cstdint>

namespace dsv3::ops {

float dot(const float* a, const float* b, int64_t n);
void axpy(float a, const float* x, float* y, int64_t n);  // y += a * x
void scale(float a, float* x, int64_t n);                  // x *= a
void add(const float* x, float* y, int64_t n);             // y += x

}  // namespace dsv3::ops
