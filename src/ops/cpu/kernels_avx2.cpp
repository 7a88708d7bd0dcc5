// The kernels for avx2: kernels_impl.inc compiled with this target.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "ops/cpu/kernels.h"
#include "tensor/dtype.h"
#include "tensor/ggml_blocks.h"
#include "tensor/ggml_iq_grids.h"

#if defined(DSV3_X86_KERNELS)
#pragma GCC diagnostic ignored "-Wpsabi"
#pragma GCC target("avx2,fma,f16c,bmi2")

#include <immintrin.h>

namespace dsv3::ops::cpu::avx2 {

constexpr int kW = 8;
constexpr const char* kIsaName = "avx2";
#define DSV3_KERNELS_AVX2 1
#include "ops/cpu/kernels_impl.inc"

}  // namespace dsv3::ops::cpu::avx2
#endif
