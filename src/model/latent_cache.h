// The MLA cache: per layer and position only the normalised KV latent
// (kv_lora_rank) followed by the rotated shared key k_pe (qk_rope_head_dim).
// Per-head keys and values are never stored; absorbed attention reads this.
#pragma once
#include <cstdint>
#include <vector>

namespace dsv3 {

class LatentCache {
 public:
  LatentCache(int64_t layers, int64_t width, int64_t capacity = 0);

  int64_t layers() const { return layers_; }
  int64_t width() const { return width_; }
  int64_t capacity() const { return capacity_; }
  // Makes room for positions [0, n); grows geometrically, keeping the contents.
  void reserve(int64_t n);

  float* row(int64_t layer, int64_t pos) { return data_.data() + (layer * capacity_ + pos) * width_; }
  const float* row(int64_t layer, int64_t pos) const {
    return data_.data() + (layer * capacity_ + pos) * width_;
  }
  int64_t bytes_per_token() const { return layers_ * width_ * static_cast<int64_t>(sizeof(float)); }

 private:
  int64_t layers_, width_, capacity_ = 0;
  std::vector<float> data_;  // [layer][capacity][width]
};

}  // namespace dsv3
