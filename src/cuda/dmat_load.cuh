// Reading DMat elements on the device as f32, in each stored dtype.
#pragma once
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_fp8.h>

#include "cuda/kernels.h"

namespace dsv3::cuda {

__device__ __forceinline__ float fp8_to_f32(unsigned char v) {
  const __half_raw h = __nv_cvt_fp8_to_halfraw(static_cast<__nv_fp8_storage_t>(v), __NV_E4M3);
  return __half2float(__half(h));
}

__device__ __forceinline__ float bf16_bits_to_f32(unsigned short v) { return __uint_as_float(static_cast<unsigned>(v) << 16); }

__device__ __forceinline__ float block_scale(const DMat& w, int64_t ar, int64_t c) {
  return w.scale ? w.scale[(ar / w.block) * w.scale_cols + c / w.block] : 1.0f;
}

// Element (r, c) of the view.
__device__ __forceinline__ float load1(const DMat& w, int64_t r, int64_t c) {
  const int64_t ar = w.row0 + r, i = ar * w.cols + c;
  switch (w.dtype) {
    case kBF16: return bf16_bits_to_f32(static_cast<const unsigned short*>(w.data)[i]);
    case kFP8: return fp8_to_f32(static_cast<const unsigned char*>(w.data)[i]) * block_scale(w, ar, c);
    case kF16: return __half2float(__ushort_as_half(static_cast<const unsigned short*>(w.data)[i]));
    default: return static_cast<const float*>(w.data)[i];
  }
}

// Elements (r, c..c+7) with one wide load; c % 8 == 0 and cols % 8 == 0
// (so the load is aligned, and the 8 share one FP8 scale block).
__device__ __forceinline__ void load8(const DMat& w, int64_t r, int64_t c, float v[8]) {
  const int64_t ar = w.row0 + r, i = ar * w.cols + c;
  switch (w.dtype) {
    case kBF16: {
      const uint4 u = *reinterpret_cast<const uint4*>(static_cast<const unsigned short*>(w.data) + i);
      const unsigned words[4] = {u.x, u.y, u.z, u.w};
#pragma unroll
      for (int k = 0; k < 4; ++k) {
        v[2 * k] = __uint_as_float(words[k] << 16);
        v[2 * k + 1] = __uint_as_float(words[k] & 0xffff0000u);
      }
      return;
    }
    case kFP8: {
      const uint2 u = *reinterpret_cast<const uint2*>(static_cast<const unsigned char*>(w.data) + i);
      const float s = block_scale(w, ar, c);
      const unsigned words[2] = {u.x, u.y};
#pragma unroll
      for (int k = 0; k < 2; ++k) {
#pragma unroll
        for (int half = 0; half < 2; ++half) {
          const auto pair = static_cast<__nv_fp8x2_storage_t>((words[k] >> (16 * half)) & 0xffffu);
          const __half2_raw h = __nv_cvt_fp8x2_to_halfraw2(pair, __NV_E4M3);
          const float2 f = __half22float2(__half2(h));
          v[4 * k + 2 * half] = f.x * s;
          v[4 * k + 2 * half + 1] = f.y * s;
        }
      }
      return;
    }
    case kF16: {
      const uint4 u = *reinterpret_cast<const uint4*>(static_cast<const unsigned short*>(w.data) + i);
      const unsigned words[4] = {u.x, u.y, u.z, u.w};
#pragma unroll
      for (int k = 0; k < 4; ++k) {
        v[2 * k] = __half2float(__ushort_as_half(static_cast<unsigned short>(words[k] & 0xffffu)));
        v[2 * k + 1] = __half2float(__ushort_as_half(static_cast<unsigned short>(words[k] >> 16)));
      }
      return;
    }
    default: {
      const float4* p = reinterpret_cast<const float4*>(static_cast<const float*>(w.data) + i);
      const float4 a = p[0], b = p[1];
      v[0] = a.x; v[1] = a.y; v[2] = a.z; v[3] = a.w;
      v[4] = b.x; v[5] = b.y; v[6] = b.z; v[7] = b.w;
      return;
    }
  }
}

__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

// The sum over a block (all threads call it; blockDim.x a multiple of 32).
__device__ __forceinline__ double block_sum(double v) {
  __shared__ double partial[32];
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, warps = blockDim.x / 32;
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  __syncthreads();  // partial may still be read by a previous call
  if (lane == 0) partial[warp] = v;
  __syncthreads();
  v = lane < warps ? partial[lane] : 0.0;
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;  // every warp reduced the same partials
}

// Rotates (a, b) by angle inv_freq * pos as ops::Rope::apply does.
__device__ __forceinline__ void rotate2(float& a, float& b, float inv_freq, int64_t pos, float factor) {
  const float angle = inv_freq * static_cast<float>(pos);
  const float c = static_cast<float>(cos(static_cast<double>(angle))) * factor;
  const float s = static_cast<float>(sin(static_cast<double>(angle))) * factor;
  const float x = a, y = b;
  a = x * c - y * s;
  b = y * c + x * s;
}
__device__ __forceinline__ void rotate_pair(float* x, int p, int64_t pos, const float* inv_freq, float factor) {
  rotate2(x[2 * p], x[2 * p + 1], inv_freq[p], pos, factor);
}

}  // namespace dsv3::cuda
