// The MLA cache: per layer and position only the normalised KV latent
// (kv_lora_rank) followed by the rotated shared key k_pe (qk_rope_head_dim).
// Per-head keys and values are never stored; absorbed attention reads this.
// Rows are kept in f32 (exact) or f16 (half the bytes; the latent is
// normalised, so f16's range suffices and its 11-bit mantissa keeps logits
// within 1e-2, where bf16's 8 bits did not).
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "tensor/dtype.h"

namespace dsv3 {

// Cache rows kept by another device (a GPU backend): the host object only
// owns and forwards to it.
class ExternalCacheStore {
 public:
  virtual ~ExternalCacheStore() = default;
  virtual std::unique_ptr<ExternalCacheStore> clone() const = 0;  // a deep copy
  virtual void reserve(int64_t positions) = 0;                    // keeps the contents
  virtual int64_t capacity() const = 0;
};

class LatentCache {
 public:
  LatentCache(int64_t layers, int64_t width, int64_t capacity = 0, DType dtype = DType::F32);  // F32 or F16
  // Rows stored elsewhere; row() and store() must not be used.
  LatentCache(int64_t layers, int64_t width, DType dtype, std::unique_ptr<ExternalCacheStore> store);
  LatentCache(const LatentCache& o);
  LatentCache& operator=(const LatentCache& o);
  LatentCache(LatentCache&&) noexcept = default;
  LatentCache& operator=(LatentCache&&) noexcept = default;

  ExternalCacheStore* external() const { return external_.get(); }

  int64_t layers() const { return layers_; }
  int64_t width() const { return width_; }
  int64_t capacity() const { return capacity_; }
  DType dtype() const { return dtype_; }
  // Makes room for positions [0, n); grows geometrically, keeping the contents.
  void reserve(int64_t n);

  // Writes one row (width floats), converting to the cache's dtype.
  void store(int64_t layer, int64_t pos, const float* values);
  // Start of a row in the cache's dtype; rows are width elements apart.
  const void* row(int64_t layer, int64_t pos) const {
    return data_.data() + ((layer * capacity_ + pos) * width_) * elem_;
  }
  int64_t bytes_per_token() const { return layers_ * width_ * static_cast<int64_t>(elem_); }

 private:
  int64_t layers_, width_, capacity_ = 0;
  DType dtype_;
  std::size_t elem_;
  std::vector<std::byte> data_;  // [layer][capacity][width]
  std::unique_ptr<ExternalCacheStore> external_;
};

}  // namespace dsv3
