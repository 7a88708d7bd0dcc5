// One group of a (grouped) GemmArgs product, as the matmul kernels see it.
#pragma once
#include "cuda/kernels.h"

namespace dsv3::cuda {

// Which product of a pair a block computes: blocks [0, per) the first,
// [per, 2 per) the second (per: the blocks one product needs along x).
struct PairIndex {
  bool second;
  int64_t block;  // the block's index within its product
};
__device__ __forceinline__ PairIndex pair_index(int64_t block, int64_t per) {
  return block >= per ? PairIndex{true, block - per} : PairIndex{false, block};
}

struct Group {
  DMat w;
  int64_t row_shift;
  const float* x;
  float* out;
  int64_t count;
};

// Group of launch index y (an entry of the active list when there is one)
// of the first product or (second) of the pair's other; count 0 when the
// entry is -1.
__device__ __forceinline__ Group group_of(const GemmArgs& a, int y, bool second = false) {
  Group r;
  const int g = a.active ? a.active[y] : y;
  if (g < 0) {
    r.w = DMat{};
    r.row_shift = 0;
    r.x = a.x;
    r.out = second ? a.out2 : a.out;
    r.count = 0;
    return r;
  }
  if (second)
    r.w = a.wtab2 ? a.wtab2[g] : a.w2;
  else
    r.w = a.wtab ? a.wtab[g] : a.w;
  r.row_shift = static_cast<int64_t>(g) * a.w_row_step;
  int64_t t0 = 0;
  r.count = a.n;
  if (a.offsets) {
    t0 = a.offsets[g];
    r.count = a.offsets[g + 1] - t0;
  }
  r.x = a.x + g * a.x_group_step + t0 * a.ldx;
  r.out = (second ? a.out2 : a.out) + g * a.out_group_step + t0 * a.ldo;
  return r;
}

}  // namespace dsv3::cuda
