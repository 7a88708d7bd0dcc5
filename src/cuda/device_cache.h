// A sequence's latent cache in GPU memory ([layer][capacity][width], f32 or
// f16): the RowCache of the CUDA backend.
#pragma once
#include <memory>
#include <optional>

#include "base/status.h"
#include "cuda/device_buffer.h"
#include "ops/row_cache.h"

namespace dsv3::cuda {

class DeviceCacheStore final : public ops::RowCache {
 public:
  DeviceCacheStore(const void* owner, int device, int64_t layers, int64_t width, DType dtype)
      : ops::RowCache(owner, layers, width, dtype), device_(device) {}

  // A copy that fails keeps the error (capacity 0) for reserve to report.
  std::unique_ptr<ops::RowCache> clone() const override;
  // Grows geometrically, keeping the rows.
  Status reserve(int64_t positions) override;

  void* data() const { return buf_.get(); }
  bool f16() const { return dtype() == DType::F16; }

 private:
  Status grow(int64_t positions);
  std::size_t row_bytes() const { return static_cast<std::size_t>(width()) * dtype_size(dtype()); }

  int device_;
  DeviceBuffer buf_;
  std::optional<Error> error_;
};

}  // namespace dsv3::cuda
