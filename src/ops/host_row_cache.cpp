#include "ops/host_row_cache.h"

#include <algorithm>
#include <cstring>

namespace dsv3::ops {

HostRowCache::HostRowCache(const void* owner, int64_t layers, int64_t width, DType dtype)
    : RowCache(owner, layers, width, dtype == DType::F16 ? DType::F16 : DType::F32), elem_(dtype_size(this->dtype())) {}

std::unique_ptr<RowCache> HostRowCache::clone() const {
  auto c = std::make_unique<HostRowCache>(owner(), layers(), width(), dtype());
  c->capacity_ = capacity_;
  c->written_ = written_;
  c->data_ = data_;
  return c;
}

Status HostRowCache::reserve(int64_t n) {
  if (n <= capacity_) return {};
  const int64_t cap = std::max(n, capacity_ * 2);
  const std::size_t row_bytes = static_cast<std::size_t>(width()) * elem_;
  std::vector<std::byte> grown(static_cast<std::size_t>(layers() * cap) * row_bytes);
  for (int64_t l = 0; l < layers() && capacity_ > 0; ++l)
    std::memcpy(grown.data() + l * cap * row_bytes, data_.data() + l * capacity_ * row_bytes,
                static_cast<std::size_t>(capacity_) * row_bytes);
  data_ = std::move(grown);
  capacity_ = cap;
  return {};
}

void HostRowCache::store(int64_t layer, int64_t pos, const float* values) {
  std::byte* dst = data_.data() + ((layer * capacity_ + pos) * width()) * elem_;
  if (dtype() == DType::F32) {
    std::memcpy(dst, values, static_cast<std::size_t>(width()) * sizeof(float));
    return;
  }
  uint16_t* out = reinterpret_cast<uint16_t*>(dst);
  for (int64_t i = 0; i < width(); ++i) out[i] = f32_to_f16(values[i]);
}

}  // namespace dsv3::ops
