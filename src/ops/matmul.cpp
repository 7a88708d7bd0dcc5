#include "ops/matmul.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "base/thread_pool.h"
#include "ops/cpu/kernels.h"
#include "ops/vec.h"

namespace dsv3::ops {

namespace {
constexpr int64_t kRowBlock = 16;    // weight rows dequantised together
constexpr int64_t kTokenBlock = 64;  // activations reused across a row block

// buf grown to hold floats from a 64-byte boundary (whole vector loads never
// straddle a cache line); returns that boundary.
float* aligned_scratch(std::vector<float>& buf, int64_t floats) {
  const std::size_t need = static_cast<std::size_t>(floats) + 16;
  if (buf.size() < need) buf.resize(need);
  const auto at = reinterpret_cast<std::uintptr_t>(buf.data());
  return buf.data() + ((64 - at % 64) % 64) / sizeof(float);
}

// Per-thread f32 staging for a few dequantised weight rows; grows once.
float* row_scratch(int64_t floats) {
  thread_local std::vector<float> buf;
  if (static_cast<int64_t>(buf.size()) < floats) buf.resize(floats);
  return buf.data();
}

void matmul_rows(const Matrix& w, const float* x, int64_t ldx, int64_t n, float* y, int64_t ldy, int64_t r0,
                 int64_t r1) {
  const int64_t k = w.cols;
  float* stage = row_scratch(kRowBlock * k);
  for (int64_t rb = r0; rb < r1; rb += kRowBlock) {
    const int64_t nr = std::min(kRowBlock, r1 - rb);
    for (int64_t r = 0; r < nr; ++r) dequantize_row(w, rb + r, stage + r * k);
    for (int64_t tb = 0; tb < n; tb += kTokenBlock) {
      const int64_t te = std::min(n, tb + kTokenBlock);
      for (int64_t i = tb; i < te; ++i) {
        const float* xi = x + i * ldx;
        float* yi = y + i * ldy + rb;
        for (int64_t r = 0; r < nr; ++r) yi[r] = dot(xi, stage + r * k, k);
      }
    }
  }
}
}  // namespace

void matmul_reference(const Matrix& w, const float* x, int64_t ldx, int64_t n, float* y, int64_t ldy) {
  matmul_rows(w, x, ldx, n, y, ldy, 0, w.rows);
}

namespace {
// x rounded to bf16 once, then rows of w split over the threads as below.
void matmul_bf16(const cpu::Bf16Kernels& b, const Matrix& w, const float* x, int64_t ldx, int64_t n, float* y,
                 int64_t ldy, ThreadPool* pool) {
  thread_local std::vector<uint16_t> xb_buf;
  const int64_t kp = b.padded_cols(w.cols);
  if (static_cast<int64_t>(xb_buf.size()) < n * kp) xb_buf.resize(static_cast<std::size_t>(n * kp));
  uint16_t* xb = xb_buf.data();
  if (pool == nullptr || pool->size() == 1 || w.rows < 2 * kRowBlock) {
    b.round_rows(x, ldx, n, w.cols, xb);
    b.matmul_rows(w, x, ldx, xb, n, y, ldy, 0, w.rows);
    return;
  }
  pool->parallel_for(n, [&](int64_t i0, int64_t i1, int) { b.round_rows(x + i0 * ldx, ldx, i1 - i0, w.cols, xb + i0 * kp); });
  const int64_t blocks = (w.rows + kRowBlock - 1) / kRowBlock;
  pool->parallel_for(blocks, [&](int64_t b0, int64_t b1, int) {
    b.matmul_rows(w, x, ldx, xb, n, y, ldy, b0 * kRowBlock, std::min(w.rows, b1 * kRowBlock));
  });
}
}  // namespace

void matmul(const Matrix& w, const float* x, int64_t ldx, int64_t n, float* y, int64_t ldy, ThreadPool* pool,
            Precision precision) {
  if (precision == Precision::kBf16 && n >= kBf16MinRows)
    if (const cpu::Bf16Kernels* b = cpu::bf16_kernels()) return matmul_bf16(*b, w, x, ldx, n, y, ldy, pool);
  const cpu::KernelTable& kt = cpu::kernels();
  const bool threaded = pool != nullptr && pool->size() > 1 && w.rows >= 2 * kRowBlock;
  if (!threaded) {  // the table's own path: matvec, or transposing x itself
    kt.matmul_rows(w, x, ldx, n, y, ldy, 0, w.rows);
    return;
  }
  if (n <= kMatvecRows) {  // decode: each thread streams its share of the rows
    const MatmulJob job{w, x, ldx, n, y, ldy};
    return matmul_batch(std::span<const MatmulJob>(&job, 1), pool, precision);
  }
  // contiguous row ranges, a multiple of 16 rows each (whole fp8 sub-blocks)
  const int64_t blocks = (w.rows + kRowBlock - 1) / kRowBlock;
  // x transposed once (split over the threads), then rows of w split over them
  thread_local std::vector<float> xt_buf;
  const int64_t npad = kt.padded_tokens(n), k = w.cols;
  float* xt = aligned_scratch(xt_buf, k * npad);
  pool->parallel_for(k, [&](int64_t j0, int64_t j1, int) { kt.transpose_x(x, ldx, n, k, xt, j0, j1); });
  pool->parallel_for(blocks, [&](int64_t b, int64_t e, int) {
    kt.matmul_transposed_x(w, xt, npad, n, y, ldy, b * kRowBlock, std::min(w.rows, e * kRowBlock));
  });
}

void matmul_batch(std::span<const MatmulJob> jobs, ThreadPool* pool, Precision precision) {
  const auto blocks_of = [](const MatmulJob& j) { return (j.w.rows + kRowBlock - 1) / kRowBlock; };
  int64_t blocks = 0;  // of the matvec jobs, all together
  for (const MatmulJob& j : jobs) {
    if (j.n > kMatvecRows) matmul(j.w, j.x, j.ldx, j.n, j.y, j.ldy, pool, precision);
    else blocks += blocks_of(j);
  }
  if (blocks == 0) return;
  const cpu::KernelTable& kt = cpu::kernels();
  // blocks [b0, b1) of the matvec jobs laid end to end: each thread streams one
  // contiguous share, which crosses from one matrix into the next
  const auto run = [&](int64_t b0, int64_t b1, int) {
    int64_t first = 0;  // the job's first block
    for (const MatmulJob& j : jobs) {
      if (j.n > kMatvecRows) continue;
      const int64_t nb = blocks_of(j), lo = std::max(b0, first), hi = std::min(b1, first + nb);
      if (lo < hi)
        kt.matmul_rows(j.w, j.x, j.ldx, j.n, j.y, j.ldy, (lo - first) * kRowBlock, std::min(j.w.rows, (hi - first) * kRowBlock));
      first += nb;
    }
  };
  if (pool == nullptr || pool->size() == 1) run(0, blocks, 0);
  else pool->parallel_for(blocks, run);
}

void matmul_transposed(const Matrix& w, const float* x, int64_t ldx, int64_t n, float* y, int64_t ldy) {
  const int64_t c = w.cols;
  float* row = row_scratch(c);
  const auto decode = cpu::kernels().decode_row;
  for (int64_t i = 0; i < n; ++i) std::memset(y + i * ldy, 0, c * sizeof(float));
  for (int64_t r = 0; r < w.rows; ++r) {
    decode(w, r, row);
    for (int64_t i = 0; i < n; ++i) axpy(x[i * ldx + r], row, y + i * ldy, c);
  }
}

}  // namespace dsv3::ops
