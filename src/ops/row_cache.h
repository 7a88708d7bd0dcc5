// Rows kept per layer and position for attention to read back later (a KV
// cache of any shape): [layer][position][width], f32 or f16. A backend makes
// them in its own memory; the object it hands out carries its maker, so that
// a backend recognises its own caches without asking the type system.
#pragma once
#include <algorithm>
#include <cstdint>
#include <memory>

#include "base/status.h"
#include "tensor/dtype.h"

namespace dsv3::ops {

class RowCache {
 public:
  RowCache(const void* owner, int64_t layers, int64_t width, DType dtype)
      : owner_(owner), layers_(layers), width_(width), dtype_(dtype) {}
  virtual ~RowCache() = default;
  RowCache(const RowCache&) = delete;
  RowCache& operator=(const RowCache&) = delete;

  // A deep copy in the same memory (beams and prefix reuse fork this way).
  // A device copy that fails keeps its error and reports it from reserve.
  virtual std::unique_ptr<RowCache> clone() const = 0;
  // Room for positions [0, n), keeping the rows; grows geometrically.
  virtual Status reserve(int64_t n) = 0;

  // The rows themselves: this cache, or the one a wrapper (a cache mirrored
  // on other processes) holds. Backends are handed storage().
  virtual RowCache& storage() { return *this; }

  const void* owner() const { return owner_; }
  int64_t layers() const { return layers_; }
  int64_t width() const { return width_; }
  DType dtype() const { return dtype_; }
  int64_t capacity() const { return capacity_; }
  int64_t bytes_per_token() const { return layers_ * width_ * static_cast<int64_t>(dtype_size(dtype_)); }
  // Positions [0, written()) hold rows a forward pass stored. A pass may
  // start anywhere up to written(), never past it: a gap would read rows
  // nobody wrote.
  int64_t written() const { return written_; }
  void mark_written(int64_t end) { written_ = std::max(written_, end); }

 protected:
  int64_t capacity_ = 0;
  int64_t written_ = 0;  // clone() copies it

 private:
  const void* owner_;
  int64_t layers_, width_;
  DType dtype_;
};

}  // namespace dsv3::ops
