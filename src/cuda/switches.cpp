#include "cuda/switches.h"

#include <cstdlib>
#include <cstring>
#include <initializer_list>

namespace dsv3::cuda {
namespace {

// On unless the variable is set to 0, off, false or no.
bool env_on(const char* name) {
  const char* v = std::getenv(name);
  if (v == nullptr) return true;
  for (const char* off : {"0", "off", "false", "no", "OFF", "FALSE", "NO"})
    if (std::strcmp(v, off) == 0) return false;
  return true;
}

}  // namespace

bool fast_kernels() {
  static const bool on = env_on("DSV3_CUDA_FAST");
  return on;
}

bool cuda_graphs() {
  static const bool on = env_on("DSV3_CUDA_GRAPHS");
  return on;
}

bool tensor_cores() {
  static const bool on = env_on("DSV3_CUDA_TC");
  return on;
}

int tc_min_tokens() {
  static const int n = [] {
    const char* v = std::getenv("DSV3_CUDA_TC_MIN_N");
    const int parsed = v ? std::atoi(v) : 0;
    return parsed >= 1 ? parsed : 65;
  }();
  return n;
}

}  // namespace dsv3::cuda
