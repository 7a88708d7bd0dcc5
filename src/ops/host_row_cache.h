// A RowCache in host memory, for backends that compute on the CPU. f16 rows
// take half the bytes; values are converted on store.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "ops/row_cache.h"

namespace dsv3::ops {

class HostRowCache final : public RowCache {
 public:
  HostRowCache(const void* owner, int64_t layers, int64_t width, DType dtype);  // dtype F32 or F16

  std::unique_ptr<RowCache> clone() const override;
  Status reserve(int64_t n) override;

  // Writes one row (width floats), converting to the cache's dtype.
  void store(int64_t layer, int64_t pos, const float* values);
  // Start of a row in the cache's dtype; rows are width elements apart.
  const void* row(int64_t layer, int64_t pos) const {
    return data_.data() + ((layer * capacity_ + pos) * width()) * elem_;
  }

 private:
  std::size_t elem_;
  std::vector<std::byte> data_;  // [layer][capacity][width]
};

}  // namespace dsv3::ops
