#include "cuda/device_weights.h"

#include <cstddef>
#include <cstring>
#include <functional>
#include <map>

#include "ops/matrix.h"

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
  if (!m.packed())  // a column slice (ops::Matrix::col_slice): the device kernels read packed rows only
    return make_error("{}: a column slice ({} of {} bytes per stored row) cannot go to the GPU, which reads packed rows only",
                      what, m.row_bytes(), m.row_stride());
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

// A matrix built on the host (owning its bytes) for upload.
struct HostMatrix {
  std::vector<std::byte> data;
  std::vector<float> scale;
  ops::Matrix view;
};

// W_uk(h)^T of every head: kv_b rows h * (nope + vd) + d (d < nope) by lora
// columns become rows h * lora + c by nope columns. The stored values move
// as they are; FP8 keeps its scale blocks where each new block lies in one
// old block (lora, nope + vd and the view's start whole blocks), else the
// values are dequantised to f32.
HostMatrix transposed_heads(const ops::Matrix& kv_b, int64_t heads, int64_t nope, int64_t vd, int64_t lora) {
  HostMatrix t;
  ops::Matrix& v = t.view;
  v.rows = heads * lora;
  v.cols = nope;
  const int64_t b = kv_b.block > 0 ? kv_b.block : 128;
  const bool fp8 = kv_b.dtype == DType::F8_E4M3;
  const bool blocks_kept = fp8 && kv_b.block_scale != nullptr && lora % b == 0 && (nope + vd) % b == 0 && kv_b.row0 % b == 0;
  const bool raw = !fp8 || kv_b.block_scale == nullptr || blocks_kept;  // the stored bytes carry over
  v.dtype = raw ? kv_b.dtype : DType::F32;
  const auto elem = static_cast<int64_t>(dtype_size(v.dtype));
  t.data.resize(static_cast<std::size_t>(v.rows * v.cols * elem));
  std::vector<float> row(static_cast<std::size_t>(lora));
  for (int64_t h = 0; h < heads; ++h)
    for (int64_t d = 0; d < nope; ++d) {
      const int64_t r = h * (nope + vd) + d;  // row of the view
      if (!raw) ops::dequantize_row(kv_b, r, row.data());
      for (int64_t c = 0; c < lora; ++c) {
        std::byte* dst = t.data.data() + ((h * lora + c) * nope + d) * elem;
        if (raw)
          std::memcpy(dst, reinterpret_cast<const std::byte*>(kv_b.row_at(r)) + c * elem, static_cast<std::size_t>(elem));
        else
          std::memcpy(dst, &row[static_cast<std::size_t>(c)], sizeof(float));
      }
    }
  if (blocks_kept) {
    v.block = b;
    v.scale_cols = (nope + b - 1) / b;
    const int64_t scale_rows = (v.rows + b - 1) / b;
    t.scale.resize(static_cast<std::size_t>(scale_rows * v.scale_cols));
    for (int64_t rb = 0; rb < scale_rows; ++rb)
      for (int64_t db = 0; db < v.scale_cols; ++db) {
        const int64_t h = rb * b / lora, c = rb * b % lora, d = db * b;
        const int64_t old_row = kv_b.row0 + h * (nope + vd) + d;
        t.scale[static_cast<std::size_t>(rb * v.scale_cols + db)] =
            kv_b.block_scale[(old_row / b) * kv_b.scale_cols + c / b];
      }
    v.block_scale = t.scale.data();
  }
  v.data = t.data.data();
  return t;
}

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
  std::vector<HostMatrix> uk_t(w.layers.size());  // alive until the planner has copied them
  const ModelConfig& c = model.config;
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
    if (a.split_kv_b)
      return make_error("layer {}: MLA weights split into attn_k_b/attn_v_b (GGUF) are not read by the GPU yet", l);
    DSV3_RETURN_IF_ERROR(p.matrix(a.kv_b, "kv_b_proj", d.kv_b));
    DSV3_RETURN_IF_ERROR(p.matrix(a.o, "o_proj", d.o));
    if (a.kv_b.data != nullptr) {
      uk_t[l] = transposed_heads(a.kv_b, c.num_attention_heads, c.qk_nope_head_dim, c.v_head_dim, c.kv_lora_rank);
      DSV3_RETURN_IF_ERROR(p.matrix(uk_t[l].view, "kv_b_proj (W_uk^T)", d.uk_t));
    }
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
    dw->layers[l].expert_like = t.gate[0];
    for (const std::vector<DMat>* tab : {&t.gate, &t.up, &t.down})
      for (const DMat& m : *tab)
        if (m.dtype != t.gate[0].dtype || (m.scale == nullptr) != (t.gate[0].scale == nullptr) ||
            m.block != t.gate[0].block)
          dw->layers[l].expert_like.dtype = kF16;  // mixed: no product that needs one description (F16 is never one)
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
