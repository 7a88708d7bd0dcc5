// The kernels for generic: kernels_impl.inc compiled with this target.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "ops/cpu/kernels.h"
#include "tensor/dtype.h"
#include "tensor/ggml_blocks.h"
#include "tensor/ggml_iq_grids.h"



// baseline instruction set of the build (SSE2 on x86-64, NEON on aarch64)

namespace dsv3::ops::cpu::generic {

constexpr int kW = 4;
constexpr const char* kIsaName = "generic";
#include "ops/cpu/kernels_impl.inc"

}  // namespace dsv3::ops::cpu::generic

