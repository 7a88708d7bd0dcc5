// A sequence's latent cache in GPU memory ([layer][capacity][width], f32 or
// f16), plugged into LatentCache as its external store.
#pragma once
#include <memory>
#include <optional>

#include "base/status.h"
#include "cuda/device_buffer.h"
#include "model/latent_cache.h"

namespace dsv3::cuda {

class DeviceCacheStore : public ExternalCacheStore {
 public:
  DeviceCacheStore(int device, int64_t layers, int64_t width, DType dtype)
      : device_(device), layers_(layers), width_(width), dtype_(dtype) {}

  std::unique_ptr<ExternalCacheStore> clone() const override;
  // Grows geometrically, keeping the rows. The interface cannot fail, so an
  // error is kept (capacity unchanged) for forward() to report.
  void reserve(int64_t positions) override;
  int64_t capacity() const override { return capacity_; }

  void* data() const { return buf_.get(); }
  bool f16() const { return dtype_ == DType::F16; }
  const std::optional<Error>& error() const { return error_; }

 private:
  Status grow(int64_t positions);
  std::size_t row_bytes() const { return static_cast<std::size_t>(width_) * dtype_size(dtype_); }

  int device_;
  int64_t layers_, width_;
  DType dtype_;
  int64_t capacity_ = 0;
  DeviceBuffer buf_;
  std::optional<Error> error_;
};

}  // namespace dsv3::cuda
