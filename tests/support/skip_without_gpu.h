// Skips a GPU test, with the reason, where this binary has no CUDA or the
// machine no GPU.
#pragma once
#include <gtest/gtest.h>

#include <string>

#include "cuda/cuda_forward.h"

#define SKIP_WITHOUT_GPU()                             \
  do {                                                 \
    std::string why_;                                  \
    if (!cuda::available(&why_)) GTEST_SKIP() << why_; \
  } while (0)
