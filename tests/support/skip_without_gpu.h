// Skips a GPU test, with the reason, where this binary has no CUDA or the
// machine no GPU. A missing GPU fails the test instead where one should be
// there: under DSV3_REQUIRE_GPU=1 (the device check sets it), and where a
// CUDA build sees NVIDIA device nodes that its runtime cannot use (a broken
// driver must not read as "no GPU").
#pragma once
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "cuda/cuda_forward.h"
#include "support/test_env.h"

namespace dsv3::test {

inline bool missing_gpu_is_failure() {
#ifdef DSV3_HAVE_CUDA
  std::error_code ec;
  if (std::filesystem::exists("/dev/nvidiactl", ec) || std::filesystem::exists("/dev/nvidia0", ec)) return true;
#endif
  return gpu_required();
}

}  // namespace dsv3::test

#define SKIP_WITHOUT_GPU()                                        \
  do {                                                            \
    std::string why_;                                             \
    if (!::dsv3::cuda::available(&why_)) {                        \
      if (::dsv3::test::missing_gpu_is_failure()) FAIL() << why_; \
      GTEST_SKIP() << why_;                                       \
    }                                                             \
  } while (0)
