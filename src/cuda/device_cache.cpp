#include "cuda/device_cache.h"

#include <algorithm>

namespace dsv3::cuda {

std::unique_ptr<ops::RowCache> DeviceCacheStore::clone() const {
  auto c = std::make_unique<DeviceCacheStore>(owner(), device_, layers(), width(), dtype());
  c->error_ = error_;
  c->written_ = written_;
  if (capacity_ == 0) return c;
  Status st = [&]() -> Status {
    DSV3_CUDA_TRY(cudaSetDevice(device_));
    DSV3_RETURN_IF_ERROR(c->buf_.reserve(static_cast<std::size_t>(layers() * capacity_) * row_bytes()));
    DSV3_CUDA_TRY(cudaMemcpy(c->buf_.get(), buf_.get(), static_cast<std::size_t>(layers() * capacity_) * row_bytes(),
                             cudaMemcpyDeviceToDevice));
    c->capacity_ = capacity_;
    return {};
  }();
  if (!st) c->error_ = st.error();
  return c;
}

Status DeviceCacheStore::reserve(int64_t positions) {
  if (error_) return make_error("the device cache could not be copied: {}", error_->message);
  if (positions <= capacity_) return {};
  return grow(positions);
}

Status DeviceCacheStore::grow(int64_t positions) {
  const int64_t cap = std::max({positions, capacity_ * 2, int64_t{16}});
  DSV3_CUDA_TRY(cudaSetDevice(device_));
  DeviceBuffer grown;
  DSV3_RETURN_IF_ERROR(grown.reserve(static_cast<std::size_t>(layers() * cap) * row_bytes()));
  // zeroed: the next growth copies every row of the old capacity, written
  // or not, and a copy of unwritten memory is what initcheck reports
  DSV3_CUDA_TRY(cudaMemset(grown.get(), 0, static_cast<std::size_t>(layers() * cap) * row_bytes()));
  if (capacity_ > 0) {
    // each layer's rows move from capacity_ to cap rows apart
    const std::size_t old_pitch = static_cast<std::size_t>(capacity_) * row_bytes();
    const std::size_t new_pitch = static_cast<std::size_t>(cap) * row_bytes();
    DSV3_CUDA_TRY(cudaMemcpy2D(grown.get(), new_pitch, buf_.get(), old_pitch, old_pitch,
                               static_cast<std::size_t>(layers()), cudaMemcpyDeviceToDevice));
  }
  buf_ = std::move(grown);
  capacity_ = cap;
  return {};
}

}  // namespace dsv3::cuda
