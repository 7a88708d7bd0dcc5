// One group of a (grouped) GemmArgs product, as the matmul kernels see it.
#pragma once
#include "cuda/kernels.h"

namespace dsv3::cuda {

struct Group {
  DMat w;
  int64_t row_shift;
  const float* x;
  float* out;
  int64_t count;
};

__device__ __forceinline__ Group group_of(const GemmArgs& a, int g) {
  Group r;
  r.w = a.wtab ? a.wtab[g] : a.w;
  r.row_shift = static_cast<int64_t>(g) * a.w_row_step;
  int64_t t0 = 0;
  r.count = a.n;
  if (a.offsets) {
    t0 = a.offsets[g];
    r.count = a.offsets[g + 1] - t0;
  }
  r.x = a.x + g * a.x_group_step + t0 * a.ldx;
  r.out = a.out + g * a.out_group_step + t0 * a.ldo;
  return r;
}

}  // namespace dsv3::cuda
