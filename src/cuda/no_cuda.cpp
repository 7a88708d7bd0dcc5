// A build without the CUDA backend (no nvcc, or DSV3_CUDA=OFF).
#include "cuda/cuda_forward.h"
#include "cuda/cuda_ops.h"

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

Result<double> copy_bandwidth_gbps(int, int64_t) {
  std::string why;
  available(&why);
  return make_error("GPU bandwidth: {}", why);
}

}  // namespace dsv3::cuda

// The op tests' entry points: they skip before calling these.
namespace dsv3::cuda::op {
namespace {
Error no_cuda() {
  std::string why;
  available(&why);
  return Error{why};
}
}  // namespace
Status matmul(const ops::Matrix&, const float*, int64_t, float*) { return no_cuda(); }
Status matmul_grouped(const ops::Matrix&, int64_t, int64_t, int, const float*, int64_t, float*) { return no_cuda(); }
Status rmsnorm(const float*, const float*, int64_t, int64_t, float, float*) { return no_cuda(); }
Status rope(const ops::Rope&, const float*, const int64_t*, int64_t, float*) { return no_cuda(); }
Status attention(const float*, int64_t, const float*, int64_t, int64_t, int64_t, float, bool, float*) {
  return no_cuda();
}
Status route(const ModelConfig&, const float*, const std::vector<float>&, int64_t, int32_t*, float*) {
  return no_cuda();
}
Status silu_mul(const float*, const float*, int64_t, float*) { return no_cuda(); }
Status gemv_fast(const ops::Matrix&, int64_t, int64_t, int, const float*, int64_t, float*) { return no_cuda(); }
Status matmul_mma(const ops::Matrix&, int64_t, int64_t, int, const float*, int64_t, float*, Kernel) { return no_cuda(); }
Status matmul_experts(const std::vector<ops::Matrix>&, const std::vector<int32_t>&, const float*, Kernel, bool,
                      float*) {
  return no_cuda();
}
Status add_rmsnorm(float*, const float*, const float*, int64_t, int64_t, float, float*) { return no_cuda(); }
Status matmul_pair(const ops::Matrix&, const ops::Matrix&, const float*, int64_t, Kernel, float*, float*) {
  return no_cuda();
}
Status attention_split(const float*, int64_t, const float*, int64_t, int64_t, int64_t, float, bool, int, float*) {
  return no_cuda();
}
}  // namespace dsv3::cuda::op
#endif
