#include "cuda/cuda_ops.h"

#include <algorithm>

#include "cuda/check.h"
#include "cuda/device_buffer.h"
#include "cuda/device_weights.h"
#include "cuda/kernels.h"
#include "tensor/dtype.h"

namespace dsv3::cuda::op {
namespace {

template <class T>
Status to_device(DeviceBuffer& b, const T* src, int64_t count) {
  DSV3_RETURN_IF_ERROR(b.reserve(static_cast<std::size_t>(std::max<int64_t>(count, 1)) * sizeof(T)));
  if (count > 0) DSV3_CUDA_TRY(cudaMemcpy(b.get(), src, static_cast<std::size_t>(count) * sizeof(T), cudaMemcpyHostToDevice));
  return {};
}
template <class T>
Status to_host(T* dst, const DeviceBuffer& b, int64_t count) {
  DSV3_CUDA_TRY(cudaDeviceSynchronize());
  if (count > 0) DSV3_CUDA_TRY(cudaMemcpy(dst, b.get(), static_cast<std::size_t>(count) * sizeof(T), cudaMemcpyDeviceToHost));
  return {};
}

}  // namespace

namespace {

Status launch(const GemmArgs& a, Kernel kernel) {
  switch (kernel) {
    case Kernel::kGemvFast: DSV3_CUDA_TRY(launch_gemv_fast(a, nullptr)); break;
    case Kernel::kTensorCores: DSV3_CUDA_TRY(launch_gemm_mma(a, nullptr)); break;
    case Kernel::kTensorCores64: DSV3_CUDA_TRY(launch_gemm_mma(a, 64, nullptr)); break;
    case Kernel::kTensorCores128: DSV3_CUDA_TRY(launch_gemm_mma(a, 128, nullptr)); break;
    default: DSV3_CUDA_TRY(launch_gemm(a, nullptr)); break;
  }
  return {};
}

Status grouped(const ops::Matrix& w, int64_t rows, int64_t cols, int groups, const float* x, int64_t n, Kernel kernel,
               float* out) {
  DSV3_CUDA_TRY(cudaSetDevice(0));
  DeviceBuffer wd, ws, xd, od;
  DSV3_ASSIGN_OR_RETURN(DMat dm, upload_matrix(w, wd, ws));
  DSV3_RETURN_IF_ERROR(to_device(xd, x, n * groups * cols));
  DSV3_RETURN_IF_ERROR(od.reserve(static_cast<std::size_t>(std::max<int64_t>(n * groups * rows, 1)) * sizeof(float)));
  GemmArgs a;
  a.w = dm;
  a.rows = rows;
  a.cols = cols;
  a.w_row_step = rows;
  a.x = xd.as<const float>();
  a.ldx = groups * cols;
  a.x_group_step = cols;
  a.out = od.as<float>();
  a.ldo = groups * rows;
  a.out_group_step = rows;
  a.n = n;
  a.groups = groups;
  DSV3_RETURN_IF_ERROR(launch(a, kernel));
  return to_host(out, od, n * groups * rows);
}

// One token at position n_kv - 1 whose heads are the queries.
Status upload_attention(const float* q, int64_t nq, const float* kv, int64_t n_kv, int64_t width, bool f16,
                        DeviceBuffer& qd, DeviceBuffer& kd, DeviceBuffer& sd) {
  DSV3_RETURN_IF_ERROR(to_device(qd, q, nq * width));
  if (f16) {
    std::vector<uint16_t> h(static_cast<std::size_t>(n_kv * width));
    for (std::size_t i = 0; i < h.size(); ++i) h[i] = f32_to_f16(kv[i]);
    DSV3_RETURN_IF_ERROR(to_device(kd, h.data(), n_kv * width));
  } else {
    DSV3_RETURN_IF_ERROR(to_device(kd, kv, n_kv * width));
  }
  TokenSlot slot;
  slot.cache = kd.get();
  slot.capacity = n_kv;
  slot.pos = n_kv - 1;
  slot.f16 = f16 ? 1 : 0;
  return to_device(sd, &slot, 1);
}

}  // namespace

Status matmul_grouped(const ops::Matrix& w, int64_t rows, int64_t cols, int groups, const float* x, int64_t n,
                      float* out) {
  return grouped(w, rows, cols, groups, x, n, Kernel::kPicked, out);
}

Status gemv_fast(const ops::Matrix& w, int64_t rows, int64_t cols, int groups, const float* x, int64_t n,
                 float* out) {
  return grouped(w, rows, cols, groups, x, n, Kernel::kGemvFast, out);
}

Status matmul_mma(const ops::Matrix& w, int64_t rows, int64_t cols, int groups, const float* x, int64_t n,
                  float* out, Kernel tiles) {
  if (tiles != Kernel::kTensorCores && tiles != Kernel::kTensorCores64 && tiles != Kernel::kTensorCores128)
    return make_error("matmul_mma: not a tensor-core kernel");
  return grouped(w, rows, cols, groups, x, n, tiles, out);
}

Status matmul_pair(const ops::Matrix& w, const ops::Matrix& w2, const float* x, int64_t n, Kernel kernel, float* out,
                   float* out2) {
  if (w.rows != w2.rows || w.cols != w2.cols) return make_error("matmul_pair: the two matrices differ in shape");
  DSV3_CUDA_TRY(cudaSetDevice(0));
  DeviceBuffer wd, ws, w2d, w2s, xd, od, o2d;
  DSV3_ASSIGN_OR_RETURN(DMat dm, upload_matrix(w, wd, ws));
  DSV3_ASSIGN_OR_RETURN(DMat dm2, upload_matrix(w2, w2d, w2s));
  DSV3_RETURN_IF_ERROR(to_device(xd, x, n * w.cols));
  const auto bytes = static_cast<std::size_t>(std::max<int64_t>(n * w.rows, 1)) * sizeof(float);
  DSV3_RETURN_IF_ERROR(od.reserve(bytes));
  DSV3_RETURN_IF_ERROR(o2d.reserve(bytes));
  GemmArgs a;
  a.w = dm;
  a.w2 = dm2;
  a.rows = w.rows;
  a.cols = w.cols;
  a.x = xd.as<const float>();
  a.ldx = w.cols;
  a.out = od.as<float>();
  a.out2 = o2d.as<float>();
  a.ldo = w.rows;
  a.n = n;
  DSV3_RETURN_IF_ERROR(launch(a, kernel));
  DSV3_RETURN_IF_ERROR(to_host(out, od, n * w.rows));
  return to_host(out2, o2d, n * w.rows);
}

Status add_rmsnorm(float* x, const float* y, const float* weight, int64_t rows, int64_t cols, float eps, float* out) {
  DSV3_CUDA_TRY(cudaSetDevice(0));
  DeviceBuffer xd, yd, wd, od;
  DSV3_RETURN_IF_ERROR(to_device(xd, x, rows * cols));
  DSV3_RETURN_IF_ERROR(to_device(yd, y, rows * cols));
  DSV3_RETURN_IF_ERROR(to_device(wd, weight, cols));
  DSV3_RETURN_IF_ERROR(od.reserve(static_cast<std::size_t>(std::max<int64_t>(rows * cols, 1)) * sizeof(float)));
  DSV3_CUDA_TRY(launch_add_rmsnorm(xd.as<float>(), yd.as<const float>(), wd.as<const float>(), rows, cols, eps,
                                   od.as<float>(), nullptr));
  DSV3_RETURN_IF_ERROR(to_host(x, xd, rows * cols));
  return to_host(out, od, rows * cols);
}

Status matmul_experts(const std::vector<ops::Matrix>& experts, const std::vector<int32_t>& offsets, const float* x,
                      Kernel kernel, bool listed, float* out) {
  if (experts.empty() || offsets.size() != experts.size() + 1) return make_error("matmul_experts: bad offsets");
  DSV3_CUDA_TRY(cudaSetDevice(0));
  const int64_t rows = experts[0].rows, cols = experts[0].cols, total = offsets.back();
  std::vector<DeviceBuffer> data(experts.size()), scale(experts.size());
  std::vector<DMat> tab(experts.size());
  int64_t most = 0;
  for (std::size_t e = 0; e < experts.size(); ++e) {
    DSV3_ASSIGN_OR_RETURN(tab[e], upload_matrix(experts[e], data[e], scale[e]));
    most = std::max<int64_t>(most, offsets[e + 1] - offsets[e]);
  }
  DeviceBuffer td, od_offsets, xd, od, active_d;
  std::vector<int32_t> active;
  for (std::size_t e = 0; e < experts.size(); ++e)
    if (offsets[e + 1] > offsets[e]) active.push_back(static_cast<int32_t>(e));
  active.push_back(-1);  // one entry past the list, as the forward pass's launches have
  DSV3_RETURN_IF_ERROR(to_device(active_d, active.data(), static_cast<int64_t>(active.size())));
  DSV3_RETURN_IF_ERROR(to_device(td, tab.data(), static_cast<int64_t>(tab.size())));
  DSV3_RETURN_IF_ERROR(to_device(od_offsets, offsets.data(), static_cast<int64_t>(offsets.size())));
  DSV3_RETURN_IF_ERROR(to_device(xd, x, total * cols));
  DSV3_RETURN_IF_ERROR(od.reserve(static_cast<std::size_t>(std::max<int64_t>(total * rows, 1)) * sizeof(float)));
  GemmArgs a;
  a.wtab = td.as<const DMat>();
  a.w = tab[0];  // describes every entry's dtype and scale block
  a.rows = rows;
  a.cols = cols;
  a.x = xd.as<const float>();
  a.ldx = cols;
  a.out = od.as<float>();
  a.ldo = rows;
  a.n = std::max<int64_t>(most, 1);
  a.offsets = od_offsets.as<const int32_t>();
  a.groups = static_cast<int>(experts.size());
  if (listed) {
    a.active = active_d.as<const int32_t>();
    a.active_slots = static_cast<int>(active.size());
  }
  DSV3_RETURN_IF_ERROR(launch(a, kernel));
  return to_host(out, od, total * rows);
}

Status attention_split(const float* q, int64_t nq, const float* kv, int64_t n_kv, int64_t width, int64_t dv,
                       float scale, bool f16, int splits, float* out) {
  DSV3_CUDA_TRY(cudaSetDevice(0));
  DeviceBuffer qd, kd, sd, od, scratch;
  DSV3_RETURN_IF_ERROR(upload_attention(q, nq, kv, n_kv, width, f16, qd, kd, sd));
  DSV3_RETURN_IF_ERROR(od.reserve(static_cast<std::size_t>(std::max<int64_t>(nq * dv, 1)) * sizeof(float)));
  // poisoned, so a partial the kernels fail to write shows
  const int64_t floats = attention_split_scratch_floats(1, nq, dv, splits);
  DSV3_RETURN_IF_ERROR(scratch.reserve(static_cast<std::size_t>(std::max<int64_t>(floats, 1)) * sizeof(float)));
  DSV3_CUDA_TRY(cudaMemset(scratch.get(), 0xff, static_cast<std::size_t>(std::max<int64_t>(floats, 1)) * sizeof(float)));
  DSV3_CUDA_TRY(launch_mla_attention_split(qd.as<const float>(), 1, nq, width, dv, scale, sd.as<const TokenSlot>(), 0,
                                           splits, scratch.as<float>(), floats, od.as<float>(), nullptr));
  return to_host(out, od, nq * dv);
}

Status matmul(const ops::Matrix& w, const float* x, int64_t n, float* out) {
  return matmul_grouped(w, w.rows, w.cols, 1, x, n, out);
}

Status rmsnorm(const float* x, const float* weight, int64_t rows, int64_t cols, float eps, float* out) {
  DSV3_CUDA_TRY(cudaSetDevice(0));
  DeviceBuffer xd, wd;
  DSV3_RETURN_IF_ERROR(to_device(xd, x, rows * cols));
  DSV3_RETURN_IF_ERROR(to_device(wd, weight, cols));
  DSV3_CUDA_TRY(launch_rmsnorm(xd.as<const float>(), cols, wd.as<const float>(), rows, cols, eps, xd.as<float>(), cols,
                               nullptr));
  return to_host(out, xd, rows * cols);
}

Status rope(const ops::Rope& r, const float* x, const int64_t* pos, int64_t n, float* out) {
  DSV3_CUDA_TRY(cudaSetDevice(0));
  DeviceBuffer xd, pd, fd;
  const int64_t dim = r.dim();
  DSV3_RETURN_IF_ERROR(to_device(xd, x, n * dim));
  DSV3_RETURN_IF_ERROR(to_device(pd, pos, n));
  DSV3_RETURN_IF_ERROR(to_device(fd, r.inv_freq().data(), static_cast<int64_t>(r.inv_freq().size())));
  DSV3_CUDA_TRY(launch_rope(xd.as<float>(), dim, pd.as<const int64_t>(), n, fd.as<const float>(),
                            static_cast<int>(dim / 2), r.attention_factor(), nullptr));
  return to_host(out, xd, n * dim);
}

Status attention(const float* q, int64_t nq, const float* kv, int64_t n_kv, int64_t width, int64_t dv, float scale,
                 bool f16, float* out) {
  DSV3_CUDA_TRY(cudaSetDevice(0));
  DeviceBuffer qd, kd, sd, od;
  DSV3_RETURN_IF_ERROR(upload_attention(q, nq, kv, n_kv, width, f16, qd, kd, sd));
  DSV3_RETURN_IF_ERROR(od.reserve(static_cast<std::size_t>(std::max<int64_t>(nq * dv, 1)) * sizeof(float)));
  DSV3_CUDA_TRY(launch_mla_attention(qd.as<const float>(), 1, nq, width, dv, scale, sd.as<const TokenSlot>(), 0,
                                     od.as<float>(), nullptr));
  return to_host(out, od, nq * dv);
}

Status route(const ModelConfig& c, const float* logits, const std::vector<float>& bias, int64_t n, int32_t* experts,
             float* weights) {
  DSV3_CUDA_TRY(cudaSetDevice(0));
  DeviceBuffer ld, bd, ed, wd;
  DSV3_RETURN_IF_ERROR(to_device(ld, logits, n * c.n_routed_experts));
  DSV3_RETURN_IF_ERROR(to_device(bd, bias.data(), static_cast<int64_t>(bias.size())));
  const int64_t k = c.num_experts_per_tok;
  DSV3_RETURN_IF_ERROR(ed.reserve(static_cast<std::size_t>(std::max<int64_t>(n * k, 1)) * sizeof(int32_t)));
  DSV3_RETURN_IF_ERROR(wd.reserve(static_cast<std::size_t>(std::max<int64_t>(n * k, 1)) * sizeof(float)));
  RouteParams p;
  p.experts = c.n_routed_experts;
  p.groups = c.n_group;
  p.topk_group = c.topk_group;
  p.top_k = k;
  p.norm_topk_prob = c.norm_topk_prob ? 1 : 0;
  p.routed_scaling_factor = static_cast<float>(c.routed_scaling_factor);
  DSV3_CUDA_TRY(launch_route(ld.as<const float>(), bias.empty() ? nullptr : bd.as<const float>(), n, p,
                             ed.as<int32_t>(), wd.as<float>(), nullptr));
  DSV3_RETURN_IF_ERROR(to_host(experts, ed, n * k));
  return to_host(weights, wd, n * k);
}

Status silu_mul(const float* gate, const float* up, int64_t n, float* out) {
  DSV3_CUDA_TRY(cudaSetDevice(0));
  DeviceBuffer gd, ud;
  DSV3_RETURN_IF_ERROR(to_device(gd, gate, n));
  DSV3_RETURN_IF_ERROR(to_device(ud, up, n));
  DSV3_CUDA_TRY(launch_silu_mul(gd.as<const float>(), ud.as<const float>(), n, gd.as<float>(), nullptr));
  return to_host(out, gd, n);
}

}  // namespace dsv3::cuda::op
