// CPU kernels compiled once per instruction set (AVX-512, AVX2+FMA, and a
// generic build: SSE2 on x86-64, NEON on aarch64) from one source,
// kernels_impl.inc. The table for the running CPU is chosen once; tests and
// benchmarks can force another (DSV3_ISA=avx512|avx2|generic).
#pragma once

// The x86 SIMD kernels are compiled with GCC's per-function target pragmas;
// other compilers (clang for the fuzz build) get the generic kernels only.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define DSV3_X86_KERNELS 1
#endif
#include <cstdint>
#include <string>
#include <vector>

#include "ops/matrix.h"

namespace dsv3::ops::cpu {

// Rows of a key/value cache: n rows, ld elements apart, f32 or f16.
struct KvRows {
  const void* data = nullptr;
  DType dtype = DType::F32;
  int64_t ld = 0, n = 0;
};

struct KernelTable {
  const char* name;
  // y[i][r] = x_i . w_r for rows [r0, r1) of w and tokens i < n.
  void (*matmul_rows)(const Matrix& w, const float* x, int64_t ldx, int64_t n, float* y, int64_t ldy, int64_t r0,
                      int64_t r1);
  // Row r of w as f32 (out[w.cols]).
  void (*decode_row)(const Matrix& w, int64_t r, float* out);
  // Prefill, in two steps so that the activations are rearranged once per
  // product, not once per thread: transpose_x writes columns [j0, j1) of
  // x [n][k] into xt [k][padded_tokens(n)]; matmul_transposed_x then gives
  // y[i][r] = x_i . w_r for rows [r0, r1) of w.
  int64_t (*padded_tokens)(int64_t n);
  void (*transpose_x)(const float* x, int64_t ldx, int64_t n, int64_t k, float* xt, int64_t j0, int64_t j1);
  void (*matmul_transposed_x)(const Matrix& w, const float* xt, int64_t npad, int64_t n, float* y, int64_t ldy,
                              int64_t r0, int64_t r1);
  // Attention over a block of cache rows (ops/attention.cpp runs the online
  // softmax around these): s[h][j] = scale * q_h . row_j[0:dk] for h < nq;
  // out[h][0:dv] += sum_j p[h][j] * row_j[0:dv]; s[j] = exp(s[j] - m) for
  // j < n (m >= every s[j]), returning their sum.
  void (*attention_scores)(const float* q, int64_t ldq, int64_t nq, int64_t dk, const KvRows& kv, float scale,
                           float* s, int64_t lds);
  void (*attention_values)(const float* p, int64_t ldp, int64_t nq, int64_t dv, const KvRows& kv, float* out,
                           int64_t ldo);
  float (*exp_sum)(float* s, int64_t n, float m);
};

// Products with bf16 multiplies: x and w rounded to bf16, sums in f32.
struct Bf16Kernels {
  int64_t (*padded_cols)(int64_t k);  // the row length of rounded activations
  // x [n][k] (rows ldx apart) to out [n][padded_cols(k)], zero-padded.
  void (*round_rows)(const float* x, int64_t ldx, int64_t n, int64_t k, uint16_t* out);
  // y[i][r] = x_i . w_r for rows [r0, r1) of w and i < n, given x and its
  // rounded copy xb (fp8 weights round a rescaled x of their own).
  void (*matmul_rows)(const Matrix& w, const float* x, int64_t ldx, const uint16_t* xb, int64_t n, float* y,
                      int64_t ldy, int64_t r0, int64_t r1);
};

// The instruction sets this binary has kernels for that the CPU runs, best first.
std::vector<std::string> available_isas();
const KernelTable& kernels();
// Forces a table by name; false if unknown or unsupported here.
bool force_isa(const std::string& name);
// The bf16 kernels that go with the current table, or null where the CPU (or
// the table's instruction set) has no bf16 dot product.
const Bf16Kernels* bf16_kernels();

namespace avx512 {
extern const KernelTable kTable;
}
namespace avx2 {
extern const KernelTable kTable;
}
namespace avx512_bf16 {
extern const Bf16Kernels kBf16;
}
namespace generic {
extern const KernelTable kTable;
}

}  // namespace dsv3::ops::cpu
