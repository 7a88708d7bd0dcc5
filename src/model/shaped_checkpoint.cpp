// Checkpoint::shaped: the tensors a DeepSeek-V3 checkpoint of a config holds,
// by name and shape, as the official release stores them.
#include <algorithm>

#include "model/checkpoint.h"

namespace dsv3 {

Checkpoint Checkpoint::shaped(const ModelConfig& c, const std::string& where) {
  Checkpoint k;
  k.dir_ = where;
  k.gguf_paths_.push_back(where);
  const std::string* file = &k.gguf_paths_.back();
  const bool fp8 = c.fp8_block_rows > 0;
  const int64_t block = fp8 ? c.fp8_block_rows : 128;
  k.zeros_.assign(static_cast<std::size_t>(std::max({c.hidden_size, c.q_lora_rank, c.kv_lora_rank,
                                                     c.n_routed_experts, int64_t{1}})),
                  0.0f);
  const auto add = [&](const std::string& name, DType dtype, std::vector<int64_t> shape, const void* data) {
    TensorView& v = k.gguf_views_.emplace_back();
    v.name = name;
    v.dtype = dtype;
    v.shape = std::move(shape);
    v.data = static_cast<const std::byte*>(data);
    v.nbytes = static_cast<std::size_t>(v.numel() * static_cast<int64_t>(dtype_size(dtype)));
    v.file = file;
    k.by_name_[name] = &v;
  };
  const auto vec = [&](const std::string& name, int64_t n) { add(name, DType::F32, {n}, k.zeros_.data()); };
  // linear weights: fp8 with a scale per block where the config says so
  const auto mat = [&](const std::string& name, int64_t rows, int64_t cols, bool quantized = true) {
    if (!fp8 || !quantized) return add(name, DType::BF16, {rows, cols}, nullptr);
    add(name, DType::F8_E4M3, {rows, cols}, nullptr);
    add(name + "_scale_inv", DType::F32, {(rows + block - 1) / block, (cols + block - 1) / block}, nullptr);
  };
  const auto mlp = [&](const std::string& p, int64_t width) {
    mat(p + "gate_proj.weight", width, c.hidden_size);
    mat(p + "up_proj.weight", width, c.hidden_size);
    mat(p + "down_proj.weight", c.hidden_size, width);
  };
  const int64_t h = c.hidden_size, nh = c.num_attention_heads;
  mat("model.embed_tokens.weight", c.vocab_size, h, false);
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) {
    const std::string p = fmt::format("model.layers.{}.", i), a = p + "self_attn.", m = p + "mlp.";
    vec(p + "input_layernorm.weight", h);
    vec(p + "post_attention_layernorm.weight", h);
    if (c.q_lora_rank > 0) {
      mat(a + "q_a_proj.weight", c.q_lora_rank, h);
      vec(a + "q_a_layernorm.weight", c.q_lora_rank);
      mat(a + "q_b_proj.weight", nh * c.qk_head_dim(), c.q_lora_rank);
    } else {
      mat(a + "q_proj.weight", nh * c.qk_head_dim(), h);
    }
    mat(a + "kv_a_proj_with_mqa.weight", c.cache_width(), h);
    vec(a + "kv_a_layernorm.weight", c.kv_lora_rank);
    mat(a + "kv_b_proj.weight", nh * (c.qk_nope_head_dim + c.v_head_dim), c.kv_lora_rank);
    mat(a + "o_proj.weight", h, nh * c.v_head_dim);
    if (!c.is_moe_layer(i)) {
      mlp(m, c.intermediate_size);
      continue;
    }
    mat(m + "gate.weight", c.n_routed_experts, h, false);
    vec(m + "gate.e_score_correction_bias", c.n_routed_experts);
    for (int64_t e = 0; e < c.n_routed_experts; ++e) mlp(fmt::format("{}experts.{}.", m, e), c.moe_intermediate_size);
    if (c.n_shared_experts > 0) mlp(m + "shared_experts.", c.moe_intermediate_size * c.n_shared_experts);
  }
  vec("model.norm.weight", h);
  mat("lm_head.weight", c.vocab_size, h, false);
  return k;
}

}  // namespace dsv3
