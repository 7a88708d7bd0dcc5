// Scratch that is sized once for the largest batch seen and then reused, so
// steady-state decode allocates nothing.
#pragma once
#include <cstdint>
#include <vector>

namespace dsv3 {

class Buffer {
 public:
  float* get(int64_t floats) {
    if (static_cast<int64_t>(v_.size()) < floats) v_.resize(static_cast<std::size_t>(floats));
    return v_.data();
  }

 private:
  std::vector<float> v_;
};

}  // namespace dsv3
