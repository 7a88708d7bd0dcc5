#include "model/gguf_config.h"

#include <fmt/format.h>

#include <cmath>

namespace dsv3 {

using nlohmann::json;

namespace {

class Keys {
 public:
  Keys(const GgufFile& f, std::string arch) : f_(f), arch_(std::move(arch)) {}

  // ARCH.<key>: an unsigned integer, or `fallback` when absent (required: an error).
  Result<int64_t> integer(const std::string& key, std::optional<int64_t> fallback = std::nullopt) const {
    const json* v = f_.find_key(arch_ + "." + key);
    if (v == nullptr) {
      if (fallback) return *fallback;
      return make_error("{}: missing key {}.{}", f_.name(), arch_, key);
    }
    if (!v->is_number_integer() || v->get<int64_t>() < 0)
      return make_error("{}: key {}.{} must be a non-negative integer (got {})", f_.name(), arch_, key, gguf_value_text(*v));
    return v->get<int64_t>();
  }
  Result<double> number(const std::string& key, std::optional<double> fallback = std::nullopt) const {
    const json* v = f_.find_key(arch_ + "." + key);
    if (v == nullptr) {
      if (fallback) return *fallback;
      return make_error("{}: missing key {}.{}", f_.name(), arch_, key);
    }
    if (!v->is_number() || !std::isfinite(v->get<double>()))
      return make_error("{}: key {}.{} must be a number (got {})", f_.name(), arch_, key, gguf_value_text(*v));
    return v->get<double>();
  }
  Result<bool> boolean(const std::string& key, bool fallback) const {
    const json* v = f_.find_key(arch_ + "." + key);
    if (v == nullptr) return fallback;
    if (!v->is_boolean()) return make_error("{}: key {}.{} must be a bool (got {})", f_.name(), arch_, key, gguf_value_text(*v));
    return v->get<bool>();
  }
  const json* raw(const std::string& key) const { return f_.find_key(arch_ + "." + key); }

 private:
  const GgufFile& f_;
  std::string arch_;
};

}  // namespace

Result<json> gguf_config_json(const GgufFile& f) {
  const json* arch = f.find_key("general.architecture");
  if (arch == nullptr) return make_error("{}: missing key general.architecture", f.name());
  if (!arch->is_string() || arch->get<std::string>() != "deepseek2")
    return make_error("{}: architecture {} is not supported (deepseek2: DeepSeek-V2/V3 and their kind)", f.name(),
                      gguf_value_text(*arch));
  const Keys k(f, "deepseek2");
  json c = json::object();
  DSV3_ASSIGN_OR_RETURN(const int64_t layers, k.integer("block_count"));
  DSV3_ASSIGN_OR_RETURN(const int64_t nextn, k.integer("nextn_predict_layers", 0));
  if (nextn > layers) return make_error("{}: nextn_predict_layers ({}) exceeds block_count ({})", f.name(), nextn, layers);
  c["num_hidden_layers"] = layers - nextn;  // block_count counts the MTP blocks too
  c["num_nextn_predict_layers"] = nextn;
  DSV3_ASSIGN_OR_RETURN(c["hidden_size"], k.integer("embedding_length"));
  DSV3_ASSIGN_OR_RETURN(c["intermediate_size"], k.integer("feed_forward_length"));
  DSV3_ASSIGN_OR_RETURN(c["num_attention_heads"], k.integer("attention.head_count"));
  DSV3_ASSIGN_OR_RETURN(const int64_t q_lora, k.integer("attention.q_lora_rank", 0));
  c["q_lora_rank"] = q_lora > 0 ? json(q_lora) : json(nullptr);
  DSV3_ASSIGN_OR_RETURN(const int64_t kv_lora, k.integer("attention.kv_lora_rank"));
  c["kv_lora_rank"] = kv_lora;
  DSV3_ASSIGN_OR_RETURN(const int64_t rope, k.integer("rope.dimension_count"));
  c["qk_rope_head_dim"] = rope;
  // key_length_mla / value_length_mla: the per-head sizes (newer files, where
  // key_length is the latent's); older files give them as key/value_length
  int64_t key = 0, value = 0;
  if (k.raw("attention.key_length_mla") != nullptr) {
    DSV3_ASSIGN_OR_RETURN(key, k.integer("attention.key_length_mla"));
    DSV3_ASSIGN_OR_RETURN(value, k.integer("attention.value_length_mla"));
  } else {
    DSV3_ASSIGN_OR_RETURN(key, k.integer("attention.key_length"));
    DSV3_ASSIGN_OR_RETURN(value, k.integer("attention.value_length"));
  }
  if (key <= rope) return make_error("{}: attention key length {} must exceed rope.dimension_count {}", f.name(), key, rope);
  c["qk_nope_head_dim"] = key - rope;
  c["v_head_dim"] = value;
  DSV3_ASSIGN_OR_RETURN(const int64_t experts, k.integer("expert_count", 0));
  c["n_routed_experts"] = experts;
  if (experts > 0) {
    DSV3_ASSIGN_OR_RETURN(c["moe_intermediate_size"], k.integer("expert_feed_forward_length"));
    DSV3_ASSIGN_OR_RETURN(c["num_experts_per_tok"], k.integer("expert_used_count"));
    DSV3_ASSIGN_OR_RETURN(c["n_shared_experts"], k.integer("expert_shared_count", 0));
    DSV3_ASSIGN_OR_RETURN(c["n_group"], k.integer("expert_group_count", 1));
    DSV3_ASSIGN_OR_RETURN(c["topk_group"], k.integer("expert_group_used_count", 1));
    DSV3_ASSIGN_OR_RETURN(c["routed_scaling_factor"], k.number("expert_weights_scale", 1.0));
    DSV3_ASSIGN_OR_RETURN(c["norm_topk_prob"], k.boolean("expert_weights_norm", false));
    // 1: softmax (DeepSeek-V2), 2: sigmoid (V3); absent means softmax to llama.cpp
    DSV3_ASSIGN_OR_RETURN(const int64_t gating, k.integer("expert_gating_func", 1));
    c["scoring_func"] = gating == 2 ? "sigmoid" : gating == 1 ? "softmax" : fmt::format("gating function {}", gating);
    c["topk_method"] = "noaux_tc";
  }
  DSV3_ASSIGN_OR_RETURN(c["first_k_dense_replace"], k.integer("leading_dense_block_count", 0));
  DSV3_ASSIGN_OR_RETURN(c["rms_norm_eps"], k.number("attention.layer_norm_rms_epsilon", 1e-6));
  DSV3_ASSIGN_OR_RETURN(c["rope_theta"], k.number("rope.freq_base", 10000.0));
  DSV3_ASSIGN_OR_RETURN(c["max_position_embeddings"], k.integer("context_length", 4096));
  if (const json* t = k.raw("rope.scaling.type"); t != nullptr && *t != "none") {
    if (*t != "yarn") return make_error("{}: rope scaling type {} is not supported (yarn or none)", f.name(), gguf_value_text(*t));
    json rs{{"type", "yarn"}};
    DSV3_ASSIGN_OR_RETURN(rs["factor"], k.number("rope.scaling.factor"));
    DSV3_ASSIGN_OR_RETURN(rs["original_max_position_embeddings"], k.integer("rope.scaling.original_context_length"));
    DSV3_ASSIGN_OR_RETURN(rs["beta_fast"], k.number("rope.scaling.yarn_beta_fast", 32.0));
    DSV3_ASSIGN_OR_RETURN(rs["beta_slow"], k.number("rope.scaling.yarn_beta_slow", 1.0));
    // llama.cpp keeps 0.1 * mscale_all_dim and assumes mscale == mscale_all_dim
    // (so the attention-factor ratio is 1), as in DeepSeek-V3's release
    if (k.raw("rope.scaling.yarn_log_multiplier") != nullptr) {
      DSV3_ASSIGN_OR_RETURN(const double mul, k.number("rope.scaling.yarn_log_multiplier"));
      rs["mscale"] = mul / 0.1;
      rs["mscale_all_dim"] = mul / 0.1;
    }
    c["rope_scaling"] = rs;
  }
  // token ids: the vocabulary's size and its special tokens
  if (const json* tokens = f.find_key("tokenizer.ggml.tokens"); tokens != nullptr && tokens->is_array())
    c["vocab_size"] = tokens->size();
  DSV3_ASSIGN_OR_RETURN(const int64_t vocab, k.integer("vocab_size", c.value("vocab_size", int64_t{0})));
  c["vocab_size"] = vocab;
  for (const char* id : {"bos", "eos"}) {
    const json* v = f.find_key(fmt::format("tokenizer.ggml.{}_token_id", id));
    if (v == nullptr) continue;
    if (!v->is_number_integer()) return make_error("{}: key tokenizer.ggml.{}_token_id must be an integer", f.name(), id);
    c[fmt::format("{}_token_id", id)] = *v;
  }
  c["tie_word_embeddings"] = f.find_tensor("output.weight") == nullptr;
  return c;
}

Result<ModelConfig> gguf_config(const GgufFile& f) {
  DSV3_ASSIGN_OR_RETURN(const json c, gguf_config_json(f));
  return parse_config(c.dump(), f.name() + " (GGUF metadata)");
}

}  // namespace dsv3
