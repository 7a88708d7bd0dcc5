#include "model/weights.h"

namespace dsv3 {

namespace {

class Binder {
 public:
  Binder(const Checkpoint& ckpt, const ModelConfig& cfg, const Shard& shard)
      : ckpt_(ckpt), cfg_(cfg), shard_(shard) {}

  Result<const TensorView*> tensor(const std::string& name) const {
    const TensorView* t = ckpt_.find(name);
    if (t == nullptr) return make_error("{}: missing tensor {}", ckpt_.dir(), name);
    return t;
  }

  Result<ops::Matrix> matrix(const std::string& name, int64_t rows, int64_t cols) const {
    DSV3_ASSIGN_OR_RETURN(const TensorView* t, tensor(name));
    const std::vector<int64_t> want{rows, cols};
    if (t->shape != want)
      return make_error("{}: tensor {}: shape {} != expected {}", *t->file, name, shape_str(t->shape), shape_str(want));
    ops::Matrix m;
    m.dtype = t->dtype;
    m.rows = rows;
    m.cols = cols;
    m.data = t->data;
    switch (t->dtype) {
      case DType::F32:
      case DType::BF16:
      case DType::F16:
        return m;
      case DType::F8_E4M3:
        break;
      default:
        if (is_block_format(t->dtype)) return m;  // ggml's formats (GGUF): scales inside the blocks
        return make_error("{}: tensor {}: dtype {} is not a weight type", *t->file, name, dtype_name(t->dtype));
    }
    // FP8: block multipliers in <name>_scale_inv, one per block (edge blocks partial)
    const int64_t block = cfg_.fp8_block_rows > 0 ? cfg_.fp8_block_rows : 128;
    if (cfg_.fp8_block_cols > 0 && cfg_.fp8_block_cols != block)
      return make_error("{}: tensor {}: non-square fp8 blocks {}x{} are not supported", *t->file, name, block,
                        cfg_.fp8_block_cols);
    const std::string sname = name + "_scale_inv";
    DSV3_ASSIGN_OR_RETURN(const TensorView* s, tensor(sname));
    const std::vector<int64_t> swant{(rows + block - 1) / block, (cols + block - 1) / block};
    if (s->dtype != DType::F32)
      return make_error("{}: tensor {}: dtype {} != expected F32", *s->file, sname, dtype_name(s->dtype));
    if (s->shape != swant)
      return make_error("{}: tensor {}: shape {} != expected {}", *s->file, sname, shape_str(s->shape), shape_str(swant));
    m.block = block;
    m.block_scale = reinterpret_cast<const float*>(s->data);
    m.scale_cols = swant[1];
    return m;
  }

  Result<std::vector<float>> vector(const std::string& name, int64_t n) const {
    DSV3_ASSIGN_OR_RETURN(const TensorView* t, tensor(name));
    if (t->shape != std::vector<int64_t>{n})
      return make_error("{}: tensor {}: shape {} != expected [{}]", *t->file, name, shape_str(t->shape), n);
    ops::Matrix m;
    m.dtype = t->dtype;
    m.rows = 1;
    m.cols = n;
    m.data = t->data;
    if (t->dtype != DType::F32 && t->dtype != DType::BF16 && t->dtype != DType::F16)
      return make_error("{}: tensor {}: dtype {} is not supported for a vector", *t->file, name, dtype_name(t->dtype));
    std::vector<float> v(n);
    ops::dequantize_row(m, 0, v.data());
    return v;
  }

  Result<SwiGluWeights> swiglu(const std::string& p, int64_t width) const {
    SwiGluWeights w;
    const int64_t h = cfg_.hidden_size;
    DSV3_ASSIGN_OR_RETURN(w.gate, matrix(p + "gate_proj.weight", width, h));
    DSV3_ASSIGN_OR_RETURN(w.up, matrix(p + "up_proj.weight", width, h));
    DSV3_ASSIGN_OR_RETURN(w.down, matrix(p + "down_proj.weight", h, width));
    return w;
  }

  Result<LayerWeights> layer(int64_t i, bool is_moe) const {
    const ModelConfig& c = cfg_;
    const std::string p = fmt::format("model.layers.{}.", i);
    const int64_t h = c.hidden_size, nh = c.num_attention_heads;
    LayerWeights l;
    DSV3_ASSIGN_OR_RETURN(l.attn_norm, vector(p + "input_layernorm.weight", h));
    DSV3_ASSIGN_OR_RETURN(l.mlp_norm, vector(p + "post_attention_layernorm.weight", h));
    const std::string a = p + "self_attn.";
    AttentionWeights& at = l.attn;
    at.q_lora = c.q_lora_rank > 0;
    if (at.q_lora) {
      DSV3_ASSIGN_OR_RETURN(at.q_a, matrix(a + "q_a_proj.weight", c.q_lora_rank, h));
      DSV3_ASSIGN_OR_RETURN(at.q_a_norm, vector(a + "q_a_layernorm.weight", c.q_lora_rank));
      DSV3_ASSIGN_OR_RETURN(at.q_b, matrix(a + "q_b_proj.weight", nh * c.qk_head_dim(), c.q_lora_rank));
    } else {
      DSV3_ASSIGN_OR_RETURN(at.q, matrix(a + "q_proj.weight", nh * c.qk_head_dim(), h));
    }
    DSV3_ASSIGN_OR_RETURN(at.kv_a, matrix(a + "kv_a_proj_with_mqa.weight", c.cache_width(), h));
    DSV3_ASSIGN_OR_RETURN(at.kv_a_norm, vector(a + "kv_a_layernorm.weight", c.kv_lora_rank));
    if (ckpt_.find(a + "kv_b_proj.weight") == nullptr && ckpt_.find(a + "k_b_proj.weight") != nullptr) {
      at.split_kv_b = true;
      DSV3_ASSIGN_OR_RETURN(at.k_b, matrix(a + "k_b_proj.weight", nh * c.kv_lora_rank, c.qk_nope_head_dim));
      DSV3_ASSIGN_OR_RETURN(at.v_b, matrix(a + "v_b_proj.weight", nh * c.v_head_dim, c.kv_lora_rank));
    } else {
      DSV3_ASSIGN_OR_RETURN(at.kv_b, matrix(a + "kv_b_proj.weight", nh * (c.qk_nope_head_dim + c.v_head_dim), c.kv_lora_rank));
    }
    DSV3_ASSIGN_OR_RETURN(at.o, matrix(a + "o_proj.weight", h, nh * c.v_head_dim));
    at.heads = nh;
    if (shard_.tensor_parallel()) keep_heads(at, plan_shard(c, shard_, at.o.col_granule()).heads);
    const std::string m = p + "mlp.";
    l.is_moe = is_moe;
    if (!is_moe) {
      DSV3_ASSIGN_OR_RETURN(l.mlp, swiglu(m, c.intermediate_size));
      if (shard_.tensor_parallel())
        l.mlp = keep_columns(l.mlp, plan_shard(c, shard_, l.mlp.down.col_granule()).dense_width);
      return l;
    }
    MoeWeights& moe = l.moe;
    DSV3_ASSIGN_OR_RETURN(moe.router, matrix(m + "gate.weight", c.n_routed_experts, h));
    if (ckpt_.find(m + "gate.e_score_correction_bias") != nullptr || c.topk_method == "noaux_tc") {
      DSV3_ASSIGN_OR_RETURN(moe.router_bias, vector(m + "gate.e_score_correction_bias", c.n_routed_experts));
    }
    moe.experts.reserve(c.n_routed_experts);
    moe.owned = plan_shard(c, shard_, 1).experts;
    for (int64_t e = 0; e < c.n_routed_experts; ++e) {
      DSV3_ASSIGN_OR_RETURN(SwiGluWeights ew, swiglu(fmt::format("{}experts.{}.", m, e), c.moe_intermediate_size));
      moe.experts.push_back(moe.owned.contains(e) ? ew : SwiGluWeights{});  // checked, not kept
    }
    if (c.n_shared_experts > 0) {
      DSV3_ASSIGN_OR_RETURN(moe.shared, swiglu(m + "shared_experts.", c.moe_intermediate_size * c.n_shared_experts));
      const ShardPlan plan = plan_shard(c, shard_, moe.shared.down.col_granule());
      if (shard_.tensor_parallel()) moe.shared = keep_columns(moe.shared, plan.shared_width);
      moe.has_shared = plan.shared_here;
      if (!moe.has_shared) moe.shared = {};
    }
    return l;
  }

  Result<MtpWeights> mtp(int64_t i) const {
    const ModelConfig& c = cfg_;
    const std::string p = fmt::format("model.layers.{}.", i);
    const int64_t h = c.hidden_size;
    MtpWeights w;
    DSV3_ASSIGN_OR_RETURN(w.layer, layer(i, c.n_routed_experts > 0));
    DSV3_ASSIGN_OR_RETURN(w.enorm, vector(p + "enorm.weight", h));
    DSV3_ASSIGN_OR_RETURN(w.hnorm, vector(p + "hnorm.weight", h));
    DSV3_ASSIGN_OR_RETURN(w.eh_proj, matrix(p + "eh_proj.weight", h, 2 * h));
    DSV3_ASSIGN_OR_RETURN(w.head_norm, vector(p + "shared_head.norm.weight", h));
    // the release stores the head and embedding with each MTP layer; fall back to the main ones
    if (ckpt_.find(p + "shared_head.head.weight") != nullptr) {
      DSV3_ASSIGN_OR_RETURN(w.head, matrix(p + "shared_head.head.weight", c.vocab_size, h));
    }
    if (ckpt_.find(p + "embed_tokens.weight") != nullptr) {
      DSV3_ASSIGN_OR_RETURN(w.embed, matrix(p + "embed_tokens.weight", c.vocab_size, h));
    }
    return w;
  }

  // Tensor parallelism: heads [r.begin, r.end) of the attention.
  void keep_heads(AttentionWeights& at, IndexRange r) const {
    const ModelConfig& c = cfg_;
    const int64_t k = r.size(), h0 = r.begin;
    if (at.q_lora)
      at.q_b = at.q_b.row_slice(h0 * c.qk_head_dim(), k * c.qk_head_dim());
    else
      at.q = at.q.row_slice(h0 * c.qk_head_dim(), k * c.qk_head_dim());
    if (at.split_kv_b) {
      at.k_b = at.k_b.row_slice(h0 * c.kv_lora_rank, k * c.kv_lora_rank);
      at.v_b = at.v_b.row_slice(h0 * c.v_head_dim, k * c.v_head_dim);
    } else {
      const int64_t per = c.qk_nope_head_dim + c.v_head_dim;
      at.kv_b = at.kv_b.row_slice(h0 * per, k * per);
    }
    at.o = k > 0 ? at.o.col_slice(h0 * c.v_head_dim, k * c.v_head_dim) : ops::Matrix{};
    at.heads = k;
  }

  // Tensor parallelism: intermediate columns [r.begin, r.end) of an MLP.
  static SwiGluWeights keep_columns(const SwiGluWeights& w, IndexRange r) {
    if (r.size() == 0) return {};
    return {w.gate.row_slice(r.begin, r.size()), w.up.row_slice(r.begin, r.size()),
            w.down.col_slice(r.begin, r.size())};
  }

 private:
  const Checkpoint& ckpt_;
  const ModelConfig& cfg_;
  Shard shard_;
};

}  // namespace

Result<Weights> bind_weights(const Checkpoint& ckpt, const ModelConfig& cfg, const Shard& shard) {
  DSV3_RETURN_IF_ERROR(check_shard(cfg, shard));
  Binder b(ckpt, cfg, shard);
  Weights w;
  DSV3_ASSIGN_OR_RETURN(w.embed, b.matrix("model.embed_tokens.weight", cfg.vocab_size, cfg.hidden_size));
  w.layers.reserve(cfg.num_hidden_layers);
  for (int64_t i = 0; i < cfg.num_hidden_layers; ++i) {
    DSV3_ASSIGN_OR_RETURN(LayerWeights l, b.layer(i, cfg.is_moe_layer(i)));
    w.layers.push_back(std::move(l));
  }
  DSV3_ASSIGN_OR_RETURN(w.final_norm, b.vector("model.norm.weight", cfg.hidden_size));
  if (ckpt.find("lm_head.weight") == nullptr && cfg.tie_word_embeddings) {
    w.lm_head = w.embed;
  } else {
    DSV3_ASSIGN_OR_RETURN(w.lm_head, b.matrix("lm_head.weight", cfg.vocab_size, cfg.hidden_size));
  }
  w.vocab = plan_shard(cfg, shard, 1).vocab;
  w.head_here = plan_shard(cfg, shard, 1).head_here;
  if (shard.tensor_parallel()) w.lm_head = w.lm_head.row_slice(w.vocab.begin, w.vocab.size());
  for (int64_t k = 0; k < cfg.num_nextn_predict_layers; ++k) {
    const int64_t i = cfg.num_hidden_layers + k;
    // MTP weights are optional: many conversions drop them
    if (ckpt.find(fmt::format("model.layers.{}.eh_proj.weight", i)) == nullptr) break;
    DSV3_ASSIGN_OR_RETURN(MtpWeights m, b.mtp(i));
    w.mtp.push_back(std::move(m));
  }
  return w;
}

namespace {
int64_t mparams(const ops::Matrix& m) { return m.rows * m.cols; }
struct Tally {
  int64_t params = 0, bytes = 0;
  void add(const ops::Matrix& m) {
    params += mparams(m);
    bytes += matrix_bytes(m);
  }
  void add(const std::vector<float>& v, DType stored = DType::BF16) {
    params += static_cast<int64_t>(v.size());
    bytes += static_cast<int64_t>(v.size() * dtype_size(stored));
  }
  void add(const SwiGluWeights& s) {
    add(s.gate);
    add(s.up);
    add(s.down);
  }
};
// Everything in a layer but the routed experts.
void tally_layer_common(const LayerWeights& l, Tally& t) {
  t.add(l.attn_norm);
  t.add(l.mlp_norm);
  const AttentionWeights& a = l.attn;
  if (a.q_lora) {
    t.add(a.q_a);
    t.add(a.q_a_norm);
    t.add(a.q_b);
  } else {
    t.add(a.q);
  }
  t.add(a.kv_a);
  t.add(a.kv_a_norm);
  if (a.split_kv_b) {
    t.add(a.k_b);
    t.add(a.v_b);
  } else {
    t.add(a.kv_b);
  }
  t.add(a.o);
  if (!l.is_moe) {
    t.add(l.mlp);
    return;
  }
  t.add(l.moe.router);
  t.add(l.moe.router_bias, DType::F32);
  if (l.moe.has_shared) t.add(l.moe.shared);
}
}  // namespace

int64_t matrix_bytes(const ops::Matrix& m) {
  int64_t b = m.stored_bytes();
  if (m.block_scale != nullptr) b += ((m.rows + m.block - 1) / m.block) * ((m.cols + m.block - 1) / m.block) * 4;
  return b;
}

WeightStats weight_stats(const Weights& w, const ModelConfig& cfg) {
  Tally total, active;
  total.add(w.embed);
  active.params += cfg.hidden_size;  // one embedding row
  active.bytes += w.embed.row_bytes();
  for (const auto& l : w.layers) {
    tally_layer_common(l, total);
    tally_layer_common(l, active);
    if (!l.is_moe) continue;
    for (const auto& e : l.moe.experts) total.add(e);
    // a rank's expected share of a token's experts: top_k of them, spread evenly
    if (l.moe.owned.size() > 0 && cfg.n_routed_experts > 0) {
      Tally one;
      one.add(l.moe.experts[static_cast<std::size_t>(l.moe.owned.begin)]);
      active.params += one.params * cfg.num_experts_per_tok * l.moe.owned.size() / cfg.n_routed_experts;
      active.bytes += one.bytes * cfg.num_experts_per_tok * l.moe.owned.size() / cfg.n_routed_experts;
    }
  }
  total.add(w.final_norm);
  active.add(w.final_norm);
  if (w.head_here) {
    if (w.lm_head.data != w.embed.data || w.lm_head.rows != w.embed.rows) total.add(w.lm_head);
    active.add(w.lm_head);
  }
  WeightStats s{total.params, total.bytes, active.params, active.bytes, 0, 0};
  Tally mtp;
  for (const auto& m : w.mtp) {
    tally_layer_common(m.layer, mtp);
    for (const auto& e : m.layer.moe.experts) mtp.add(e);
    mtp.add(m.eh_proj);
    if (m.head.data) mtp.add(m.head);
    if (m.embed.data) mtp.add(m.embed);
  }
  s.mtp_params = mtp.params;
  s.mtp_bytes = mtp.bytes;
  return s;
}

}  // namespace dsv3
