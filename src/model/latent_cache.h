// The MLA cache of one sequence: per layer and position only the normalised
// KV latent (kv_lora_rank) followed by the rotated shared key k_pe
// (qk_rope_head_dim). Per-head keys and values are never stored; absorbed
// attention reads this. Rows are kept in f32 (exact) or f16 (half the bytes;
// the latent is normalised, so f16's range suffices and its 11-bit mantissa
// keeps logits within 1e-2, where bf16's 8 bits did not).
//
// The rows live where the model computes, in a RowCache its backend made; a
// LatentCache is the engine's handle to them, moved and copied (deeply, in
// the same memory) like a value.
#pragma once
#include <cstdint>
#include <memory>

#include "base/status.h"
#include "ops/row_cache.h"

namespace dsv3 {

class LatentCache {
 public:
  explicit LatentCache(std::unique_ptr<ops::RowCache> rows) : rows_(std::move(rows)) {}
  LatentCache(const LatentCache& o) : rows_(o.rows_->clone()) {}
  LatentCache& operator=(const LatentCache& o) {
    if (this != &o) rows_ = o.rows_->clone();
    return *this;
  }
  LatentCache(LatentCache&&) noexcept = default;
  LatentCache& operator=(LatentCache&&) noexcept = default;

  int64_t layers() const { return rows_->layers(); }
  int64_t width() const { return rows_->width(); }
  int64_t capacity() const { return rows_->capacity(); }
  DType dtype() const { return rows_->dtype(); }
  int64_t bytes_per_token() const { return rows_->bytes_per_token(); }
  // Makes room for positions [0, n), keeping the contents.
  Status reserve(int64_t n) { return rows_->reserve(n); }

  // The rows, out of this handle (to wrap them in another RowCache).
  std::unique_ptr<ops::RowCache> release_rows() && { return std::move(rows_); }

  ops::RowCache& rows() { return *rows_; }
  const ops::RowCache& rows() const { return *rows_; }

 private:
  std::unique_ptr<ops::RowCache> rows_;
};

}  // namespace dsv3
