// A build without the CUDA backend (no nvcc, or DSV3_CUDA=OFF).
#include "cuda/cuda_forward.h"

#if !defined(DSV3_HAVE_CUDA)
namespace dsv3::cuda {

bool available(std::string* why) {
  if (why) *why = "this dsv3 was built without CUDA (configure with -DDSV3_CUDA=ON where nvcc is installed)";
  return false;
}

Result<std::unique_ptr<ForwardPass>> make_forward(const Model&, int) {
  std::string why;
  available(&why);
  return make_error("--device cuda: {}", why);
}

}  // namespace dsv3::cuda
#endif
