#include "ops/cpu_backend.h"

#include <algorithm>
#include <cstring>

#include "base/thread_pool.h"
#include "ops/activation.h"
#include "ops/norm.h"
#include "ops/vec.h"

namespace dsv3::ops {

CpuBackend::CpuBackend(ThreadPool* pool) : pool_(pool) {}

std::unique_ptr<RowCache> CpuBackend::make_cache(int64_t layers, int64_t width, DType dtype) const {
  return std::make_unique<HostRowCache>(this, layers, width, dtype);
}

float* CpuBackend::buffer(std::vector<float>& b, int64_t floats) {
  if (static_cast<int64_t>(b.size()) < floats) b.resize(static_cast<std::size_t>(floats));
  return b.data();
}

Result<void*> CpuBackend::scratch(int slot, int64_t bytes) {
  if (slot < 0) return make_error("cpu: scratch slot {} is negative", slot);
  if (static_cast<std::size_t>(slot) >= slots_.size()) slots_.resize(static_cast<std::size_t>(slot) + 1);
  return static_cast<void*>(buffer(slots_[static_cast<std::size_t>(slot)], (bytes + 3) / 4));
}

Status CpuBackend::upload(const void* host, void* device, int64_t bytes) {
  if (host != device) std::memcpy(device, host, static_cast<std::size_t>(bytes));
  return {};
}

Status CpuBackend::download(const void* device, void* host, int64_t bytes) { return upload(device, host, bytes); }

Status CpuBackend::begin_batch(std::span<const int32_t> ids, std::span<const TokenPlace> places) {
  if (ids.size() != places.size()) return make_error("cpu: {} token ids for {} places", ids.size(), places.size());
  for (const TokenPlace& p : places) {
    if (!p.cache || p.cache->owner() != this)
      return make_error("forward: the cache belongs to another backend (make it with this model's make_cache)");
    if (p.pos < 0 || p.pos >= p.cache->capacity())
      return make_error("forward: position {} is outside the cache's {} rows", p.pos, p.cache->capacity());
  }
  ids_ = ids;
  places_ = places;
  return {};
}

Status CpuBackend::embed(const Matrix& table, float* out) {
  for (std::size_t i = 0; i < ids_.size(); ++i) gather_row(table, ids_[i], out + static_cast<int64_t>(i) * table.cols);
  return {};
}

Status CpuBackend::rmsnorm(const float* x, int64_t ldx, std::span<const float> weight, int64_t rows, float eps,
                           float* out, int64_t ldo) {
  const int64_t cols = static_cast<int64_t>(weight.size());
  for (int64_t i = 0; i < rows; ++i) ops::rmsnorm(x + i * ldx, weight.data(), cols, eps, out + i * ldo);
  return {};
}

Status CpuBackend::matmul(std::span<const MatmulJob> jobs, Precision precision) {
  matmul_batch(jobs, pool_, precision);  // one job or many: matmul_batch picks matmul's own paths
  return {};
}

Status CpuBackend::grouped_matmul(const GroupedProduct& g, Precision precision) {
  // split over the groups: decode (one token) keeps every thread busy too
  pool_->parallel_for(g.groups, [&](int64_t gb, int64_t ge, int) {
    for (int64_t h = gb; h < ge; ++h) {
      const Matrix w = g.w.row_slice(g.row0 + h * g.row_step, g.rows);
      if (g.transposed)
        matmul_transposed(w, g.x + h * g.x_step, g.ldx, g.n, g.y + h * g.y_step, g.ldy);
      else
        ops::matmul(w, g.x + h * g.x_step, g.ldx, g.n, g.y + h * g.y_step, g.ldy, nullptr, precision);
    }
  });
  return {};
}

Status CpuBackend::rope(const Rope& rope, float* x, int64_t ld, int64_t per_token) {
  const auto rotate = [&](int64_t b, int64_t e, int) {
    for (int64_t row = b; row < e; ++row) rope.apply(x + row * ld, places_[static_cast<std::size_t>(row / per_token)].pos);
  };
  const int64_t rows = static_cast<int64_t>(places_.size()) * per_token;
  // each row costs its own sines and cosines: prefill's many rows are worth the threads
  constexpr int64_t kRowsPerThread = 64;
  if (rows >= 2 * kRowsPerThread) pool_->parallel_for(rows, rotate);
  else rotate(0, rows, 0);
  return {};
}

Status CpuBackend::copy(const float* x, int64_t ldx, int64_t rows, int64_t cols, float* y, int64_t ldy) {
  for (int64_t r = 0; r < rows; ++r) std::copy(x + r * ldx, x + r * ldx + cols, y + r * ldy);
  return {};
}

Status CpuBackend::cache_store(int64_t layer, const float* rows, int64_t ld) {
  for (std::size_t i = 0; i < places_.size(); ++i)
    cache_of(static_cast<int64_t>(i)).store(layer, places_[i].pos, rows + static_cast<int64_t>(i) * ld);
  return {};
}

Status CpuBackend::route(const TopKRouting& r, const float* logits, int64_t n, std::span<const float> bias,
                         int32_t* ids, float* weights) {
  if (r.experts > kMaxRoutedExperts) return make_error("routing: {} experts, at most {}", r.experts, kMaxRoutedExperts);
  for (int64_t i = 0; i < n; ++i) route_top_k(r, logits + i * r.experts, bias, ids + i * r.top_k, weights + i * r.top_k);
  return {};
}

Status CpuBackend::silu_mul(const float* gate, const float* up, int64_t n, float* out) {
  ops::silu_mul(gate, up, n, out);
  return {};
}

Status CpuBackend::add(const float* x, float* y, int64_t n) {
  ops::add(x, y, n);
  return {};
}

}  // namespace dsv3::ops
