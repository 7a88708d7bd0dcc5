// The kernels for avx512: kernels_impl.inc compiled with this target.
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
// GCC 12 warns inside its own _mm512_undefined_* (PR 105593)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512dq,avx2,fma,f16c,bmi2")

#include <immintrin.h>

namespace dsv3::ops::cpu::avx512 {

constexpr int kW = 16;
constexpr const char* kIsaName = "avx512";
#define DSV3_KERNELS_AVX512 1
#include "ops/cpu/kernels_impl.inc"

}  // namespace dsv3::ops::cpu::avx512
#endif
