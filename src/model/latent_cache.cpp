#include "model/latent_cache.h"

#include <algorithm>
#include <cstring>

namespace dsv3 {

LatentCache::LatentCache(int64_t layers, int64_t width, int64_t capacity, DType dtype)
    : layers_(layers), width_(width), dtype_(dtype == DType::F16 ? DType::F16 : DType::F32), elem_(dtype_size(dtype_)) {
  reserve(capacity);
}

LatentCache::LatentCache(int64_t layers, int64_t width, DType dtype, std::unique_ptr<ExternalCacheStore> store)
    : layers_(layers),
      width_(width),
      capacity_(store->capacity()),
      dtype_(dtype),
      elem_(dtype_size(dtype)),
      external_(std::move(store)) {}

LatentCache::LatentCache(const LatentCache& o)
    : layers_(o.layers_),
      width_(o.width_),
      capacity_(o.capacity_),
      dtype_(o.dtype_),
      elem_(o.elem_),
      data_(o.data_),
      external_(o.external_ ? o.external_->clone() : nullptr) {}

LatentCache& LatentCache::operator=(const LatentCache& o) {
  if (this != &o) *this = LatentCache(o);
  return *this;
}

void LatentCache::reserve(int64_t n) {
  if (n <= capacity_) return;
  if (external_) {
    external_->reserve(n);
    capacity_ = external_->capacity();
    return;
  }
  const int64_t cap = std::max(n, capacity_ * 2);
  const std::size_t row_bytes = static_cast<std::size_t>(width_) * elem_;
  std::vector<std::byte> grown(static_cast<std::size_t>(layers_ * cap) * row_bytes);
  for (int64_t l = 0; l < layers_ && capacity_ > 0; ++l)
    std::memcpy(grown.data() + l * cap * row_bytes, data_.data() + l * capacity_ * row_bytes,
                static_cast<std::size_t>(capacity_) * row_bytes);
  data_ = std::move(grown);
  capacity_ = cap;
}

void LatentCache::store(int64_t layer, int64_t pos, const float* values) {
  std::byte* dst = data_.data() + ((layer * capacity_ + pos) * width_) * elem_;
  if (dtype_ == DType::F32) {
    std::memcpy(dst, values, static_cast<std::size_t>(width_) * sizeof(float));
    return;
  }
  uint16_t* out = reinterpret_cast<uint16_t*>(dst);
  for (int64_t i = 0; i < width_; ++i) out[i] = f32_to_f16(values[i]);
}

}  // namespace dsv3
