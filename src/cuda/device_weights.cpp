#include "cuda/device_weights.h"

#include <cstddef>
#include <functional>
#include <map>

namespace dsv3::cuda {
namespace {

// The bytes of one stored matrix view to copy: whole FP8 scale blocks, so a
// view starting inside a block keeps its scale rows (DMat.row0 says where).
struct MatrixBytes {
  DMat view;  // data/scale still null
  const std::byte* data = nullptr;
  std::size_t data_bytes = 0;
  const std::byte* scale = nullptr;
  std::size_t scale_bytes = 0;
};

Result<MatrixBytes> describe(const ops::Matrix& m, const char* what) {
  MatrixBytes b;
  if (m.data == nullptr || m.rows == 0) return b;
  DMat& v = b.view;
  switch (m.dtype) {
    case DType::F32: v.dtype = kF32; break;
    case DType::BF16: v.dtype = kBF16; break;
    case DType::F16: v.dtype = kF16; break;
    case DType::F8_E4M3: v.dtype = kFP8; break;
    default: return make_error("{}: dtype {} is not a weight dtype the GPU reads", what, dtype_name(m.dtype));
  }
  const int64_t elem = static_cast<int64_t>(dtype_size(m.dtype));
  const int64_t block = m.block > 0 ? m.block : 128;
  const bool scaled = m.dtype == DType::F8_E4M3 && m.block_scale != nullptr;
  const int64_t first = scaled ? m.row0 / block * block : m.row0;  // first stored row copied
  v.rows = m.rows;
  v.cols = m.cols;
  v.row0 = m.row0 - first;
  v.block = block;
  const int64_t stored_rows = v.row0 + m.rows;
  b.data = static_cast<const std::byte*>(m.data) + first * m.cols * elem;
  b.data_bytes = static_cast<std::size_t>(stored_rows * m.cols * elem);
  if (scaled) {
    v.scale_cols = m.scale_cols;
    b.scale = reinterpret_cast<const std::byte*>(m.block_scale + (first / block) * m.scale_cols);
    b.scale_bytes = static_cast<std::size_t>((stored_rows + block - 1) / block * m.scale_cols) * sizeof(float);
  }
  return b;
}

// Lays tensors out in one arena, then copies them: one cudaMalloc for all.
class Planner {
 public:
  // Offset of src's bytes in the arena (a host range already placed is shared).
  std::size_t place(const void* src, std::size_t bytes) {
    const auto key = std::make_pair(src, bytes);
    if (auto it = placed_.find(key); it != placed_.end()) return it->second;
    const std::size_t off = (total_ + 255) / 256 * 256;
    total_ = off + bytes;
    copies_.push_back({src, bytes, off});
    placed_[key] = off;
    return off;
  }
  Status matrix(const ops::Matrix& m, const char* what, DMat& out) {
    DSV3_ASSIGN_OR_RETURN(MatrixBytes b, describe(m, what));
    out = b.view;
    if (b.data_bytes == 0) return {};
    const std::size_t d = place(b.data, b.data_bytes);
    fixes_.push_back([&out, d](std::byte* base) { out.data = base + d; });
    if (b.scale_bytes) {
      const std::size_t s = place(b.scale, b.scale_bytes);
      fixes_.push_back([&out, s](std::byte* base) { out.scale = reinterpret_cast<const float*>(base + s); });
    }
    return {};
  }
  void vector(const std::vector<float>& v, const float*& out) {
    out = nullptr;
    if (v.empty()) return;
    const std::size_t d = place(v.data(), v.size() * sizeof(float));
    fixes_.push_back([&out, d](std::byte* base) { out = reinterpret_cast<const float*>(base + d); });
  }
  // Room for a table of DMats written after the others are placed.
  std::size_t reserve_table(std::size_t count) {
    const std::size_t off = (total_ + 255) / 256 * 256;
    total_ = off + count * sizeof(DMat);
    return off;
  }
  std::size_t total() const { return total_; }

  Status commit(DeviceBuffer& arena) {
    DSV3_RETURN_IF_ERROR(arena.reserve(total_ ? total_ : 1));
    auto* base = arena.as<std::byte>();
    for (const Copy& c : copies_) DSV3_CUDA_TRY(cudaMemcpy(base + c.off, c.src, c.bytes, cudaMemcpyHostToDevice));
    for (auto& f : fixes_) f(base);
    return {};
  }

 private:
  struct Copy {
    const void* src;
    std::size_t bytes, off;
  };
  std::size_t total_ = 0;
  std::vector<Copy> copies_;
  std::map<std::pair<const void*, std::size_t>, std::size_t> placed_;
  std::vector<std::function<void(std::byte*)>> fixes_;
};

}  // namespace

Result<std::unique_ptr<DeviceWeights>> DeviceWeights::upload(const Model& model) {
  auto dw = std::make_unique<DeviceWeights>();
  const Weights& w = model.weights;
  Planner p;
  DSV3_RETURN_IF_ERROR(p.matrix(w.embed, "embed", dw->embed));
  DSV3_RETURN_IF_ERROR(p.matrix(w.lm_head, "lm_head", dw->lm_head));
  p.vector(w.final_norm, dw->final_norm);
  dw->layers.resize(w.layers.size());  // fixed from here: the planner holds references
  // expert tables: host copies filled by the planner, then copied to their arena slots
  struct Tables {
    std::vector<DMat> gate, up, down;
    std::size_t gate_off = 0, up_off = 0, down_off = 0;
  };
  std::vector<Tables> tables(w.layers.size());
  for (std::size_t l = 0; l < w.layers.size(); ++l) {
    const LayerWeights& lw = w.layers[l];
    DeviceLayer& d = dw->layers[l];
    p.vector(lw.attn_norm, d.attn_norm);
    p.vector(lw.mlp_norm, d.mlp_norm);
    const AttentionWeights& a = lw.attn;
    d.q_lora = a.q_lora;
    DSV3_RETURN_IF_ERROR(p.matrix(a.q_a, "q_a_proj", d.q_a));
    DSV3_RETURN_IF_ERROR(p.matrix(a.q_b, "q_b_proj", d.q_b));
    DSV3_RETURN_IF_ERROR(p.matrix(a.q, "q_proj", d.q));
    DSV3_RETURN_IF_ERROR(p.matrix(a.kv_a, "kv_a_proj_with_mqa", d.kv_a));
    DSV3_RETURN_IF_ERROR(p.matrix(a.kv_b, "kv_b_proj", d.kv_b));
    DSV3_RETURN_IF_ERROR(p.matrix(a.o, "o_proj", d.o));
    p.vector(a.q_a_norm, d.q_a_norm);
    p.vector(a.kv_a_norm, d.kv_a_norm);
    d.is_moe = lw.is_moe;
    if (!lw.is_moe) {
      DSV3_RETURN_IF_ERROR(p.matrix(lw.mlp.gate, "mlp.gate_proj", d.mlp.gate));
      DSV3_RETURN_IF_ERROR(p.matrix(lw.mlp.up, "mlp.up_proj", d.mlp.up));
      DSV3_RETURN_IF_ERROR(p.matrix(lw.mlp.down, "mlp.down_proj", d.mlp.down));
      continue;
    }
    const MoeWeights& m = lw.moe;
    DSV3_RETURN_IF_ERROR(p.matrix(m.router, "router", d.router));
    p.vector(m.router_bias, d.router_bias);
    d.has_shared = m.has_shared;
    if (m.has_shared) {
      DSV3_RETURN_IF_ERROR(p.matrix(m.shared.gate, "shared_experts.gate_proj", d.shared.gate));
      DSV3_RETURN_IF_ERROR(p.matrix(m.shared.up, "shared_experts.up_proj", d.shared.up));
      DSV3_RETURN_IF_ERROR(p.matrix(m.shared.down, "shared_experts.down_proj", d.shared.down));
    }
    Tables& t = tables[l];
    const std::size_t ne = m.experts.size();
    t.gate.resize(ne);
    t.up.resize(ne);
    t.down.resize(ne);
    for (std::size_t e = 0; e < ne; ++e) {
      DSV3_RETURN_IF_ERROR(p.matrix(m.experts[e].gate, "expert gate_proj", t.gate[e]));
      DSV3_RETURN_IF_ERROR(p.matrix(m.experts[e].up, "expert up_proj", t.up[e]));
      DSV3_RETURN_IF_ERROR(p.matrix(m.experts[e].down, "expert down_proj", t.down[e]));
    }
    t.gate_off = p.reserve_table(ne);
    t.up_off = p.reserve_table(ne);
    t.down_off = p.reserve_table(ne);
  }
  DSV3_RETURN_IF_ERROR(p.commit(dw->arena));
  auto* base = dw->arena.as<std::byte>();
  for (std::size_t l = 0; l < tables.size(); ++l) {
    Tables& t = tables[l];
    if (t.gate.empty()) continue;
    const std::size_t bytes = t.gate.size() * sizeof(DMat);
    DSV3_CUDA_TRY(cudaMemcpy(base + t.gate_off, t.gate.data(), bytes, cudaMemcpyHostToDevice));
    DSV3_CUDA_TRY(cudaMemcpy(base + t.up_off, t.up.data(), bytes, cudaMemcpyHostToDevice));
    DSV3_CUDA_TRY(cudaMemcpy(base + t.down_off, t.down.data(), bytes, cudaMemcpyHostToDevice));
    dw->layers[l].gate_tab = reinterpret_cast<const DMat*>(base + t.gate_off);
    dw->layers[l].up_tab = reinterpret_cast<const DMat*>(base + t.up_off);
    dw->layers[l].down_tab = reinterpret_cast<const DMat*>(base + t.down_off);
  }
  dw->bytes = static_cast<int64_t>(p.total());
  return dw;
}

Result<DMat> upload_matrix(const ops::Matrix& m, DeviceBuffer& data, DeviceBuffer& scale) {
  DSV3_ASSIGN_OR_RETURN(MatrixBytes b, describe(m, "matrix"));
  DMat v = b.view;
  if (b.data_bytes) {
    DSV3_RETURN_IF_ERROR(data.reserve(b.data_bytes));
    DSV3_CUDA_TRY(cudaMemcpy(data.get(), b.data, b.data_bytes, cudaMemcpyHostToDevice));
    v.data = data.get();
  }
  if (b.scale_bytes) {
    DSV3_RETURN_IF_ERROR(scale.reserve(b.scale_bytes));
    DSV3_CUDA_TRY(cudaMemcpy(scale.get(), b.scale, b.scale_bytes, cudaMemcpyHostToDevice));
    v.scale = scale.as<const float>();
  }
  return v;
}

}  // namespace dsv3::cuda
