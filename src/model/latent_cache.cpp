#include "model/latent_cache.h"

#include <algorithm>
#include <cstring>

namespace dsv3 {

LatentCache::LatentCache(int64_t layers, int64_t width, int64_t capacity) : layers_(layers), width_(width) {
  reserve(capacity);
}

void LatentCache::reserve(int64_t n) {
  if (n <= capacity_) return;
  const int64_t cap = std::max(n, capacity_ * 2);
  std::vector<float> grown(static_cast<std::size_t>(layers_ * cap * width_));
  for (int64_t l = 0; l < layers_ && capacity_ > 0; ++l)
    std::memcpy(grown.data() + l * cap * width_, data_.data() + l * capacity_ * width_,
                static_cast<std::size_t>(capacity_ * width_) * sizeof(float));
  data_ = std::move(grown);
  capacity_ = cap;
}

}  // namespace dsv3
