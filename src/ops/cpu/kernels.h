// CPU kernels compiled once per instruction set (AVX-512, AVX2+FMA, and a
// generic build: SSE2 on x86-64, NEON on aarch64) from one source,
// kernels_impl.inc. The table for the running CPU is chosen once; tests and
// benchmarks can force another (DSV3_ISA=avx512|avx2|generic).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "ops/matrix.h"

namespace dsv3::ops::cpu {

struct KernelTable {
  const char* name;
  // y[i][r] = x_i . w_r for rows [r0, r1) of w and tokens i < n.
  void (*matmul_rows)(const Matrix& w, const float* x, int64_t ldx, int64_t n, float* y, int64_t ldy, int64_t r0,
                      int64_t r1);
  // Row r of w as f32 (out[w.cols]).
  void (*decode_row)(const Matrix& w, int64_t r, float* out);
};

// The instruction sets this binary has kernels for that the CPU runs, best first.
std::vector<std::string> available_isas();
const KernelTable& kernels();
// Forces a table by name; false if unknown or unsupported here.
bool force_isa(const std::string& name);

namespace avx512 {
extern const KernelTable kTable;
}
namespace avx2 {
extern const KernelTable kTable;
}
namespace generic {
extern const KernelTable kTable;
}

}  // namespace dsv3::ops::cpu
